"""Signals during a blocking call, on whichever backend is loaded (PEP 475,
as CPython's module): a handler that raises ends the call at once with its
exception; one that returns lets the call resume with the time that
remains. Every wait is bounded (timeouts, and a rescue thread for the
calls without one)."""

import contextlib
import signal
import threading
import time
import unittest

from support import polysock

# The rescue thread unblocks a call without a timeout after this long, so a
# backend that does not end it fails the test instead of hanging.
RESCUE = 5.0


class Alarm(Exception):
    pass


def raising(*_):
    signal.setitimer(signal.ITIMER_REAL, 0)
    raise Alarm


def alarm_until_handled(first):
    """SIGALRM after `first` seconds, then every 0.1 s until `raising`
    stops it. A signal that lands while the thread is between system calls
    (likely on a loaded machine) runs no handler until the next blocking
    call ends; the next one then interrupts that call, as the test needs."""
    signal.setitimer(signal.ITIMER_REAL, first, 0.1)


@contextlib.contextmanager
def on_alarm(handler):
    """A connected pair (a 10 s timeout on each end) while `handler`
    handles SIGALRM; the timer off and the old handler back afterwards."""
    old = signal.signal(signal.SIGALRM, handler)
    a, b = polysock.socketpair()
    try:
        with a, b:
            a.settimeout(10)
            b.settimeout(10)
            yield a, b
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def rescue(after, action):
    """Runs action() in a thread `after` seconds on unless the block ended
    first; yields a list that holds True once the rescue ran."""
    done = threading.Event()
    ran = []

    def run():
        if not done.wait(after):
            ran.append(True)
            action()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield ran
    finally:
        done.set()
        t.join(after + 10)


def drain(sock, total):
    def action():
        got = 0
        while got < total:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            got += len(chunk)

    return action


@unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
class Signals(unittest.TestCase):
    def setUp(self):
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals are handled in the main thread")

    def test_raising_handler_ends_timed_waits_at_once(self):
        # Three in a row: assertRaises clears the frames of each exception's
        # traceback, which must not break the backend's next interruption.
        with on_alarm(raising) as (_, b):
            b.settimeout(5)
            calls = (lambda: b.recv(4), lambda: b.recv_into(bytearray(4)),
                     lambda: b.recvfrom(4), lambda: b.recvmsg(4))
            for call in calls:
                alarm_until_handled(0.05)
                start = time.monotonic()
                with self.assertRaises(Alarm):
                    call()
                self.assertLess(time.monotonic() - start, 2.5)
            with self.assertRaises(TimeoutError):  # no signal: its own error
                b.settimeout(0.1)
                b.recv(4)

    def test_returning_handler_resumes_to_the_timeout(self):
        seen = []
        with on_alarm(lambda *_: seen.append(1)) as (_, b):
            b.settimeout(0.5)
            signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
            start = time.monotonic()
            with self.assertRaises(TimeoutError):
                b.recv(4)
            self.assertGreaterEqual(time.monotonic() - start, 0.45)
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.assertGreaterEqual(len(seen), 2)

    def test_raising_handler_ends_a_recv_without_timeout(self):
        with on_alarm(raising) as (a, b):
            b.settimeout(None)
            with rescue(RESCUE, lambda: a.sendall(b"late")) as rescued:
                alarm_until_handled(0.1)
                with self.assertRaises(Alarm):
                    b.recv(4)
            self.assertEqual(rescued, [])

    def test_raising_handler_ends_sendall_after_a_short_send(self):
        # CPython's test_sendall_interrupted: one signal while the first
        # send is blocked after partial progress; send(2) returns the
        # count, and sendall must check the handlers before going on.
        size = 16 << 20
        for timeout in (None, 5):
            with self.subTest(timeout=timeout), on_alarm(raising) as (a, b):
                a.settimeout(timeout)
                with rescue(RESCUE, drain(b, size)) as rescued:
                    alarm_until_handled(0.1)
                    start = time.monotonic()
                    with self.assertRaises(Alarm):
                        a.sendall(b"x" * size)
                    self.assertLess(time.monotonic() - start, RESCUE)
                self.assertEqual(rescued, [])

    def test_returning_handler_lets_sendall_finish(self):
        size = 4 << 20
        seen = []
        with on_alarm(lambda *_: seen.append(1)) as (a, b):
            a.settimeout(None)
            with rescue(0.5, drain(b, size)) as rescued:
                signal.setitimer(signal.ITIMER_REAL, 0.1)
                a.sendall(b"x" * size)
            self.assertEqual(rescued, [True])
        self.assertEqual(seen, [1])


if __name__ == "__main__":
    unittest.main()
