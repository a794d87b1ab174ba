"""polysock for Python: a drop-in for the standard ``socket`` module.

    import polysock as socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(("127.0.0.1", 8080))
        s.sendall(b"hello\\n")
        print(s.recv(1024))

Two backends with one contract (BACKEND.md): the native extension
polysock._native, or ctypes over libpolysock.so (POLYSOCK_BACKEND chooses;
``polysock.backend`` says which is loaded).
Every constant of polysock's table (AF_*, SOCK_*, SO_*, IPPROTO_*, TCP_*,
MSG_*, SHUT_*, AI_*, NI_*, E*, EAI_*, POLYSOCK_*...) is a module attribute,
with the platform's value; errors are Python's own exceptions.
"""

from enum import IntEnum, IntFlag

from . import _abi, _addr, _socket
from ._errors import EAI_PLATFORM, error, gaierror, herror, timeout
from ._socket import (
    CMSG_LEN,
    CMSG_SPACE,
    SocketIO,
    _GiveupOnSendfile,
    _LOCALHOST,
    _LOCALHOST_V6,
    backend,
    close,
    dup,
    inet_aton,
    inet_ntoa,
    recv_fds,
    send_fds,
    sethostname,
    SocketType,
    _GLOBAL_DEFAULT_TIMEOUT,
    create_connection,
    create_server,
    fromfd,
    getaddrinfo,
    getdefaulttimeout,
    getfqdn,
    gethostbyaddr,
    gethostbyname,
    gethostbyname_ex,
    gethostname,
    getnameinfo,
    getprotobyname,
    getservbyname,
    getservbyport,
    has_dualstack_ipv6,
    htonl,
    htons,
    if_indextoname,
    if_nameindex,
    if_nametoindex,
    inet_ntop,
    inet_pton,
    ntohl,
    ntohs,
    setdefaulttimeout,
    socket,
    socketpair,
)

__version__ = "0.1.0"

#: Where the loaded libpolysock came from, and its version.
library_path = _abi.LIBRARY_PATH
library_version = _abi.version()


def _constant_table():
    """polysock's constants table as a list of (name, value)."""
    import ctypes

    entries = []
    name = ctypes.c_char_p()
    value = ctypes.c_int64()
    for index in range(_abi.polysock_constant_count()):
        if _abi.polysock_constant_at(index, ctypes.byref(name), ctypes.byref(value)) == 0:
            entries.append((name.value.decode("ascii"), value.value))
    return entries


#: Every constant of polysock's table: name -> value (plain ints).
constants = dict(_constant_table())


def _cpython_names():
    """The names the interpreter's own `_socket` defines (None without one):
    CPython's enums hold only those, so polysock's hold only those too (its
    other constants stay plain module attributes)."""
    try:
        import _socket
    except ImportError:
        return None
    return set(vars(_socket))


def _enum_source(prefix, known=_cpython_names()):
    """The members of an enum, as CPython's socket.py picks them: upper-case
    names with `prefix` (here from polysock's constants)."""
    import types

    return types.SimpleNamespace(**{
        n: v for n, v in constants.items()
        if n.isupper() and n.startswith(prefix) and (known is None or n in known)
    })


# As CPython's socket.py builds them: sorted by (value, name), so that the
# first name of a value is the member and the others aliases, and exported
# to this module.
IntEnum._convert_("AddressFamily", __name__, lambda n: True, source=_enum_source("AF_"))
IntEnum._convert_("SocketKind", __name__, lambda n: True, source=_enum_source("SOCK_"))
IntFlag._convert_("MsgFlag", __name__, lambda n: True, source=_enum_source("MSG_"))
IntFlag._convert_("AddressInfo", __name__, lambda n: True, source=_enum_source("AI_"))

globals().update(constants)
# CPython's EAI_* are the platform's values, and so are gaierror's errnos.
globals().update({n: v for n, v in EAI_PLATFORM.items() if n in constants})
for _enum_class in (AddressFamily, SocketKind, MsgFlag, AddressInfo):
    for _name, _member in _enum_class.__members__.items():
        globals()[_name] = _member
del _enum_class, _name, _member

for _module in (_addr, _socket):
    _module.AF_INET = constants.get("AF_INET")
    _module.AF_INET6 = constants.get("AF_INET6")
    _module.AF_UNIX = constants.get("AF_UNIX")
_socket.SOCK_STREAM = SocketKind(constants["SOCK_STREAM"])
_socket.AF_INET = AddressFamily(constants["AF_INET"])
_socket.AF_INET6 = AddressFamily(constants["AF_INET6"])
_socket.AF_UNIX = AddressFamily(constants["AF_UNIX"])
_socket.IPPROTO_IPV6 = constants.get("IPPROTO_IPV6")
_socket.IPV6_V6ONLY = constants.get("IPV6_V6ONLY")
_socket.SOL_SOCKET = constants.get("SOL_SOCKET")
_socket.SCM_RIGHTS = constants.get("SCM_RIGHTS")
_socket.AddressFamily = AddressFamily
_socket.SocketKind = SocketKind
del _module

socket.__module__ = SocketIO.__module__ = __name__
SocketType = _socket._base

#: Whether this system can create IPv6 sockets (polysock_has_ipv6).
has_ipv6 = _socket._has_ipv6()

__all__ = [
    "CMSG_LEN",
    "CMSG_SPACE",
    "close",
    "dup",
    "inet_aton",
    "inet_ntoa",
    "recv_fds",
    "send_fds",
    "sethostname",
    "AddressFamily",
    "AddressInfo",
    "MsgFlag",
    "SocketIO",
    "SocketKind",
    "SocketType",
    "create_connection",
    "create_server",
    "error",
    "fromfd",
    "gaierror",
    "getaddrinfo",
    "getdefaulttimeout",
    "getfqdn",
    "gethostbyaddr",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostname",
    "getnameinfo",
    "getprotobyname",
    "getservbyname",
    "getservbyport",
    "has_dualstack_ipv6",
    "has_ipv6",
    "herror",
    "htonl",
    "htons",
    "if_indextoname",
    "if_nameindex",
    "if_nametoindex",
    "inet_ntop",
    "inet_pton",
    "ntohl",
    "ntohs",
    "setdefaulttimeout",
    "socket",
    "socketpair",
    "timeout",
] + sorted(constants)
