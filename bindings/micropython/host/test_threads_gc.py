# The host's own test: the collector must find what other threads hold
# only on their stacks (and in registers) while they wait in a blocking
# call with the GIL released. Threads keep objects in locals, block in
# recv, the main thread allocates and collects meanwhile; the threads then
# check their objects (a socket the collector lost would be closed by its
# finaliser: recv raises EBADF).
#   MICROPYPATH=<bindings/micropython> micropython host/test_threads_gc.py
import gc
import sys
import time
import _thread
import socket

N = 4
done = []
srv = socket.socket()
srv.settimeout(5000)
srv.bind(("127.0.0.1", 0))
srv.listen(N)


def worker(i):
    keep = [bytearray(b"%d" % i * 100) for _ in range(50)]
    d = {"k%d" % j: "v" * j for j in range(100)}
    c = socket.socket()
    c.settimeout(5000)
    c.connect(srv.getsockname())
    try:
        data = bytes(c.recv(4))
    except OSError as e:
        data = repr(e)
    ok = all(bytes(k) == b"%d" % i * 100 for k in keep)
    ok = ok and all(d["k%d" % j] == "v" * j for j in range(100))
    c.close()
    done.append((i, ok and data == b"ping", data))


for i in range(N):
    _thread.start_new_thread(worker, (i,))
conns = [srv.accept()[0] for _ in range(N)]
for _ in range(30):
    junk = [[bytearray(200) for _ in range(100)] for _ in range(20)]
    gc.collect()
for c in conns:
    c.sendall(b"ping")
    c.close()
srv.close()
for _ in range(500):
    if len(done) == N:
        break
    time.sleep_ms(10)
bad = [r for r in done if not r[1]]
if len(done) != N or bad:
    print("threads gc FAILED: %d of %d threads done, wrong: %r" % (len(done), N, bad))
    sys.exit(1)
print("threads gc ok")
