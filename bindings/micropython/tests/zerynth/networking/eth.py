# Stand-in for Zerynth's ethernet interface: up on loopback; resolve()
# gives 127.0.0.1 for every name (no query leaves the machine).
state = {"started": False, "stopped": False}


def configure(dhcp=True):
    pass


def start():
    state["started"] = True


def info():
    return ("127.0.0.1", "127.0.0.1", "255.0.0.0", "127.0.0.1", "00:00:00:00:00:00")


def resolve(name):
    return "127.0.0.1"


def stop():
    state["stopped"] = True
