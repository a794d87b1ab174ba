"""The Python layer: what CPython's socket.py adds to `_socket`, over the
backend this process uses (BACKEND.md): the socket class with accept, dup,
makefile, sendfile, the inheritable flag and the enums; SocketIO; and the
module functions, which touch no backend handle and so live once, here,
over polysock's C ABI through ctypes (_abi).

POLYSOCK_BACKEND=native|ctypes chooses the backend; unset, the native
module when it imports and provides the whole contract, else ctypes.
"""

import array
import ctypes
import errno
import importlib
import io
import operator
import os
import selectors
import sys

from . import _abi
from . import _addr
from . import _ctypes_socket
from ._ctypes_socket import _buf_in, _check, _cmsg_len, _from_ms, _int32, _to_ms
from ._errors import last_error

# Filled in by __init__ from the constants table.
AF_INET = AF_INET6 = AF_UNIX = SOCK_STREAM = IPPROTO_IPV6 = IPV6_V6ONLY = None
SOL_SOCKET = SCM_RIGHTS = None
AddressFamily = SocketKind = None

#: What a backend module must provide (BACKEND.md).
CONTRACT_FUNCTIONS = ("socket", "SocketType", "socketpair", "getdefaulttimeout",
                      "setdefaulttimeout")
CONTRACT_METHODS = (
    "_accept", "_from_handle", "bind", "close", "connect", "connect_ex", "detach", "dup",
    "fileno", "getblocking", "getpeername", "getsockname", "getsockopt", "gettimeout",
    "listen", "recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "recvmsg_into",
    "send", "sendall", "sendmsg", "sendto", "setblocking", "setsockopt", "settimeout",
    "shutdown", "family", "type", "proto", "timeout", "handle",
)


def missing_from_contract(module):
    """The names of the contract `module` lacks (empty: it is complete)."""
    missing = [n for n in CONTRACT_FUNCTIONS if not hasattr(module, n)]
    base = getattr(module, "socket", None)
    if base is not None:
        missing += ["socket." + n for n in CONTRACT_METHODS if not hasattr(base, n)]
    return missing


def _choose_backend():
    wanted = os.environ.get("POLYSOCK_BACKEND", "")
    if wanted not in ("", "native", "ctypes"):
        raise ImportError("POLYSOCK_BACKEND=%r: the backends are 'native' and 'ctypes'"
                          % wanted)
    if wanted == "ctypes":
        return "ctypes", _ctypes_socket
    try:
        native = importlib.import_module("polysock._native")
    except ImportError:
        if wanted == "native":
            raise
        return "ctypes", _ctypes_socket
    missing = missing_from_contract(native)
    if missing:
        if wanted == "native":
            raise ImportError("polysock._native lacks %s (BACKEND.md)" % ", ".join(missing))
        return "ctypes", _ctypes_socket
    return "native", native


#: "native" or "ctypes": the backend in use, and its module.
backend, _backend = _choose_backend()
_base = _backend.socket


class _DefaultTimeout:
    def __repr__(self):
        return "<polysock._GLOBAL_DEFAULT_TIMEOUT>"


#: The "use getdefaulttimeout()" marker of create_connection's timeout.
_GLOBAL_DEFAULT_TIMEOUT = _DefaultTimeout()

_LOCALHOST = "127.0.0.1"
_LOCALHOST_V6 = "::1"


def _enum(value, enum):
    if enum is None:
        return value
    try:
        return enum(value)
    except ValueError:
        return value


class _GiveupOnSendfile(Exception):
    """sendfile(2) cannot serve this file: sendfile() falls back to send."""


# ---------------------------------------------------------------- socket


class socket(_base):
    """A polysock socket with the methods of CPython's socket.socket.

    ``socket(family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None)``: with
    `fileno`, the socket takes ownership of that open socket fd (family,
    type and protocol are then read from the kernel).
    """

    __slots__ = ("_io_refs", "_closed", "_given") + (
        () if hasattr(_base, "__weakref__") else ("__weakref__",))

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        _base.__init__(self, family, type, proto, fileno)
        self._io_refs = 0
        self._closed = False
        # As CPython: with `fileno`, a family/type/proto given is what the
        # socket reports (the kernel's values where -1).
        self._given = None
        if fileno is not None and (family, type, proto) != (-1, -1, -1):
            self._given = (family, type, proto)

    @classmethod
    def _from_handle(cls, h, like=None):
        sock = super()._from_handle(h, like)
        sock._io_refs = 0
        sock._closed = False
        sock._given = None
        return sock

    def _reported(self, index, kernel):
        given = self._given
        if given is None or given[index] == -1:
            return kernel
        return given[index]

    @property
    def family(self):
        """The address family (AddressFamily when it is a known one)."""
        return _enum(self._reported(0, _base.family.__get__(self)), AddressFamily)

    @property
    def type(self):
        """The socket type (SocketKind when it is a known one)."""
        return _enum(self._reported(1, _base.type.__get__(self)), SocketKind)

    @property
    def proto(self):
        """The protocol number."""
        return self._reported(2, _base.proto.__get__(self))

    def __enter__(self):
        return self

    def __exit__(self, *args):
        if not self._closed:
            self.close()

    def __repr__(self):
        closed = getattr(self, "_closed", False)
        text = "<%s.%s%s fd=%i, family=%s, type=%s, proto=%i" % (
            self.__class__.__module__,
            self.__class__.__qualname__,
            " [closed]" if closed else "",
            self.fileno(),
            self.family,
            self.type,
            self.proto,
        )
        if not closed:
            for label, get in (("laddr", self.getsockname), ("raddr", self.getpeername)):
                try:
                    addr = get()
                except OSError:
                    continue
                if addr is not None:
                    text += ", %s=%r" % (label, addr)
        return text + ">"

    def __getstate__(self):
        raise TypeError("cannot pickle %r object" % self.__class__.__name__)

    def dup(self):
        """A new socket on a duplicate of the fd, with the same timeout."""
        return type(self)._from_handle(_base.dup(self), self)

    def accept(self):
        """(new socket, peer address). The new socket starts with the
        default timeout (getdefaulttimeout())."""
        h, address = self._accept()
        return type(self)._from_handle(h, self), address

    def makefile(self, mode="r", buffering=None, *, encoding=None, errors=None,
                 newline=None):
        """A file object over the socket: "r", "w", "rw", with "b" for
        bytes; buffered or not (buffering=0, binary only). Closing the
        socket is deferred until the files are closed too."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError("invalid mode %r (only r, w, b allowed)" % (mode,))
        writing = "w" in mode
        reading = "r" in mode or not writing
        binary = "b" in mode
        raw = SocketIO(self, ("r" if reading else "") + ("w" if writing else ""))
        self._io_refs += 1
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        if sys.version_info >= (3, 10):
            encoding = io.text_encoding(encoding)
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode
        return text

    # -- sendfile: os.sendfile on the fd, else read and send

    def _check_sendfile_params(self, file, offset, count):
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if not self.type & SOCK_STREAM:
            raise ValueError("only SOCK_STREAM type sockets are supported")
        if count is not None:
            if not isinstance(count, int):
                raise TypeError("count must be a positive integer (got %r)" % (count,))
            if count <= 0:
                raise ValueError("count must be a positive integer (got %r)" % (count,))

    def _sendfile_use_sendfile(self, file, offset=0, count=None):
        """sendfile(2) from the file's fd; _GiveupOnSendfile when the file
        has none, or sendfile(2) refuses it before anything went."""
        self._check_sendfile_params(file, offset, count)
        sockno = self.fileno()
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation) as err:
            raise _GiveupOnSendfile(err)
        try:
            fsize = os.fstat(fileno).st_size
        except OSError as err:
            raise _GiveupOnSendfile(err)
        if not fsize:
            return 0
        blocksize = min(count or fsize, 2 ** 30)
        timeout = self.gettimeout()
        if timeout == 0:
            raise ValueError("non-blocking sockets are not supported")
        selector = selectors.PollSelector() if hasattr(selectors, "PollSelector") \
            else selectors.SelectSelector()
        selector.register(sockno, selectors.EVENT_WRITE)
        total_sent = 0
        try:
            while True:
                if timeout and not selector.select(timeout):
                    raise TimeoutError("timed out")
                if count:
                    blocksize = count - total_sent
                    if blocksize <= 0:
                        break
                try:
                    sent = os.sendfile(sockno, fileno, offset, blocksize)
                except BlockingIOError:
                    if not timeout:
                        selector.select()
                    continue
                except OSError as err:
                    if total_sent == 0:
                        raise _GiveupOnSendfile(err)
                    raise err from None
                else:
                    if sent == 0:
                        break
                    offset += sent
                    total_sent += sent
            return total_sent
        finally:
            selector.close()
            if total_sent > 0 and hasattr(file, "seek"):
                file.seek(offset)

    def _sendfile_use_send(self, file, offset=0, count=None):
        """Reads the file and sends what it read."""
        self._check_sendfile_params(file, offset, count)
        if self.gettimeout() == 0:
            raise ValueError("non-blocking sockets are not supported")
        if offset:
            file.seek(offset)
        blocksize = min(count, 8192) if count else 8192
        total_sent = 0
        try:
            while True:
                if count:
                    blocksize = min(count - total_sent, blocksize)
                    if blocksize <= 0:
                        break
                data = memoryview(file.read(blocksize))
                if not data:
                    break
                while True:
                    try:
                        sent = self.send(data)
                    except BlockingIOError:
                        continue
                    else:
                        total_sent += sent
                        if sent < len(data):
                            data = data[sent:]
                        else:
                            break
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, "seek"):
                file.seek(offset + total_sent)

    def sendfile(self, file, offset=0, count=None):
        """Sends `count` bytes (None: to the end) of a binary file from
        `offset` with sendfile(2), or by reading and sending where the file
        has no fd for it; returns the count and leaves the file positioned
        after what went."""
        try:
            return self._sendfile_use_sendfile(file, offset, count)
        except _GiveupOnSendfile:
            return self._sendfile_use_send(file, offset, count)

    # -- closing

    def _decref_socketios(self):
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def _real_close(self, _close=_base.close):
        # Both backends raise close(2)'s EBADF (an fd closed behind
        # polysock's back, os.close(s.fileno())), as CPython's close().
        _close(self)

    def close(self):
        """Closes the socket (once every makefile() file is closed too).
        Calls blocked on it in other threads wake up with EBADF."""
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def detach(self):
        """Gives the OS fd to the caller (who must close it); the socket
        object becomes closed. Returns -1 if it already was."""
        self._closed = True
        return _base.detach(self)

    def get_inheritable(self):
        return os.get_inheritable(self.fileno())

    def set_inheritable(self, inheritable):
        os.set_inheritable(self.fileno(), inheritable)


SocketType = _base


class SocketIO(io.RawIOBase):
    """The raw file under makefile(): recv_into and send on a socket."""

    def __init__(self, sock, mode):
        if mode not in ("r", "w", "rw", "rb", "wb", "rwb"):
            raise ValueError("invalid mode: %r" % mode)
        io.RawIOBase.__init__(self)
        self._sock = sock
        if "b" not in mode:
            mode += "b"
        self._mode = mode
        self._reading = "r" in mode
        self._writing = "w" in mode
        self._timeout_occurred = False

    def readinto(self, b):
        self._checkClosed()
        self._checkReadable()
        if self._timeout_occurred:
            raise OSError("cannot read from timed out object")
        try:
            return self._sock.recv_into(b)
        except TimeoutError:
            # Part of a line may be lost in the buffer: no more reads.
            self._timeout_occurred = True
            raise
        except BlockingIOError:
            return None

    def write(self, b):
        self._checkClosed()
        self._checkWritable()
        try:
            return self._sock.send(b)
        except BlockingIOError:
            return None

    def readable(self):
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._reading

    def writable(self):
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._writing

    def seekable(self):
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return super().seekable()

    def fileno(self):
        self._checkClosed()
        return self._sock.fileno()

    @property
    def name(self):
        return self.fileno() if not self.closed else -1

    @property
    def mode(self):
        return self._mode

    def close(self):
        if self.closed:
            return
        io.RawIOBase.close(self)
        self._sock._decref_socketios()
        self._sock = None


# ---------------------------------------------------------------- functions


def _from_abi_handle(h, timeout=_GLOBAL_DEFAULT_TIMEOUT):
    """A socket for a handle of the ctypes library (create_connection,
    create_server): the ctypes backend takes it as it is; another backend
    gets its fd (its own copy of polysock cannot use the handle)."""
    if _backend is _ctypes_socket:
        return socket._from_handle(h)
    ms = ctypes.c_int64()
    _abi.polysock_gettimeout(h, ctypes.byref(ms))
    fd = _abi.polysock_detach(h)
    if fd < 0:
        err = last_error()
        _abi.polysock_close(h)
        raise err
    sock = socket(fileno=fd)
    sock.settimeout(_from_ms(ms.value))
    return sock


def socketpair(family=None, type=None, proto=0):
    """Two connected sockets (AF_UNIX, SOCK_STREAM by default)."""
    if family is None:
        family = AF_UNIX
    if type is None:
        type = SOCK_STREAM
    a, b = _backend.socketpair(family, type, proto)
    try:
        first = socket(family, type, proto, a.detach())
    except BaseException:
        a.close()
        b.close()
        raise
    try:
        second = socket(family, type, proto, b.detach())
    except BaseException:
        first.close()
        b.close()
        raise
    return first, second


def fromfd(fd, family, type, proto=0):
    """A socket on a duplicate of open socket fd `fd` (which stays the
    caller's)."""
    return socket(family, type, proto, os.dup(fd))


def dup(fd):
    """A duplicate of socket fd `fd`, not inheritable."""
    return os.dup(operator.index(fd))


def close(fd):
    """Closes socket fd `fd` (ECONNRESET is not an error, as in CPython)."""
    try:
        os.close(operator.index(fd))
    except ConnectionResetError:
        pass


def getdefaulttimeout():
    """The timeout new sockets start with, in seconds (None: blocking)."""
    return _backend.getdefaulttimeout()


def setdefaulttimeout(timeout):
    """Sets the timeout new sockets start with (created or accepted; this
    is polysock's process-wide default, shared with other users of the
    library in this process)."""
    _backend.setdefaulttimeout(timeout)
    if _backend is not _ctypes_socket:
        _ctypes_socket.setdefaulttimeout(timeout)


def send_fds(sock, buffers, fds, flags=0, address=None):
    """Sends the descriptors `fds` with the data (SCM_RIGHTS)."""
    return sock.sendmsg(buffers, [(SOL_SOCKET, SCM_RIGHTS, array.array("i", fds))],
                        flags, address)


def recv_fds(sock, bufsize, maxfds, flags=0):
    """(data, list of received fds, msg_flags, address)."""
    fds = array.array("i")
    msg, ancdata, flags, addr = sock.recvmsg(bufsize, CMSG_LEN(maxfds * fds.itemsize), flags)
    for level, kind, data in ancdata:
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds), flags, addr


def CMSG_LEN(length):
    """The size of a control message carrying `length` bytes of data."""
    length = operator.index(length)
    if not 0 <= length <= (2 ** 31 - 1) - _cmsg_len(0):
        raise OverflowError("CMSG_LEN() argument out of range")
    return _cmsg_len(length)


def CMSG_SPACE(length):
    """CMSG_LEN(length) with its padding: the room a control message takes."""
    length = operator.index(length)
    align = ctypes.sizeof(ctypes.c_size_t)
    if not 0 <= length <= (2 ** 31 - 1) - _cmsg_len(0) - align:
        raise OverflowError("CMSG_SPACE() argument out of range")
    return _cmsg_len(0) + (length + align - 1) // align * align


def inet_aton(ip_string):
    """An IPv4 address in inet_aton(3)'s forms ("a.b.c.d", "a.b.c", "a.b",
    "a"; each part decimal, 0x hex or 0 octal) as 4 packed bytes."""
    if not isinstance(ip_string, str):
        raise TypeError("inet_aton() argument 1 must be str, not %s"
                        % type(ip_string).__name__)
    text = ip_string.split(None, 1)[0] if ip_string[:1].strip() else ip_string
    parts = text.split(".")
    values = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                value = int(part[2:] or "0", 16)
            elif len(part) > 1 and part[0] == "0":
                value = int(part, 8)
            else:
                value = int(part, 10) if part.isdigit() else None
        except ValueError:
            value = None
        if value is None or not part.isascii():
            raise OSError("illegal IP address string passed to inet_aton")
        values.append(value)
    if not 1 <= len(values) <= 4 or any(v > 255 for v in values[:-1]):
        raise OSError("illegal IP address string passed to inet_aton")
    if values[-1] >= 1 << (8 * (5 - len(values))):
        raise OSError("illegal IP address string passed to inet_aton")
    out = bytes(values[:-1]) + values[-1].to_bytes(5 - len(values), "big")
    return out


def inet_ntoa(packed_ip):
    """4 packed bytes as "a.b.c.d"."""
    data = bytes(memoryview(packed_ip))
    if len(data) != 4:
        raise OSError("packed IP wrong length for inet_ntoa")
    return "%d.%d.%d.%d" % tuple(data)


def sethostname(name):
    """Sets this machine's host name (needs CAP_SYS_ADMIN)."""
    data = os.fsencode(name) if isinstance(name, str) else bytes(memoryview(name))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.sethostname(data, ctypes.c_size_t(len(data))) < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _has_ipv6():
    if _abi.has("polysock_has_ipv6"):
        return bool(_abi.polysock_has_ipv6())
    # A library older than polysock_has_ipv6: ask it for an IPv6 socket.
    h = _abi.polysock_socket(AF_INET6, SOCK_STREAM, 0)
    if h < 0:
        return False
    _abi.polysock_close(h)
    return True


def _text_arg(value, what, op):
    """str/bytes (or None) as NUL-terminated-safe bytes for the ABI."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            data = value.encode("ascii")
        except UnicodeEncodeError:
            data = value.encode("idna") if what == "host" else value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        raise TypeError("%s(): %s must be str, bytes or None, not %s"
                        % (op, what, type(value).__name__))
    if b"\0" in data:
        raise ValueError("%s(): %s contains a null character" % (op, what))
    return data


def _text_out(call, size, limit=1 << 20):
    """Runs call(buffer, size), growing the buffer while polysock answers
    ERANGE; returns the buffer."""
    while True:
        buf = ctypes.create_string_buffer(size)
        if call(buf, size) >= 0:
            return buf
        err = last_error()
        if err.errno != errno.ERANGE or size >= limit:
            raise err
        size *= 4


def _list_out(raw):
    """polysock's "a\0b\0\0" list as ["a", "b"]."""
    items = []
    for item in raw.split(b"\0"):
        if not item:
            break
        items.append(item.decode("utf-8", "replace"))
    return items


def _service(port, op):
    if port is None:
        return None
    if isinstance(port, int):
        return str(int(port)).encode("ascii")
    if isinstance(port, (str, bytes)):
        return _text_arg(port, "port", op)
    raise OSError("Int or String expected")


def _ms_or_default(timeout):
    if timeout is _GLOBAL_DEFAULT_TIMEOUT:
        return _abi.polysock_getdefaulttimeout()
    return _to_ms(timeout)


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None,
                      *, all_errors=False):
    """Connects to (host, port) and returns the socket. polysock resolves
    the name and tries every address with Happy Eyeballs (IPv6 and IPv4
    interleaved, a new attempt every 250 ms while earlier ones pend); the
    timeout is one deadline for the whole call, resolution included. When
    every attempt fails, the error names each address with its error (with
    all_errors=True it comes inside an ExceptionGroup). When `polysock.socket`
    has been replaced (a test's mock, a monkeypatching library), it goes the
    way CPython's does instead, through that class: see _connect_through."""
    cls = _package.socket
    if cls is not socket:
        return _connect_through(cls, address, timeout, source_address, all_errors)
    host, port = address
    host = _text_arg(host, "host", "create_connection")
    port = _connect_port(port)
    source_host, source_port = None, 0
    if source_address is not None:
        source_host, source_port = source_address
        source_host = _text_arg(source_host, "host", "create_connection") or None
        source_port = _addr._port(source_port, "create_connection")
    try:
        sock = _connected(host, port, _ms_or_default(timeout), source_host, source_port)
    except OSError as err:
        if all_errors and sys.version_info >= (3, 11):
            raise ExceptionGroup("create_connection failed", [err]) from None  # noqa: F821
        raise
    if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
        try:
            sock.settimeout(timeout)
        except BaseException:
            sock.close()
            raise
    return sock


# The polysock package (importing this module), whose `socket` a caller may
# replace: create_connection compares it with the class below.
_package = sys.modules[__package__]


def _connect_through(cls, address, timeout, source_address, all_errors):
    """create_connection over a replacement of `polysock.socket`: each
    address getaddrinfo gives, in order, with an object of `cls` (its
    settimeout, bind and connect), as CPython's create_connection, so that
    what the replacement does (a mock's connect raising TimeoutError) is
    what the caller sees. The first error, or all in an ExceptionGroup."""
    host, port = address
    errors = []
    for family, kind, proto, _, sockaddr in getaddrinfo(host, port, 0, SOCK_STREAM):
        sock = None
        try:
            sock = cls(family, kind, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as err:
            errors.append(err)
            if sock is not None:
                sock.close()
    if not errors:
        raise OSError("getaddrinfo returns an empty list")
    if all_errors and sys.version_info >= (3, 11):
        raise ExceptionGroup("create_connection failed", errors)  # noqa: F821
    raise errors[0]


def _connected(host, port, ms, source_host, source_port):
    """polysock_create_connection's socket, made by the backend's own copy
    of polysock where the backend offers it (the native one: no fd handed
    over, no system call more)."""
    connect = getattr(_backend, "create_connection", None)
    if connect is not None:
        return socket._from_handle(connect(host, port, ms, source_host, source_port))
    h = _abi.polysock_create_connection(host, port, ms, source_host, source_port)
    if h < 0:
        raise last_error()
    return _from_abi_handle(h)


def _connect_port(port):
    if isinstance(port, (str, bytes)):
        text = port.decode("ascii") if isinstance(port, bytes) else port
        if text.isdigit():
            return _addr._port(int(text), "create_connection")
        return getservbyname(text, "tcp")
    return _addr._port(port, "create_connection")


def create_server(address, *, family=None, backlog=None, reuse_port=False,
                  dualstack_ipv6=False):
    """A listening socket bound to `address` with SO_REUSEADDR on, as
    CPython's: `reuse_port` sets SO_REUSEPORT; `dualstack_ipv6` (with
    family=AF_INET6) also accepts IPv4 clients."""
    if family is None:
        family = AF_INET
    if dualstack_ipv6 and family != AF_INET6:
        raise ValueError("dualstack_ipv6 requires AF_INET6 family")
    backlog = -1 if backlog is None else max(0, _int32(backlog, "backlog"))
    if family == AF_UNIX:
        sock = socket(AF_UNIX, SOCK_STREAM)
        try:
            sock.bind(address)
            if backlog < 0:
                sock.listen()
            else:
                sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
        return sock
    host, port = address[0], address[1]
    host = _text_arg(host, "host", "create_server") or None
    port = _addr._port(port, "create_server")
    flags = 0
    if reuse_port:
        flags |= _abi.SERVER_REUSEPORT
    if dualstack_ipv6:
        flags |= _abi.SERVER_DUALSTACK
    h = _check(_abi.polysock_create_server(host, port, _int32(family, "family"), backlog, flags))
    return _from_abi_handle(h)


def has_dualstack_ipv6():
    """Whether an AF_INET6 socket can also accept IPv4 (IPV6_V6ONLY off)."""
    try:
        with socket(AF_INET6, SOCK_STREAM) as sock:
            sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
            return True
    except OSError:
        return False


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """[(family, type, proto, canonname, sockaddr)] for host and port
    (a number, a service name or None), as CPython's."""
    host = _text_arg(host, "host", "getaddrinfo")
    service = _service(port, "getaddrinfo")
    args = (
        host, service, _int32(family, "family"), _int32(type, "type"),
        _int32(proto, "proto"), _int32(flags, "flags"),
    )
    capacity = 16
    while True:
        results = (_abi.polysock_addrinfo * capacity)()
        count = ctypes.c_size_t()
        total = _check(_abi.polysock_getaddrinfo(*args, results, capacity, ctypes.byref(count)))
        if total <= capacity:
            break
        capacity = total
    return [
        (
            _enum(r.family, AddressFamily),
            _enum(r.socktype, SocketKind),
            r.protocol,
            r.canonname.decode("utf-8", "replace"),
            _addr.from_polysock(r.addr),
        )
        for r in results[: count.value]
    ]


def _unsigned32(value, what):
    value = operator.index(value)
    if not 0 <= value <= 0xFFFFFFFF:
        raise OverflowError("getnameinfo(): %s out of range" % what)
    return value


def getnameinfo(sockaddr, flags):
    """(host, port) names for a numeric (host, port[, flowinfo, scope_id])."""
    if not isinstance(sockaddr, tuple):
        raise TypeError("getnameinfo() argument 1 must be a tuple")
    if not 2 <= len(sockaddr) <= 4:
        raise TypeError("getnameinfo(): illegal sockaddr argument")
    addr = _abi.polysock_addr()
    host = _text_arg(sockaddr[0], "host", "getnameinfo")
    if len(host) >= _abi.ADDR_HOST_LEN:
        raise ValueError("getnameinfo(): host is too long")
    addr.family = AF_INET6 if (b":" in host or len(sockaddr) > 2) else AF_INET
    addr.port = _addr._port(sockaddr[1], "getnameinfo")
    if len(sockaddr) > 2:
        addr.flowinfo = _unsigned32(sockaddr[2], "flowinfo")
        if addr.flowinfo > 0xFFFFF:
            raise OverflowError("getnameinfo(): flowinfo must be 0-1048575.")
    if len(sockaddr) > 3:
        addr.scope_id = _unsigned32(sockaddr[3], "scope_id")
    addr.host = host
    hostbuf = ctypes.create_string_buffer(1025)
    servbuf = ctypes.create_string_buffer(64)
    _check(
        _abi.polysock_getnameinfo(
            ctypes.byref(addr), _int32(flags, "flags"), hostbuf, 1025, servbuf, 64
        )
    )
    return hostbuf.value.decode("utf-8", "replace"), servbuf.value.decode("utf-8", "replace")


def gethostbyname(hostname):
    """The first IPv4 address of `hostname`, as text."""
    name = _text_arg(hostname, "host", "gethostbyname")
    buf = _text_out(lambda b, n: _abi.polysock_gethostbyname(name, b, n), 64)
    return buf.value.decode("ascii")


def _host_entry(fn, arg, op):
    name = _text_arg(arg, "host", op)
    size = 4096
    while True:
        hostname = ctypes.create_string_buffer(1025)
        aliases = ctypes.create_string_buffer(size)
        addresses = ctypes.create_string_buffer(size)
        if fn(name, hostname, 1025, aliases, size, addresses, size) >= 0:
            return (
                hostname.value.decode("utf-8", "replace"),
                _list_out(aliases.raw),
                _list_out(addresses.raw),
            )
        err = last_error()
        if err.errno != errno.ERANGE or size >= 1 << 20:
            raise err
        size *= 4


def gethostbyname_ex(hostname):
    """(hostname, aliases, IPv4 addresses) for `hostname`."""
    return _host_entry(_abi.polysock_gethostbyname_ex, hostname, "gethostbyname_ex")


def gethostbyaddr(ip_address):
    """(hostname, aliases, addresses): the reverse entry of an address."""
    return _host_entry(_abi.polysock_gethostbyaddr, ip_address, "gethostbyaddr")


def gethostname():
    """This machine's host name."""
    return _text_out(_abi.polysock_gethostname, 256).value.decode("utf-8", "replace")


def getfqdn(name=""):
    """A fully qualified name for `name` (this machine's when empty)."""
    arg = _text_arg(name, "host", "getfqdn")
    buf = _text_out(lambda b, n: _abi.polysock_getfqdn(arg, b, n), 1025)
    return buf.value.decode("utf-8", "replace")


def getservbyname(servicename, protocolname=None):
    """The port of a service ("http" -> 80)."""
    return _check(
        _abi.polysock_getservbyname(
            _text_arg(servicename, "servicename", "getservbyname"),
            _text_arg(protocolname, "protocolname", "getservbyname"),
        )
    )


def getservbyport(port, protocolname=None):
    """The service name on a port (80 -> "http")."""
    port = _addr._port(port, "getservbyport")
    proto = _text_arg(protocolname, "protocolname", "getservbyport")
    buf = _text_out(lambda b, n: _abi.polysock_getservbyport(port, proto, b, n), 64)
    return buf.value.decode("utf-8", "replace")


def getprotobyname(protocolname):
    """A protocol's number ("tcp" -> 6)."""
    return _check(
        _abi.polysock_getprotobyname(_text_arg(protocolname, "protocolname", "getprotobyname"))
    )


def inet_pton(address_family, ip_string):
    """An address literal as packed bytes (4 or 16)."""
    text = _text_arg(ip_string, "ip_string", "inet_pton")
    out = ctypes.create_string_buffer(16)
    n = _check(_abi.polysock_inet_pton(_int32(address_family, "address_family"), text, out, 16))
    return out.raw[:n]


def inet_ntop(address_family, packed_ip):
    """Packed address bytes as text."""
    family = _int32(address_family, "address_family")
    buf, n = _buf_in(packed_ip)
    if (family == AF_INET and n != 4) or (family == AF_INET6 and n != 16):
        raise ValueError("invalid length of packed IP address string")
    out = ctypes.create_string_buffer(64)
    _check(_abi.polysock_inet_ntop(family, buf, n, out, 64))
    return out.value.decode("ascii")


def if_nameindex():
    """[(index, name)] of the network interfaces."""
    capacity = 16
    while True:
        entries = (_abi.polysock_interface * capacity)()
        count = ctypes.c_size_t()
        total = _check(_abi.polysock_if_nameindex(entries, capacity, ctypes.byref(count)))
        if total <= capacity:
            break
        capacity = total
    return [(e.index, os.fsdecode(e.name)) for e in entries[: count.value]]


def if_nametoindex(if_name):
    """The index of a network interface."""
    if not isinstance(if_name, (str, bytes)):
        raise TypeError("if_nametoindex(): argument must be str, not %s"
                        % type(if_name).__name__)
    name = os.fsencode(if_name)
    if b"\0" in name:
        raise ValueError("if_nametoindex(): embedded null character")
    return _check(_abi.polysock_if_nametoindex(name))


def if_indextoname(if_index):
    """The name of a network interface."""
    index = operator.index(if_index)
    if not 0 <= index <= 0xFFFFFFFF:
        raise OverflowError("index must be 0-4294967295")
    buf = _text_out(lambda b, n: _abi.polysock_if_indextoname(index, b, n), 64)
    return os.fsdecode(buf.value)


# Byte order: plain arithmetic, no socket involved.


def htons(x):
    """16-bit host to network byte order."""
    x = operator.index(x)
    if not 0 <= x <= 0xFFFF:
        raise OverflowError("htons: Python int too large to convert to C 16-bit unsigned integer")
    return int.from_bytes(x.to_bytes(2, sys.byteorder), "big")


def htonl(x):
    """32-bit host to network byte order."""
    x = operator.index(x)
    if not 0 <= x <= 0xFFFFFFFF:
        raise OverflowError("int larger than 32 bits")
    return int.from_bytes(x.to_bytes(4, sys.byteorder), "big")


ntohs = htons
ntohl = htonl
