# Stand-in for Zerynth's networking package: eth is a fake interface whose
# resolver answers with the loopback address; socket is polysock.
import socket
