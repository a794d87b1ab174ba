"""Shared by the tests: imports polysock from this checkout, bounded
threads, temporary Unix paths, and an IPv6 check. Every wait is bounded:
sockets get WAIT seconds of timeout, threads are joined with a limit."""

import os
import shutil
import socket as std
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import polysock  # noqa: E402

#: The timeout every test socket gets, so that no test can hang.
WAIT = 10.0


def ipv6_loopback():
    """Whether ::1 can be bound here (by the standard library)."""
    if not std.has_ipv6:
        return False
    try:
        with std.socket(std.AF_INET6, std.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAVE_IPV6 = ipv6_loopback()
LINUX = sys.platform.startswith("linux")
skip_no_ipv6 = unittest.skipUnless(HAVE_IPV6, "::1 is not available here")


class Thread:
    """Runs fn(*args) in a thread; result() joins within a limit and
    re-raises what the thread raised."""

    def __init__(self, fn, *args):
        self._value = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
        except BaseException as e:  # reported by result()
            self._error = e

    def result(self, limit=WAIT * 2):
        self._thread.join(limit)
        if self._thread.is_alive():
            raise AssertionError("thread still running after %s s" % limit)
        if self._error is not None:
            raise self._error
        return self._value


def echo_one(listener):
    """Accepts one connection on `listener` and echoes until end of stream;
    returns the number of bytes echoed."""
    conn, _ = listener.accept()
    total = 0
    with conn:
        conn.settimeout(WAIT)
        while True:
            data = conn.recv(65536)
            if not data:
                return total
            conn.sendall(data)
            total += len(data)


def recv_exactly(sock, n):
    chunks = []
    while n:
        data = sock.recv(min(n, 65536))
        if not data:
            raise AssertionError("end of stream with %d bytes missing" % n)
        chunks.append(data)
        n -= len(data)
    return b"".join(chunks)


class TempDirCase(unittest.TestCase):
    """A test case with a fresh temporary directory, self.dir."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="polysock-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)


def listener(family=None, host="127.0.0.1", module=polysock):
    """A listening TCP socket on an ephemeral loopback port."""
    family = module.AF_INET if family is None else family
    s = module.socket(family, module.SOCK_STREAM)
    s.settimeout(WAIT)
    s.bind((host, 0))
    s.listen()
    return s


def closed_port():
    """A loopback port that nothing listens on (bound, then released)."""
    with std.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
