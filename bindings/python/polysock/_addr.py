"""Python socket addresses <-> polysock's host text and port.

Python's forms, as CPython's socket module takes and gives them:

* AF_INET: ``(host, port)``;
* AF_INET6: ``(host, port, flowinfo, scope_id)`` (2 to 4 items in);
* AF_UNIX: a path (str, bytes or path-like); on Linux an abstract name is
  bytes starting with NUL, ``b"\\0name"``, which polysock's text form
  writes "@name"; the ctypes backend passes AF_UNIX names as the kernel's
  bytes instead (polysock_*_unix: NULs inside, paths not UTF-8).

polysock's form is a NUL-terminated host text plus an int port, and a
``polysock_addr`` struct on the way out.
"""

import operator
import os

from . import _abi

# Filled in by __init__ from the constants table (the platform's values).
AF_INET = AF_INET6 = AF_UNIX = None


def _host_text(host, op):
    if isinstance(host, str):
        if host == "<broadcast>":
            return b"255.255.255.255"
        try:
            data = host.encode("ascii")
        except UnicodeEncodeError:
            data = host.encode("idna")
    elif isinstance(host, (bytes, bytearray)):
        data = bytes(host)
    else:
        raise TypeError(
            "%s(): host must be str or bytes, not %s" % (op, type(host).__name__)
        )
    if b"\0" in data:
        raise TypeError("host name must not contain null character")  # CPython's
    return data


def _port(port, op):
    try:
        port = operator.index(port)
    except TypeError:
        raise TypeError(
            "%s(): port must be an integer, not %s" % (op, type(port).__name__)
        ) from None
    if not 0 <= port <= 0xFFFF:
        raise OverflowError("%s(): port must be 0-65535." % op)
    return port


def unix_name(address, op):
    """An AF_UNIX address as the kernel's bytes (polysock_*_unix): a path,
    or on Linux b"\\0name" for an abstract name, NULs inside kept."""
    if isinstance(address, (bytes, bytearray, memoryview)):
        data = bytes(address)
    else:
        try:
            data = os.fsencode(address)
        except TypeError:
            raise TypeError(
                "%s(): AF_UNIX address must be str, bytes or a path, not %s"
                % (op, type(address).__name__)
            ) from None
    if not data.startswith(b"\0") and b"\0" in data:
        raise ValueError("%s(): AF_UNIX address contains a null character" % op)
    return data


def from_unix_name(name):
    """The Python address for an AF_UNIX name in the kernel's bytes: bytes
    for an abstract name, else the path as str (os.fsdecode, as CPython)."""
    if name.startswith(b"\0"):
        return bytes(name)
    return os.fsdecode(name)


def _unix_path(address, op):
    data = unix_name(address, op)
    if data.startswith(b"\0"):
        # Linux abstract namespace: polysock's text form is "@name".
        data = b"@" + data[1:]
        if b"\0" in data:
            raise ValueError("%s(): AF_UNIX abstract name contains a null character" % op)
    return data


def to_polysock(family, address, op):
    """(host bytes, port) for a Python address of a socket of `family`."""
    if family == AF_UNIX:
        return _unix_path(address, op), 0
    if family == AF_INET:
        if not isinstance(address, tuple):
            raise TypeError(
                "%s(): AF_INET address must be tuple, not %s"
                % (op, type(address).__name__)
            )
        if len(address) != 2:
            raise TypeError("%s(): AF_INET address must be a pair (host, port)" % op)
        host, port = address
        return _host_text(host, op), _port(port, op)
    if family == AF_INET6:
        if not isinstance(address, tuple):
            raise TypeError(
                "%s(): AF_INET6 address must be tuple, not %s"
                % (op, type(address).__name__)
            )
        if not 2 <= len(address) <= 4:
            raise TypeError(
                "%s(): AF_INET6 address must be (host, port[, flowinfo[, scope_id]])"
                % op
            )
        host = _host_text(address[0], op)
        port = _port(address[1], op)
        flowinfo = operator.index(address[2]) if len(address) > 2 else 0
        scope_id = operator.index(address[3]) if len(address) > 3 else 0
        if not 0 <= flowinfo <= 0xFFFFF:
            raise OverflowError("%s(): flowinfo must be 0-1048575." % op)
        if not 0 <= scope_id <= 0xFFFFFFFF:
            raise OverflowError("%s(): scope_id must be 0-4294967295." % op)
        # polysock takes the scope in the text; flowinfo has no way through
        # the ABI (and is ignored, as most stacks do).
        if scope_id and b"%" not in host:
            host += b"%" + str(scope_id).encode("ascii")
        return host, port
    # Another family: polysock itself reports what it cannot address.
    if isinstance(address, tuple) and len(address) == 2:
        return _host_text(address[0], op), _port(address[1], op)
    if isinstance(address, (str, bytes)):
        return _host_text(address, op), 0
    raise TypeError("%s(): unsupported address %r" % (op, address))


def from_polysock(addr):
    """The Python address for a filled polysock_addr (None if it is empty)."""
    family = addr.family
    host = addr.host
    if family == AF_INET:
        return (host.decode("ascii"), addr.port)
    if family == AF_INET6:
        # As CPython since 3.7: the scope is the tuple's scope_id, not a
        # "%scope" suffix of the host.
        return (host.split(b"%", 1)[0].decode("ascii"), addr.port, addr.flowinfo,
                addr.scope_id)
    if family == AF_UNIX:
        if host.startswith(b"@"):
            return from_unix_name(b"\0" + host[1:])
        return from_unix_name(host)
    if family == 0:
        return None
    return (host.decode("utf-8", "replace"), addr.port)


def new():
    """An empty polysock_addr to pass as an output."""
    return _abi.polysock_addr()
