# run_example.py REFERENCE hello|http: runs one of the examples of
# Zerynth's socket reference (REFERENCE, ../shared/reference/004_*.txt)
# unchanged, against a server thread that checks what the example sends.
#   hello: the first example, sendall("Hello World!") to 192.168.1.10:5555
#   http:  the second, an HTTP request to port 80, recv(256) of the answer
import sys
import builtins
import time
import _thread
import socket
from networking import eth

reference, mode = sys.argv[1], sys.argv[2]
# The reference's python blocks; the example is the one that makes a
# socket and talks to this mode's server.
blocks = [b.split("```")[0] for b in open(reference).read().split("```python\n")[1:]]
marker = "192.168.1.10" if mode == "hello" else "from networking import socket"
example = [b for b in blocks if "socket.socket(" in b and marker in b]
if len(example) != 1:
    print("run_example.py: %d examples for %s in %s" % (len(example), mode, reference))
    sys.exit(2)
done = {"ok": False, "why": "the server saw no connection"}


class NetworkGenericError(Exception):
    pass


# What Zerynth's builtins give the examples.
for name in ("SOCK_STREAM", "SOCK_DGRAM", "AF_INET"):
    setattr(builtins, name, getattr(socket, name))
builtins.WIFI_WPA2 = 2
builtins.ConnectionError = OSError
builtins.ConnectionTimeoutError = socket.TimeoutError
builtins.ResolveError = NetworkGenericError
builtins.NetworkGenericError = NetworkGenericError


def sleep(ms):
    # Zerynth's sleep(ms); the examples end in an endless sleep loop, left
    # once the interface was stopped.
    time.sleep_ms(min(ms, 20))
    if eth.state["stopped"]:
        raise SystemExit(0)


builtins.sleep = sleep

host, port = ("192.168.1.10", 5555) if mode == "hello" else ("127.0.0.1", 80)
srv = socket.socket()
srv.settimeout(10000)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(1)
# Exactly the 256 bytes the example reads, so its close ends the stream
# cleanly (unread data would make it a reset).
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"polysock! " * 40)[:256]


def serve():
    conn, _ = srv.accept()
    conn.settimeout(10000)
    if mode == "hello":
        got = conn.recv(12)
        done["why"] = "the server got %r" % bytes(got)
        done["ok"] = got == b"Hello World!"
        conn.close()
        return
    else:
        want = b"GET / HTTP/1.1\nHost: now.zerynth.com\n\n"
        got = conn.recv(len(want))
        ok = got == want
        conn.sendall(ANSWER)
    done["why"] = "the server got %r" % bytes(got)
    conn.settimeout(10000)
    # the example's close (or exit) ends the stream
    rest = conn.recv(1)
    done["ok"] = ok and rest == b""
    if rest:
        done["why"] += " and then %r" % bytes(rest)
    conn.close()


_thread.start_new_thread(serve, ())
try:
    exec(example[0], {"__name__": "__main__"})
except SystemExit:
    pass
for _ in range(500):
    if done["ok"]:
        break
    time.sleep_ms(10)
srv.close()
print("example", mode, "ok" if done["ok"] else "FAILED:", done["why"])
sys.exit(0 if done["ok"] else 1)
