# Stand-in for a Zerynth wifi driver.
class _Driver:
    def init(self):
        pass


your_preferred_net_driver = _Driver()
