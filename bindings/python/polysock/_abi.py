"""The C ABI of libpolysock, declared for ctypes.

This module is the only place where polysock's function signatures and
structs are written down in Python. Each entry below mirrors one
declaration of include/polysock.h (tests/test_abi.py compares them with the
header). Nothing here has socket logic: the rest of the package calls these
functions and turns their results into Python values and exceptions.

The library is looked up, in order:

1. next to this package (``polysock/libpolysock.so``);
2. the ``POLYSOCK_LIB`` environment variable: the library file itself, or a
   directory holding it;
3. the cargo target directories of the repository this package sits in
   (``target/{debug,release}/`` and their ``deps/``; ``$CARGO_TARGET_DIR``
   first when it is set), the most recently built copy first;
4. the system's library search path (``libpolysock.so.0``, then
   ``ctypes.util.find_library("polysock")``).
"""

import ctypes
import ctypes.util
import os
import sys

from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)

# ---------------------------------------------------------------- loading

if sys.platform == "darwin":
    _LIB_NAMES = ("libpolysock.dylib",)
elif sys.platform == "win32":
    _LIB_NAMES = ("polysock.dll",)
else:
    _LIB_NAMES = ("libpolysock.so",)

_HERE = os.path.dirname(os.path.abspath(__file__))
# bindings/python/polysock -> the repository root.
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))


def _in_dir(directory):
    for name in _LIB_NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _cargo_candidates():
    roots = []
    if os.environ.get("CARGO_TARGET_DIR"):
        roots.append(os.environ["CARGO_TARGET_DIR"])
    roots.append(os.path.join(_REPO, "target"))
    found = []
    for root in roots:
        for profile in ("debug", "release"):
            for sub in ("", "deps"):
                path = _in_dir(os.path.join(root, profile, sub))
                if path:
                    found.append(path)
        if found:
            break
    # The most recently built copy: what `cargo build`/`cargo test` just made.
    found.sort(key=lambda p: os.stat(p).st_mtime, reverse=True)
    return found


def _candidates():
    """Where the library may be, in the documented order, with the reason."""
    here = _in_dir(_HERE)
    if here:
        yield here, "next to the package"
    env = os.environ.get("POLYSOCK_LIB")
    if env:
        if os.path.isdir(env):
            path = _in_dir(env)
            if path:
                yield path, "POLYSOCK_LIB directory"
        else:
            yield env, "POLYSOCK_LIB"
    for path in _cargo_candidates():
        yield path, "cargo target directory"
    if not sys.platform.startswith(("darwin", "win")):
        yield "libpolysock.so.0", "system library path"
    system = ctypes.util.find_library("polysock")
    if system:
        yield system, "system library path"


def _load():
    errors = []
    for path, origin in _candidates():
        try:
            return ctypes.CDLL(path), path, origin
        except OSError as e:
            errors.append("%s (%s): %s" % (path, origin, e))
    raise ImportError(
        "polysock: cannot find the polysock shared library. Put %s next to "
        "the polysock package, set POLYSOCK_LIB to its path or directory, or "
        "build it with `cargo build` in the polysock repository.%s"
        % (_LIB_NAMES[0], "".join("\n  tried " + e for e in errors))
    )


lib, LIBRARY_PATH, LIBRARY_ORIGIN = _load()

# ---------------------------------------------------------------- types

polysock_t = c_int64
# The interrupt hook: called after EINTR, nonzero ends the call with EINTR.
polysock_interrupt_hook_t = CFUNCTYPE(c_int32, c_void_p)
polysock_poller_t = c_int64
polysock_tls_config_t = c_int64
polysock_ring_t = c_int64

#: POLYSOCK_ADDR_HOST_LEN
ADDR_HOST_LEN = 128
#: POLYSOCK_CANONNAME_LEN
CANONNAME_LEN = 256
#: POLYSOCK_IFNAME_LEN
IFNAME_LEN = 16
#: POLYSOCK_SERVER_REUSEPORT, POLYSOCK_SERVER_DUALSTACK: create_server flags.
SERVER_REUSEPORT = 1
SERVER_DUALSTACK = 2
#: POLYSOCK_ERR_BASE: codes at or above it are polysock's own, not errno.
ERR_BASE = 20000


class polysock_addr(Structure):
    _fields_ = [
        ("family", c_int32),
        ("port", c_int32),
        ("flowinfo", c_uint32),
        ("scope_id", c_uint32),
        ("host", c_char * ADDR_HOST_LEN),
    ]


class polysock_socket_info(Structure):
    _fields_ = [
        ("family", c_int32),
        ("socktype", c_int32),
        ("protocol", c_int32),
        ("fd", c_int32),
        ("timeout_ms", c_int64),
        ("blocking", c_int32),
        ("bound", c_int32),
        ("listening", c_int32),
        ("connected", c_int32),
        ("client", c_int32),
        ("shutdown", c_int32),
        ("local", polysock_addr),
        ("peer", polysock_addr),
    ]


class polysock_iovec(Structure):
    _fields_ = [("base", c_void_p), ("len", c_size_t)]


class polysock_mmsg(Structure):
    _fields_ = [
        ("iov", POINTER(polysock_iovec)),
        ("iovcnt", c_size_t),
        ("addr", polysock_addr),
        ("len", c_size_t),
        ("flags", c_int32),
    ]


class polysock_pollfd(Structure):
    _fields_ = [("handle", c_int64), ("events", c_int32), ("revents", c_int32)]


class polysock_poller_event(Structure):
    _fields_ = [
        ("handle", c_int64),
        ("events", c_int32),
        ("reserved", c_int32),
        ("user", c_uint64),
    ]


class polysock_ring_completion(Structure):
    _fields_ = [
        ("user", c_uint64),
        ("result", c_int64),
        ("flags", c_uint32),
        ("group", c_uint16),
        ("buffer", c_uint16),
        ("data", POINTER(c_uint8)),
    ]


class polysock_addrinfo(Structure):
    _fields_ = [
        ("family", c_int32),
        ("socktype", c_int32),
        ("protocol", c_int32),
        ("addr", polysock_addr),
        ("canonname", c_char * CANONNAME_LEN),
    ]


class polysock_interface(Structure):
    _fields_ = [("index", c_uint32), ("name", c_char * IFNAME_LEN)]


_addr_p = POINTER(polysock_addr)
_info_p = POINTER(polysock_socket_info)
_iov_p = POINTER(polysock_iovec)
_mmsg_p = POINTER(polysock_mmsg)
_size_p = POINTER(c_size_t)
_int32_p = POINTER(c_int32)
_handle_p = POINTER(polysock_t)

# ---------------------------------------------------------------- functions

#: name -> (restype, argtypes): every function of include/polysock.h.
DECLARATIONS = {
    # constants.rs
    "polysock_constant_count": (c_int64, []),
    "polysock_constant_at": (c_int32, [c_int64, POINTER(c_char_p), POINTER(c_int64)]),
    "polysock_constant_lookup": (c_int32, [c_char_p, POINTER(c_int64)]),
    # error.rs
    "polysock_errno": (c_int32, []),
    "polysock_last_error": (c_char_p, []),
    "polysock_strerror": (c_char_p, [c_int32]),
    "polysock_errname": (c_char_p, [c_int32]),
    "polysock_version": (c_char_p, []),
    # io.rs
    "polysock_send": (c_int64, [polysock_t, c_void_p, c_size_t, c_int32]),
    "polysock_sendall": (
        c_int64,
        [polysock_t, c_void_p, c_size_t, c_int32, POINTER(c_size_t)],
    ),
    "polysock_recv": (c_int64, [polysock_t, c_void_p, c_size_t, c_int32]),
    "polysock_recv_exact": (
        c_int64,
        [polysock_t, c_void_p, c_size_t, c_int32, POINTER(c_size_t)],
    ),
    "polysock_sendto": (
        c_int64,
        [polysock_t, c_void_p, c_size_t, c_int32, c_char_p, c_int32],
    ),
    "polysock_recvfrom": (c_int64, [polysock_t, c_void_p, c_size_t, c_int32, _addr_p]),
    # options.rs
    "polysock_setsockopt_int": (c_int32, [polysock_t, c_int32, c_int32, c_int32]),
    "polysock_getsockopt_int": (c_int32, [polysock_t, c_int32, c_int32, POINTER(c_int32)]),
    "polysock_setsockopt_bytes": (
        c_int32,
        [polysock_t, c_int32, c_int32, c_void_p, c_size_t],
    ),
    "polysock_getsockopt_bytes": (
        c_int32,
        [polysock_t, c_int32, c_int32, c_void_p, c_size_t, POINTER(c_size_t)],
    ),
    "polysock_setopt": (c_int32, [polysock_t, c_int32, c_int64]),
    "polysock_getopt": (c_int32, [polysock_t, c_int32, POINTER(c_int64)]),
    # socket.rs
    "polysock_socket": (polysock_t, [c_int32, c_int32, c_int32]),
    "polysock_socketpair": (c_int32, [c_int32, c_int32, c_int32, POINTER(polysock_t)]),
    "polysock_bind": (c_int32, [polysock_t, c_char_p, c_int32]),
    "polysock_listen": (c_int32, [polysock_t, c_int32]),
    "polysock_accept": (polysock_t, [polysock_t, _addr_p]),
    "polysock_connect": (c_int32, [polysock_t, c_char_p, c_int32]),
    "polysock_shutdown": (c_int32, [polysock_t, c_int32]),
    "polysock_close": (c_int32, [polysock_t]),
    "polysock_fileno": (c_int32, [polysock_t]),
    "polysock_handle_of_fd": (polysock_t, [c_int32]),
    "polysock_fromfd": (polysock_t, [c_int32]),
    "polysock_adopt_fd": (polysock_t, [c_int32]),
    "polysock_dup": (polysock_t, [polysock_t]),
    "polysock_detach": (c_int32, [polysock_t]),
    "polysock_settimeout": (c_int32, [polysock_t, c_int64]),
    "polysock_gettimeout": (c_int32, [polysock_t, POINTER(c_int64)]),
    "polysock_setblocking": (c_int32, [polysock_t, c_int32]),
    "polysock_getblocking": (c_int32, [polysock_t]),
    "polysock_setdefaulttimeout": (c_int32, [c_int64]),
    "polysock_getdefaulttimeout": (c_int64, []),
    "polysock_set_interrupt_hook": (c_int32, [polysock_interrupt_hook_t, c_void_p]),
    "polysock_getsockname": (c_int32, [polysock_t, _addr_p]),
    "polysock_bind_unix": (c_int32, [polysock_t, c_void_p, c_size_t]),
    "polysock_connect_unix": (c_int32, [polysock_t, c_void_p, c_size_t]),
    "polysock_sendto_unix": (c_int64, [polysock_t, c_void_p, c_size_t, c_int32, c_void_p, c_size_t]),
    "polysock_recvfrom_unix": (c_int64, [polysock_t, c_void_p, c_size_t, c_int32, c_void_p, c_size_t, _size_p]),
    "polysock_accept_unix": (polysock_t, [polysock_t, c_void_p, c_size_t, _size_p]),
    "polysock_getsockname_unix": (c_int32, [polysock_t, c_void_p, c_size_t, _size_p]),
    "polysock_getpeername_unix": (c_int32, [polysock_t, c_void_p, c_size_t, _size_p]),
    "polysock_getpeername": (c_int32, [polysock_t, _addr_p]),
    "polysock_info": (c_int32, [polysock_t, _info_p]),
    # names.rs: connections and servers
    "polysock_create_connection": (
        polysock_t,
        [c_char_p, c_int32, c_int64, c_char_p, c_int32],
    ),
    "polysock_create_connection_ex": (
        polysock_t,
        [c_char_p, c_int32, c_int64, c_char_p, c_int32, c_int64],
    ),
    "polysock_create_server": (polysock_t, [c_char_p, c_int32, c_int32, c_int32, c_int32]),
    # msg.rs: vectored I/O, handle passing, batches
    "polysock_sendmsg": (
        c_int64,
        [polysock_t, _iov_p, c_size_t, c_int32, c_char_p, c_int32],
    ),
    "polysock_recvmsg": (
        c_int64,
        [polysock_t, _iov_p, c_size_t, c_int32, _addr_p, _int32_p],
    ),
    "polysock_sendmsg_ex": (c_int64, [polysock_t, _iov_p, c_size_t, c_void_p, c_size_t, c_int32, _addr_p]),
    "polysock_recvmsg_ex": (c_int64, [polysock_t, _iov_p, c_size_t, c_void_p, c_size_t, c_int32, _addr_p, _size_p, _int32_p]),
    "polysock_send_handle": (c_int64, [polysock_t, polysock_t, c_void_p, c_size_t, c_int32]),
    "polysock_recv_handle": (
        c_int64,
        [polysock_t, c_void_p, c_size_t, c_int32, _handle_p, _int32_p],
    ),
    "polysock_sendmmsg": (c_int64, [polysock_t, _mmsg_p, c_size_t, c_int32]),
    "polysock_recvmmsg": (c_int64, [polysock_t, _mmsg_p, c_size_t, c_int32]),
    # udp.rs: segmentation offload
    "polysock_send_segments": (
        c_int64,
        [polysock_t, c_void_p, c_size_t, c_size_t, c_int32, c_char_p, c_int32],
    ),
    "polysock_udp_gro": (c_int32, [polysock_t, c_int32]),
    "polysock_recv_segments": (
        c_int64,
        [polysock_t, c_void_p, c_size_t, c_int32, POINTER(c_size_t), _int32_p, _addr_p],
    ),
    # poll.rs, poller.rs
    "polysock_poll": (c_int64, [POINTER(polysock_pollfd), c_size_t, c_int64]),
    "polysock_poller_create": (polysock_poller_t, []),
    "polysock_poller_destroy": (c_int32, [polysock_poller_t]),
    "polysock_poller_add": (
        c_int32,
        [polysock_poller_t, polysock_t, c_int32, c_uint32, c_uint64],
    ),
    "polysock_poller_modify": (
        c_int32,
        [polysock_poller_t, polysock_t, c_int32, c_uint32, c_uint64],
    ),
    "polysock_poller_remove": (c_int32, [polysock_poller_t, polysock_t]),
    "polysock_poller_wait": (
        c_int64,
        [polysock_poller_t, POINTER(polysock_poller_event), c_size_t, c_int64],
    ),
    "polysock_poller_wake": (c_int32, [polysock_poller_t]),
    # ring.rs
    "polysock_ring_create": (polysock_ring_t, [c_uint32, c_uint32]),
    "polysock_ring_destroy": (c_int32, [polysock_ring_t]),
    "polysock_ring_backend": (c_int32, [polysock_ring_t]),
    "polysock_ring_fd": (c_int32, [polysock_ring_t]),
    "polysock_ring_accept": (c_int32, [polysock_ring_t, polysock_t, c_uint32, c_uint64]),
    "polysock_ring_connect": (
        c_int32,
        [polysock_ring_t, polysock_t, c_char_p, c_int32, c_uint64],
    ),
    "polysock_ring_send": (
        c_int32,
        [polysock_ring_t, polysock_t, c_void_p, c_size_t, c_int32, c_uint64],
    ),
    "polysock_ring_recv": (
        c_int32,
        [polysock_ring_t, polysock_t, c_void_p, c_size_t, c_int32, c_uint64],
    ),
    "polysock_ring_recv_multishot": (
        c_int32,
        [polysock_ring_t, polysock_t, c_uint32, c_int32, c_uint64],
    ),
    "polysock_ring_buffers": (c_int32, [polysock_ring_t, c_uint32, c_uint32, c_uint32]),
    "polysock_ring_buffer_return": (c_int32, [polysock_ring_t, c_uint32, c_uint32]),
    "polysock_ring_sendmsg": (c_int32, [polysock_ring_t, polysock_t, _mmsg_p, c_int32, c_uint64]),
    "polysock_ring_recvmsg": (c_int32, [polysock_ring_t, polysock_t, _mmsg_p, c_int32, c_uint64]),
    "polysock_ring_sendfile": (
        c_int32,
        [polysock_ring_t, polysock_t, c_int32, c_int64, c_size_t, c_uint64],
    ),
    "polysock_ring_close": (c_int32, [polysock_ring_t, polysock_t, c_uint64]),
    "polysock_ring_timeout": (c_int32, [polysock_ring_t, c_int64, c_uint64]),
    "polysock_ring_cancel": (c_int32, [polysock_ring_t, c_uint64, c_uint64]),
    "polysock_ring_submit": (c_int32, [polysock_ring_t]),
    "polysock_ring_reap": (
        c_int64,
        [polysock_ring_t, POINTER(polysock_ring_completion), c_size_t, c_int64],
    ),
    # reader.rs
    "polysock_readline": (c_int32, [polysock_t, c_char_p, c_size_t, _size_p]),
    "polysock_read_until": (
        c_int32,
        [polysock_t, c_void_p, c_size_t, c_void_p, c_size_t, _size_p],
    ),
    "polysock_buffered": (c_int64, [polysock_t]),
    # resolve: names, services, protocols, literals, interfaces
    "polysock_getaddrinfo": (
        c_int64,
        [c_char_p, c_char_p, c_int32, c_int32, c_int32, c_int32,
         POINTER(polysock_addrinfo), c_size_t, _size_p],
    ),
    "polysock_getaddrinfo_timeout": (
        c_int64,
        [c_char_p, c_char_p, c_int32, c_int32, c_int32, c_int32, c_int64,
         POINTER(polysock_addrinfo), c_size_t, _size_p],
    ),
    "polysock_getnameinfo": (
        c_int32,
        [_addr_p, c_int32, c_char_p, c_size_t, c_char_p, c_size_t],
    ),
    "polysock_gethostbyname": (c_int32, [c_char_p, c_char_p, c_size_t]),
    "polysock_gethostbyname_ex": (
        c_int32,
        [c_char_p, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t],
    ),
    "polysock_gethostbyaddr": (
        c_int32,
        [c_char_p, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t],
    ),
    "polysock_gethostname": (c_int32, [c_char_p, c_size_t]),
    "polysock_getfqdn": (c_int32, [c_char_p, c_char_p, c_size_t]),
    "polysock_getservbyname": (c_int32, [c_char_p, c_char_p]),
    "polysock_getservbyport": (c_int32, [c_int32, c_char_p, c_char_p, c_size_t]),
    "polysock_getprotobyname": (c_int32, [c_char_p]),
    "polysock_inet_pton": (c_int32, [c_int32, c_char_p, c_void_p, c_size_t]),
    "polysock_inet_ntop": (c_int32, [c_int32, c_void_p, c_size_t, c_char_p, c_size_t]),
    "polysock_has_ipv6": (c_int32, []),
    "polysock_if_nameindex": (
        c_int64,
        [POINTER(polysock_interface), c_size_t, _size_p],
    ),
    "polysock_if_nametoindex": (c_int64, [c_char_p]),
    "polysock_if_indextoname": (c_int32, [c_uint32, c_char_p, c_size_t]),
    # sendfile.rs
    "polysock_sendfile": (c_int64, [polysock_t, c_int32, c_int64, c_size_t, _size_p]),
    "polysock_sendfile_path": (c_int64, [polysock_t, c_char_p, c_int64, c_size_t, _size_p]),
    # socket.rs: non-blocking connect
    "polysock_connect_ex": (c_int32, [polysock_t, c_char_p, c_int32]),
    "polysock_finish_connect": (c_int32, [polysock_t]),
    # tls (declared only; the Python TLS layer is not written yet)
    "polysock_tls_config_new": (polysock_tls_config_t, [c_int32]),
    "polysock_tls_config_free": (c_int32, [polysock_tls_config_t]),
    "polysock_tls_config_system_roots": (c_int32, [polysock_tls_config_t, c_int32]),
    "polysock_tls_config_add_ca_file": (c_int32, [polysock_tls_config_t, c_char_p]),
    "polysock_tls_config_add_ca_pem": (c_int32, [polysock_tls_config_t, c_void_p, c_size_t]),
    "polysock_tls_config_cert_file": (c_int32, [polysock_tls_config_t, c_char_p, c_char_p]),
    "polysock_tls_config_cert_pem": (
        c_int32,
        [polysock_tls_config_t, c_void_p, c_size_t, c_void_p, c_size_t],
    ),
    "polysock_tls_config_add_alpn": (c_int32, [polysock_tls_config_t, c_char_p]),
    "polysock_tls_config_versions": (c_int32, [polysock_tls_config_t, c_int32, c_int32]),
    "polysock_tls_config_sni": (c_int32, [polysock_tls_config_t, c_int32]),
    "polysock_tls_config_resumption": (c_int32, [polysock_tls_config_t, c_int32]),
    "polysock_tls_config_client_auth": (c_int32, [polysock_tls_config_t, c_int32]),
    "polysock_tls_config_insecure_skip_verify": (c_int32, [polysock_tls_config_t]),
    "polysock_tls_config_insecure_skip_hostname_check": (c_int32, [polysock_tls_config_t]),
    "polysock_tls_wrap": (c_int32, [polysock_t, polysock_tls_config_t, c_char_p]),
    "polysock_tls_wrap_server": (c_int32, [polysock_t, polysock_tls_config_t]),
    "polysock_tls_handshake": (c_int32, [polysock_t]),
    "polysock_tls_wants": (c_int32, [polysock_t]),
    "polysock_tls_pending": (c_int64, [polysock_t]),
    "polysock_tls_unwrap": (c_int32, [polysock_t]),
    "polysock_tls_state": (c_int32, [polysock_t]),
    "polysock_tls_version": (c_int32, [polysock_t]),
    "polysock_tls_resumed": (c_int32, [polysock_t]),
    "polysock_tls_cipher": (c_int32, [polysock_t, c_char_p, c_size_t]),
    "polysock_tls_alpn": (c_int32, [polysock_t, c_char_p, c_size_t]),
    "polysock_tls_server_name": (c_int32, [polysock_t, c_char_p, c_size_t]),
    "polysock_tls_peer_cert": (c_int64, [polysock_t, c_size_t, c_void_p, c_size_t]),
    "polysock_tls_peer_cert_count": (c_int64, [polysock_t]),
    "polysock_tls_peer_subject": (c_int32, [polysock_t, c_char_p, c_size_t]),
    "polysock_tls_peer_issuer": (c_int32, [polysock_t, c_char_p, c_size_t]),
    "polysock_tls_peer_san": (c_int32, [polysock_t, c_char_p, c_size_t]),
    "polysock_tls_peer_validity": (c_int32, [polysock_t, POINTER(c_int64), POINTER(c_int64)]),
}

#: Declared functions the loaded library does not export (an older build):
#: calling one raises NotImplementedError.
MISSING = []


def _stub(symbol):
    def missing(*args):
        pending(symbol[len("polysock_"):], symbol)

    missing.__name__ = symbol
    return missing


for _name, (_restype, _argtypes) in DECLARATIONS.items():
    _f = getattr(lib, _name, None)
    if _f is None:
        MISSING.append(_name)
        globals()[_name] = _stub(_name)
        continue
    _f.restype = _restype
    _f.argtypes = _argtypes
    globals()[_name] = _f
del _name, _restype, _argtypes, _f


def has(symbol):
    """Whether the loaded library exports `symbol` and it is declared here."""
    return symbol in DECLARATIONS and symbol not in MISSING


def pending(what, symbol):
    """Raises NotImplementedError for a Python function whose polysock
    export (`symbol`) the loaded library lacks."""
    raise NotImplementedError(
        "polysock.%s is not available: it needs %s, which the polysock "
        "library at %s does not export (an older build? rebuild it)"
        % (what, symbol, LIBRARY_PATH)
    )


def version():
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return polysock_version().decode("ascii")


def constant(name):
    """The value of polysock's constant `name` (None: this platform lacks
    it)."""
    value = c_int64()
    if polysock_constant_lookup(name.encode("ascii"), ctypes.byref(value)) < 0:
        return None
    return value.value
