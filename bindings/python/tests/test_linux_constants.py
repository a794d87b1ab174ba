"""The constants CPython's _socket has on Linux, in polysock with the same
values, and the VM socket options CPython reads and writes as 64-bit."""

import sys
import unittest

from support import polysock

LINUX = sys.platform.startswith("linux")


@unittest.skipUnless(LINUX, "Linux's names")
class Constants(unittest.TestCase):
    def test_same_values_as_cpython(self):
        import _socket

        names = [k for k in dir(_socket) if k.isupper() and isinstance(getattr(_socket, k), int)]
        differ = [k for k in names if hasattr(polysock, k)
                  and int(getattr(polysock, k)) != getattr(_socket, k)]
        self.assertEqual(differ, [])

    def test_names_added_for_issue_9(self):
        self.assertEqual(polysock.AF_QIPCRTR, 42)
        self.assertIn("AF_QIPCRTR", polysock.AddressFamily.__members__)
        for name in ("IOCTL_VM_SOCKETS_GET_LOCAL_CID", "SO_VM_SOCKETS_BUFFER_SIZE",
                     "VMADDR_CID_ANY", "TIPC_ADDR_ID", "CAN_RAW", "PACKET_HOST",
                     "NETLINK_ROUTE", "INADDR_ALLHOSTS_GROUP", "NI_MAXSERV"):
            self.assertTrue(hasattr(polysock, name), name)


def vsock():
    try:
        return polysock.socket(polysock.AF_VSOCK, polysock.SOCK_STREAM)
    except (OSError, AttributeError):
        return None


class VsockOptions(unittest.TestCase):
    def test_buffer_sizes_are_64_bit(self):
        s = vsock()
        if s is None:
            self.skipTest("no AF_VSOCK here")
        with s:
            level, opt = polysock.AF_VSOCK, polysock.SO_VM_SOCKETS_BUFFER_MAX_SIZE
            orig = s.getsockopt(level, opt)
            self.assertGreater(orig, 0)
            s.setsockopt(level, opt, orig * 2)
            self.assertEqual(s.getsockopt(level, opt), orig * 2)
            self.assertEqual(len(s.getsockopt(level, opt, 8)), 8)


if __name__ == "__main__":
    unittest.main()
