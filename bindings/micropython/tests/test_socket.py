# The MicroPython binding's tests: every call of Zerynth's socket API and
# its bad inputs, then what polysock adds. Loopback and a temp-dir Unix
# path only; every socket has a timeout, so no wait is unbounded.
#   MICROPYPATH=<bindings/micropython> micropython test_socket.py <tmpdir>
import sys
import time
import _thread
import os
import socket
import polysock

TMP = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
LIMIT = 5000  # ms, every test socket's timeout

ETIMEDOUT = socket.ETIMEDOUT
results = {"pass": 0, "fail": 0}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def raises(exc, fn, *args, errno=None, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        if errno is not None:
            check(e.errno == errno, "errno %r, wanted %r (%r)" % (e.errno, errno, e))
        return e
    raise AssertionError("%r did not raise %r" % (fn, exc))


def tcp_pair(family=socket.AF_INET, host="127.0.0.1"):
    srv = socket.socket(family)
    srv.settimeout(LIMIT)
    srv.bind((host, 0))
    srv.listen(1)
    c = socket.socket(family)
    c.settimeout(LIMIT)
    c.connect(srv.getsockname())
    a, peer = srv.accept()
    a.settimeout(LIMIT)
    srv.close()
    return c, a, peer


thread_errors = []


def spawn(fn, *args):
    # A helper thread's failure is recorded (briefly) and fails the run.
    # Returns what join() waits on: a test closes the sockets a helper uses
    # only after it is done (polysock reports a call that a close from
    # another thread overtakes as EBADF).
    done = []

    def run():
        try:
            fn(*args)
        except Exception as e:
            thread_errors.append("%s: %s: %s" % (fn.__name__, type(e).__name__, str(e)[:200]))
        done.append(True)

    _thread.start_new_thread(run, ())
    return done


def join(done):
    for _ in range(1000):
        if done:
            return
        time.sleep_ms(5)
    raise AssertionError("a helper thread did not finish within 5 s")


def later(ms, fn, *args):
    def run():
        time.sleep_ms(ms)
        fn(*args)

    return spawn(run)


# ---- the socket class


def test_create_defaults_and_fileno():
    s = socket.socket()
    fd = s.fileno()
    check(isinstance(fd, int) and fd >= 0, "fileno is an int")
    # defaults: AF_INET, SOCK_STREAM, TCP
    check(s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM, "stream")
    check(s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL) == socket.IPPROTO_TCP, "tcp")
    s.close()
    for kw in ({"type": socket.SOCK_STREAM}, {"type": socket.SOCK_DGRAM},
               {"family": socket.AF_INET, "type": socket.SOCK_STREAM, "proto": socket.IPPROTO_TCP},
               {"family": socket.AF_INET6}, {"family": socket.AF_UNIX}):
        socket.socket(**kw).close()
    u = socket.socket(type=socket.SOCK_DGRAM)
    check(u.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL) == socket.IPPROTO_UDP, "udp")
    u.close()


def test_create_errors_are_ioerror():
    check(socket.IOError is OSError, "IOError is OSError")
    raises(socket.IOError, socket.socket, 12345, errno=socket.EAFNOSUPPORT)
    raises(socket.IOError, socket.socket, socket.AF_INET, 9999)
    # IPPROTO_TCP for a datagram socket, asked for explicitly
    raises(socket.IOError, socket.socket, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_TCP)
    raises(TypeError, socket.socket, "inet")
    raises(TypeError, socket.socket, bogus=1)


def test_fileno_argument():
    raises(OSError, socket.socket, fileno=-1, errno=socket.EBADF)
    f = open(TMP + "/not-a-socket", "w")
    raises(OSError, socket.socket, fileno=f.fileno(), errno=socket.ENOTSOCK)
    f.close()
    os.remove(TMP + "/not-a-socket")
    s = socket.socket()
    # a fd polysock already owns
    raises(OSError, socket.socket, fileno=s.fileno(), errno=socket.EEXIST)
    s.close()


def test_connect_and_errors():
    c, a, peer = tcp_pair()
    check(c.getpeername() == a.getsockname(), "connected to the server")
    check(peer == c.getsockname(), "accept gives the client's address")
    c.close()
    a.close()
    # a port nobody listens on
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    s = socket.socket()
    s.settimeout(LIMIT)
    raises(OSError, s.connect, ("127.0.0.1", port), errno=socket.ECONNREFUSED)
    s.close()
    s = socket.socket()
    raises(TypeError, s.connect, "127.0.0.1")
    raises(TypeError, s.connect, ("127.0.0.1",))
    raises(TypeError, s.connect, ("127.0.0.1", "80"))
    raises(TypeError, s.connect, (127, 80))
    raises(OverflowError, s.connect, ("127.0.0.1", 70000))
    raises(OverflowError, s.connect, ("127.0.0.1", -1))
    raises(ValueError, s.connect, ("no\x00host", 80))
    s.close()


def test_recv_exactly_n():
    c, a, _ = tcp_pair()
    # the peer sends 4 bytes in three pieces, 100 ms apart: recv(4) waits
    # for all of them
    def pieces():
        for p in (b"a", b"bc", b"d"):
            time.sleep_ms(100)
            c.send(p)

    helper = spawn(pieces)
    got = a.recv(4)
    join(helper)
    check(isinstance(got, bytearray), "recv gives a bytearray")
    check(got == bytearray(b"abcd"), "recv(4) got %r" % got)
    c.send(b"xyz")
    check(a.recv(2, 0) == b"xy", "recv with flags")
    check(a.recv(1, socket.MSG_PEEK) == b"z", "MSG_PEEK")
    check(a.recv(1) == b"z", "after peek")
    c.close()
    a.close()


def test_recv_stream_ends_first():
    c, a, _ = tcp_pair()
    c.sendall(b"ab")
    c.close()
    got = a.recv(10)
    check(got == b"ab", "what came before the end: %r" % got)
    check(a.recv(10) == b"", "empty at end of stream")
    a.close()


def test_recv_bad_input():
    c, a, _ = tcp_pair()
    raises(ValueError, a.recv, 0)
    raises(ValueError, a.recv, -5)
    raises(TypeError, a.recv, "4")
    raises(TypeError, a.recv)
    raises(TypeError, a.recv, 4, "flags")
    c.close()
    a.close()


def test_recv_into():
    c, a, _ = tcp_pair()
    buf = bytearray(8)
    helper = later(100, c.sendall, b"12345678")
    check(a.recv_into(buf) == 8 and buf == b"12345678", "fills the buffer")
    join(helper)
    c.sendall(b"abc")
    check(a.recv_into(buf, 3) == 3 and buf == b"abc45678", "bufsize 3")
    c.sendall(b"de")
    check(a.recv_into(buf, 2, 0) == 2 and buf[:2] == b"de", "with flags")
    mv = memoryview(buf)
    c.sendall(b"Z")
    check(a.recv_into(mv[7:]) == 1 and buf[7] == ord("Z"), "into a memoryview slice")
    raises(ValueError, a.recv_into, buf, 9)
    raises(ValueError, a.recv_into, buf, -2)
    raises(TypeError, a.recv_into, b"read-only")
    raises(TypeError, a.recv_into, 5)
    check(a.recv_into(buf, 0) == 0, "bufsize 0")
    c.sendall(b"q")
    c.close()
    check(a.recv_into(buf) == 1 and buf[0] == ord("q"), "short at end of stream")
    check(a.recv_into(buf) == 0, "0 at end of stream")
    a.close()


def test_send_sendall():
    c, a, _ = tcp_pair()
    check(c.send("Hello") == 5, "send a str")
    check(c.send(b" ", 0) == 1, "send bytes with flags")
    check(c.send(bytearray(b"World")) == 5, "send a bytearray")
    check(c.send(b"") == 0, "send nothing")
    check(a.recv(11) == b"Hello World", "what was sent")
    big = bytes(range(256)) * 4096  # 1 MiB: more than one send moves
    def reader():
        got = 0
        while got < len(big):
            got += len(a.recv(min(65536, len(big) - got)))
        a.sendall(b"k")

    helper = spawn(reader)
    check(c.sendall(big) is None, "sendall returns None")
    check(c.recv(1) == b"k", "the peer got all of it")
    join(helper)
    check(c.sendall("", 0) is None, "sendall nothing")
    raises(TypeError, c.send, 42)
    raises(TypeError, c.sendall, None)
    a.close()
    c.close()
    s = socket.socket()
    raises(OSError, s.send, b"x")  # not connected
    raises(OSError, s.sendall, b"x")
    s.close()


def test_udp_sendto_recvfrom():
    r = socket.socket(type=socket.SOCK_DGRAM)
    r.settimeout(LIMIT)
    r.bind(("127.0.0.1", 0))
    s = socket.socket(type=socket.SOCK_DGRAM)
    s.settimeout(LIMIT)
    s.bind(("127.0.0.1", 0))
    check(s.sendto(b"ping", r.getsockname()) == 4, "sendto count")
    data, addr = r.recvfrom(100)
    check(isinstance(data, bytearray) and data == b"ping", "datagram %r" % data)
    check(addr == s.getsockname(), "sender %r" % (addr,))
    check(s.sendto("pong", r.getsockname(), 0) == 4, "sendto a str with flags")
    check(r.recvfrom(2, 0)[0] == b"po", "cut to bufsize")
    # connected UDP: send/recv without an address; others are ignored
    s.connect(r.getsockname())
    r.connect(s.getsockname())
    other = socket.socket(type=socket.SOCK_DGRAM)
    other.sendto(b"stranger", r.getsockname())
    s.send(b"friend")
    check(r.recv(6) == b"friend", "only the connected peer's datagram")
    other.close()
    raises(TypeError, s.sendto, b"x", "127.0.0.1")
    raises(TypeError, s.sendto, b"x")
    raises(OverflowError, s.sendto, b"x", ("127.0.0.1", 65536))
    raises(ValueError, r.recvfrom, 0)
    s.close()
    r.close()


def test_settimeout():
    c, a, _ = tcp_pair()
    a.settimeout(200)
    check(a.gettimeout() == 200, "gettimeout in ms")
    t0 = time.ticks_ms()
    e = raises(socket.TimeoutError, a.recv, 1)
    check(isinstance(e, OSError) and e.errno == ETIMEDOUT, "a TimeoutError is an OSError(ETIMEDOUT)")
    check(time.ticks_diff(time.ticks_ms(), t0) >= 150, "waited about the timeout")
    buf = bytearray(4)
    raises(socket.TimeoutError, a.recv_into, buf)
    # a peer that answers within the timeout
    a.settimeout(2000)
    helper = later(200, c.send, b"late")
    check(a.recv(4) == b"late", "answer after 200 ms within 2000 ms")
    join(helper)
    # 0: non-blocking
    a.settimeout(0)
    check(a.gettimeout() == 0, "0")
    e = raises(OSError, a.recv, 1, errno=socket.EAGAIN)
    check(not isinstance(e, socket.TimeoutError), "would-block is no timeout")
    # None: blocking
    a.settimeout(None)
    check(a.gettimeout() is None, "None")
    c.send(b"x")
    check(a.recv(1) == b"x", "blocking recv")
    raises(ValueError, a.settimeout, -1)
    raises(TypeError, a.settimeout, 1.5)
    raises(TypeError, a.settimeout, "100")
    raises(TypeError, a.settimeout)
    # connect and accept honour it too
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(100)
    raises(socket.TimeoutError, srv.accept)
    srv.close()
    c.close()
    a.close()


def test_close():
    c, a, _ = tcp_pair()
    c.close()
    c.close()  # twice is harmless
    raises(OSError, c.send, b"x", errno=socket.EBADF)
    raises(OSError, c.send, b"", errno=socket.EBADF)
    raises(OSError, c.sendall, b"", errno=socket.EBADF)
    raises(OSError, c.recv, 1, errno=socket.EBADF)
    raises(OSError, c.fileno, errno=socket.EBADF)
    raises(OSError, c.settimeout, 5, errno=socket.EBADF)
    raises(OSError, c.connect, ("127.0.0.1", 1), errno=socket.EBADF)
    check(a.recv(1) == b"", "the peer sees the end")
    with socket.socket() as s:
        check(s.fileno() >= 0, "open inside with")
    raises(OSError, s.fileno, errno=socket.EBADF)
    a.close()


# ---- what polysock adds


def test_ipv6():
    c, a, peer = tcp_pair(socket.AF_INET6, "::1")
    check(len(peer) == 4 and peer[0] == "::1", "IPv6 address %r" % (peer,))
    c.sendall(b"six")
    check(a.recv(3) == b"six", "over ::1")
    c.close()
    a.close()
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.settimeout(LIMIT)
    u.bind(("::1", 0, 0, 0))
    u.sendto(b"d6", u.getsockname())
    data, addr = u.recvfrom(10)
    check(data == b"d6" and addr == u.getsockname(), "IPv6 datagram")
    raises(TypeError, u.sendto, b"x", ("::1", 1, 0, 0, 0))
    u.close()


def test_unix():
    path = TMP + "/mpy.sock"
    try:
        os.remove(path)
    except OSError:
        pass
    srv = socket.socket(socket.AF_UNIX)
    srv.settimeout(LIMIT)
    srv.bind(path)
    srv.listen(1)
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(LIMIT)
    c.connect(path)
    a, _ = srv.accept()
    a.settimeout(LIMIT)
    check(c.getpeername() == path, "peer path")
    c.sendall(b"unix")
    check(a.recv(4) == b"unix", "over a Unix path")
    for s in (a, c, srv):
        s.close()
    os.remove(path)
    raises(TypeError, socket.socket(socket.AF_UNIX).connect, ("127.0.0.1", 1))
    raises(ValueError, socket.socket(socket.AF_UNIX).bind, TMP + "/a\x00b")
    # Linux's abstract names
    name = "@polysock-mpy-%d" % time.ticks_us()
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.settimeout(LIMIT)
    d.bind(name)
    d.sendto(b"abs", name)
    data, addr = d.recvfrom(10)
    check(data == b"abs" and addr == name, "abstract %r" % (addr,))
    d.close()


def test_resolver():
    res = socket.getaddrinfo("127.0.0.1", 80)
    check(len(res) >= 1, "results")
    fam, typ, proto, canon, addr = res[0]
    check(fam == socket.AF_INET and addr == ("127.0.0.1", 80), "numeric %r" % (res[0],))
    res = socket.getaddrinfo("::1", "80", socket.AF_INET6, socket.SOCK_STREAM)
    check(res[0][1] == socket.SOCK_STREAM and res[0][4][:2] == ("::1", 80), "IPv6 %r" % (res,))
    check(len(socket.getaddrinfo("localhost", None, 0, socket.SOCK_DGRAM)) >= 1, "localhost")
    check(socket.gethostbyname("127.0.0.1") == "127.0.0.1", "gethostbyname literal")
    check(socket.gethostbyname("localhost").startswith("127."), "gethostbyname localhost")
    e = raises(OSError, socket.getaddrinfo, "not an address", 80, 0, 0, 0, socket.AI_NUMERICHOST)
    check(e.errno == socket.EAI_NONAME, "EAI_NONAME %r" % e)
    raises(OSError, socket.getaddrinfo, None, None)
    raises(OSError, socket.gethostbyname, "::1")
    raises(TypeError, socket.getaddrinfo, 127, 80)
    raises(TypeError, socket.gethostbyname, None)
    raises(ValueError, socket.gethostbyname, "local\x00host")
    raises(ValueError, socket.getaddrinfo, "local\x00host", 80)
    raises(ValueError, socket.getaddrinfo, "127.0.0.1", "8\x000")


def test_poll():
    c, a, _ = tcp_pair()
    check(socket.poll([(a, socket.POLLIN)], 0) == [], "nothing to read")
    ready = socket.poll([(a, socket.POLLIN), (c, socket.POLLOUT)], 1000)
    check(ready == [(c, socket.POLLOUT)], "writable %r" % ready)
    helper = later(100, c.send, b"r")
    ready = socket.poll([(a, socket.POLLIN)], 2000)
    join(helper)
    check(ready == [(a, socket.POLLIN)], "readable %r" % ready)
    check(a.recv(1) == b"r", "the byte")
    c.close()
    ready = socket.poll([(a, socket.POLLIN)], 1000)
    check(ready and ready[0][1] & socket.POLLIN, "end of stream is readable")
    a.close()
    check(socket.poll([(a, socket.POLLIN)], 1000)[0][1] & socket.POLLNVAL, "closed: POLLNVAL")
    raises(TypeError, socket.poll, [(1, socket.POLLIN)])
    raises(TypeError, socket.poll, [(c,)])
    raises(OSError, socket.poll, [], -2)
    check(socket.poll([], 10) == [], "no sockets: times out")


def test_constants_and_options():
    t = socket.constants()
    check(t["AF_INET"] == socket.AF_INET and t["SO_REUSEADDR"] == socket.SO_REUSEADDR, "table")
    check(polysock.TCP_NODELAY == t["TCP_NODELAY"], "module __getattr__")
    check(polysock.ECONNREFUSED == t["ECONNREFUSED"], "error names")
    raises(AttributeError, lambda: polysock.NOT_A_CONSTANT)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    check(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1, "int option")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
    raises(OSError, s.setsockopt, socket.SOL_SOCKET, 99999, 1)
    raises(TypeError, s.setsockopt, socket.SOL_SOCKET, socket.SO_REUSEADDR, None)
    s.setblocking(False)
    check(s.gettimeout() == 0, "non-blocking")
    s.setblocking(True)
    check(s.gettimeout() is None, "blocking")
    raises(OSError, s.shutdown, socket.SHUT_RDWR)  # not connected
    s.close()
    check(isinstance(socket.version(), str), "version")


def main():
    names = sorted(n for n in globals() if n.startswith("test_"))
    for name in names:
        try:
            globals()[name]()
            results["pass"] += 1
            print("ok  ", name)
        except Exception as e:
            results["fail"] += 1
            print("FAIL", name)
            sys.print_exception(e)
    time.sleep_ms(300)  # let helper threads finish
    for e in thread_errors:
        print("FAIL a helper thread:", e)
        results["fail"] += 1
    print("%d passed, %d failed" % (results["pass"], results["fail"]))
    sys.exit(1 if results["fail"] else 0)


main()
