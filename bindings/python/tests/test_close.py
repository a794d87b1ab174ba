"""close() of a socket whose fd was closed behind its back raises EBADF,
as CPython's, on both backends (and never aborts the process)."""

import errno
import gc
import os
import unittest

from support import polysock


class CloseBehindTheBack(unittest.TestCase):
    def test_close_reports_ebadf_once(self):
        s = polysock.socket(polysock.AF_INET, polysock.SOCK_STREAM)
        os.close(s.fileno())
        with self.assertRaises(OSError) as cm:
            s.close()
        self.assertEqual(cm.exception.errno, errno.EBADF)
        s.close()  # closed now: harmless
        self.assertEqual(s.fileno(), -1)

    def test_plain_close_still_quiet(self):
        a, b = polysock.socketpair()
        a.close()
        b.close()
        b.close()



class SharedFd(unittest.TestCase):
    """socket(fileno=fd) of an fd another socket object owns: both use it,
    closing either closes it, the other then gets EBADF (CPython's)."""

    def test_closing_either_closes_the_fd(self):
        a = polysock.socket(polysock.AF_INET, polysock.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        b = polysock.socket(fileno=a.fileno())
        self.assertEqual(b.fileno(), a.fileno())
        self.assertEqual(b.getsockname(), a.getsockname())
        self.assertEqual((b.family, b.type), (a.family, a.type))
        b.close()
        with self.assertRaises(OSError) as cm:
            a.getsockname()
        self.assertEqual(cm.exception.errno, errno.EBADF)
        with self.assertRaises(OSError) as cm:
            a.close()
        self.assertEqual(cm.exception.errno, errno.EBADF)
        a.close()  # closed now: harmless

    def test_detach_leaves_the_other_working(self):
        a, peer = polysock.socketpair()
        with peer:
            fd = a.fileno()
            b = polysock.socket(fileno=fd)
            c = polysock.socket(fileno=fd)
            self.assertEqual(a.detach(), fd)
            self.assertEqual(c.detach(), fd)
            with b:
                b.sendall(b"still")
                self.assertEqual(peer.recv(5), b"still")
            with self.assertRaises(OSError):
                os.fstat(fd)  # b's close closed it

    def test_last_holder_detaches_for_real(self):
        a = polysock.socket()
        b = polysock.socket(fileno=a.fileno())
        a.detach()
        fd = b.detach()
        self.assertGreaterEqual(fd, 0)
        os.close(fd)  # ours now: polysock let it go

    def test_collected_holder_closes_the_fd(self):
        a = polysock.socket()
        b = polysock.socket(fileno=a.fileno())
        with self.assertWarns(ResourceWarning):
            del b
            gc.collect()
        with self.assertRaises(OSError) as cm:
            a.close()
        self.assertEqual(cm.exception.errno, errno.EBADF)

    def test_init_again_lets_the_shared_handle_go(self):
        a = polysock.socket(polysock.AF_INET, polysock.SOCK_DGRAM)
        b = polysock.socket(fileno=a.fileno())
        with polysock.socket() as c:
            b.__init__(fileno=c.detach())  # closes the shared fd first
            self.assertEqual(b.type, polysock.SOCK_STREAM)
            with self.assertRaises(OSError) as cm:
                a.close()
            self.assertEqual(cm.exception.errno, errno.EBADF)
            b.close()

    def test_bad_fd_still_refused(self):
        a = polysock.socket()
        fd = a.fileno()
        a.close()
        with self.assertRaises(OSError) as cm:
            polysock.socket(fileno=fd)
        self.assertEqual(cm.exception.errno, errno.EBADF)


if __name__ == "__main__":
    unittest.main()
