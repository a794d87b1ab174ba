"""close() of a socket whose fd was closed behind its back raises EBADF,
as CPython's, on both backends (and never aborts the process)."""

import errno
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


if __name__ == "__main__":
    unittest.main()
