# Stand-in for Zerynth's wireless module: the "access point" is loopback.
class _Wifi:
    def link(self, ssid, security, password):
        print("wifi linked to", ssid)


wifi = _Wifi()
