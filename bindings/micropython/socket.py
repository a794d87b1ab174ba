# `import socket` gives polysock's Zerynth-style socket module: put this
# directory on sys.path (MICROPYPATH) of a MicroPython built with the
# polysock user C module. MicroPython's own socket module is extensible, so
# a file on the path named socket.py takes its place.
from polysock import *
from polysock import constants as _constants

globals().update(_constants())
del _constants
