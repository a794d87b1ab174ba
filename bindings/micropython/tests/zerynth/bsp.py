# Stand-in for Zerynth's board support package.
class _Board:
    def init(self):
        pass

    def summary(self):
        print("board: MicroPython unix port (stand-in)")


board = _Board()
