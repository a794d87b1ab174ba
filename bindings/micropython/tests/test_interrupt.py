# Ctrl-C during a blocking call: run by tests/run.sh, which sends SIGINT
# once this prints "ready". The call must finish inside polysock (its
# timeout) before KeyboardInterrupt is raised, so the socket is whole
# afterwards: closing it really closes its fd.
import os
import sys
import time
import socket

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
c = socket.socket()
c.connect(srv.getsockname())
a, _ = srv.accept()
fd = a.fileno()
a.settimeout(1500)
print("ready")
t0 = time.ticks_ms()
try:
    a.recv(1)
    print("FAIL no KeyboardInterrupt")
    sys.exit(1)
except KeyboardInterrupt:
    pass
a.close()
try:
    os.stat("/proc/self/fd/%d" % fd)
    print("FAIL fd %d still open after close: the interrupted call left the socket held" % fd)
    sys.exit(1)
except OSError:
    pass
c.close()
srv.close()
print("interrupt ok after %d ms" % time.ticks_diff(time.ticks_ms(), t0))
