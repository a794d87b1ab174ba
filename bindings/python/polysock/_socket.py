"""The socket class and the module functions, over polysock's C ABI.

Everything here converts: Python values to the C arguments declared in
_abi, results back to Python values, failures to Python exceptions (see
_errors). The socket logic (timeouts, EINTR, SIGPIPE, close-on-exec,
address parsing, resolving) is polysock's.
"""

import ctypes
import errno
import io
import math
import numbers
import operator
import os
import sys

from . import _abi
from . import _addr
from ._errors import last_error

# Filled in by __init__ from the constants table.
AF_INET = AF_INET6 = AF_UNIX = SOCK_STREAM = IPPROTO_IPV6 = IPV6_V6ONLY = None
AddressFamily = SocketKind = None

_c_char = ctypes.c_char


class _DefaultTimeout:
    def __repr__(self):
        return "<polysock._GLOBAL_DEFAULT_TIMEOUT>"


#: The "use getdefaulttimeout()" marker of create_connection's timeout.
_GLOBAL_DEFAULT_TIMEOUT = _DefaultTimeout()

# ---------------------------------------------------------------- helpers


def _check(result):
    """`result`, or the exception for the call that just failed."""
    if result < 0:
        raise last_error()
    return result


def _to_ms(value):
    """Python's timeout (seconds as a number, or None) in polysock's
    milliseconds (-1: block). A positive value never rounds down to 0."""
    if value is None:
        return -1
    if not isinstance(value, (int, float)):
        if not isinstance(value, numbers.Real):
            raise TypeError(
                "Timeout value must be int, float or None, not %s"
                % type(value).__name__
            )
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("Invalid value NaN (not a number)")
        if math.isinf(value):
            raise OverflowError("timeout doesn't fit into C timeval")
    if value < 0:
        raise ValueError("Timeout value out of range")
    ms = value * 1000
    whole = round(ms)
    ms = whole if abs(ms - whole) < 1e-6 else math.ceil(ms)
    if ms == 0 and value > 0:
        ms = 1
    if ms > 2**62:
        raise OverflowError("timeout doesn't fit into C timeval")
    return int(ms)


def _from_ms(ms):
    return None if ms < 0 else ms / 1000.0


def _int32(value, what):
    value = operator.index(value)
    if not -(2**31) <= value < 2**31:
        raise OverflowError("%s does not fit in a C int" % what)
    return value


def _buf_in(data):
    """(pointer argument, length) for a bytes-like object to send. bytes
    and writable buffers are passed in place; other read-only buffers are
    copied once."""
    if isinstance(data, bytes):
        return data, len(data)
    if isinstance(data, str):
        raise TypeError("a bytes-like object is required, not 'str'")
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    n = view.nbytes
    if view.readonly:
        return view.tobytes(), n
    return (_c_char * n).from_buffer(view), n


def _buf_out(buffer, nbytes, op):
    """(pointer argument, length) for a writable buffer to receive into."""
    view = memoryview(buffer)
    if view.readonly:
        raise TypeError("%s() argument 'buffer' must be read-write bytes-like object" % op)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    size = view.nbytes
    nbytes = operator.index(nbytes)
    if nbytes < 0:
        raise ValueError("negative buffersize in %s" % op)
    if nbytes == 0:
        nbytes = size
    elif nbytes > size:
        raise ValueError("buffer too small for requested bytes")
    return (_c_char * size).from_buffer(view), nbytes


def _bufsize(bufsize, op):
    bufsize = operator.index(bufsize)
    if bufsize < 0:
        raise ValueError("negative buffersize in %s" % op)
    return bufsize


def _enum(value, enum):
    if enum is None:
        return value
    try:
        return enum(value)
    except ValueError:
        return value


# ---------------------------------------------------------------- socket


class socket:
    """A polysock socket with the methods of CPython's socket.socket.

    ``socket(family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None)``: with
    `fileno`, the socket takes ownership of that open socket fd (family,
    type and protocol are then read from the kernel).
    """

    __slots__ = ("__weakref__", "_h", "_io_refs", "_closed", "_family", "_type", "_proto")

    # Kept on the class so that __del__ works during interpreter shutdown.
    _polysock_close = staticmethod(_abi.polysock_close)

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        self._h = -1
        self._io_refs = 0
        self._closed = False
        if fileno is None:
            if family == -1:
                family = AF_INET
            if type == -1:
                type = SOCK_STREAM
            if proto == -1:
                proto = 0
            h = _abi.polysock_socket(
                _int32(family, "family"), _int32(type, "type"), _int32(proto, "proto")
            )
        else:
            h = _abi.polysock_adopt_fd(_int32(fileno, "fileno"))
        self._adopt(_check(h))

    @classmethod
    def _from_handle(cls, h):
        self = cls.__new__(cls)
        self._h = -1
        self._io_refs = 0
        self._closed = False
        self._adopt(h)
        return self

    def _adopt(self, h):
        info = _abi.polysock_socket_info()
        if _abi.polysock_info(h, ctypes.byref(info)) < 0:
            err = last_error()
            _abi.polysock_close(h)
            raise err
        self._h = h
        self._family = info.family
        self._type = info.socktype
        self._proto = info.protocol

    # -- identity

    @property
    def family(self):
        """The address family (AddressFamily when it is a known one)."""
        return _enum(self._family, AddressFamily)

    @property
    def type(self):
        """The socket type (SocketKind when it is a known one)."""
        return _enum(self._type, SocketKind)

    @property
    def proto(self):
        return self._proto

    @property
    def handle(self):
        """polysock's handle for this socket (-1 once closed or detached):
        for passing the socket to C code that uses polysock directly."""
        return self._h

    def fileno(self):
        """The OS file descriptor, or -1 once the socket is closed."""
        if self._h == -1:
            return -1
        return _check(_abi.polysock_fileno(self._h))

    def __repr__(self):
        closed = self._h == -1
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

    # -- lifecycle

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __del__(self):
        # A socket that is collected while open is closed, silently.
        h = getattr(self, "_h", -1)
        if h != -1:
            self._h = -1
            self._polysock_close(h)

    def _real_close(self):
        h = self._h
        if h != -1:
            self._h = -1
            _abi.polysock_close(h)

    def close(self):
        """Closes the socket (once every makefile() file is closed too).
        Calls blocked on it in other threads wake up with EBADF."""
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def _decref_socketios(self):
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def detach(self):
        """Gives the OS fd to the caller (who must close it); the socket
        object becomes closed. Returns -1 if it already was."""
        self._closed = True
        h = self._h
        if h == -1:
            return -1
        self._h = -1
        return _check(_abi.polysock_detach(h))

    def dup(self):
        """A new socket on a duplicate of the fd, with the same timeout."""
        return socket._from_handle(_check(_abi.polysock_dup(self._h)))

    # -- connections

    def bind(self, address):
        host, port = _addr.to_polysock(self._family, address, "bind")
        _check(_abi.polysock_bind(self._h, host, port))

    def listen(self, backlog=None):
        """Starts listening; without `backlog`, min(SOMAXCONN, 128)."""
        if backlog is None:
            backlog = -1
        else:
            backlog = max(0, _int32(backlog, "backlog"))
        _check(_abi.polysock_listen(self._h, backlog))

    def accept(self):
        """(new socket, peer address). The new socket starts with the
        default timeout (getdefaulttimeout())."""
        peer = _addr.new()
        h = _check(_abi.polysock_accept(self._h, ctypes.byref(peer)))
        return socket._from_handle(h), _addr.from_polysock(peer)

    def _accept(self):
        # CPython's private name, used by some servers: (fd, address).
        sock, address = self.accept()
        return sock.detach(), address

    def connect(self, address):
        """Connects, waiting as the socket's timeout allows (TimeoutError
        when it passes; BlockingIOError with EINPROGRESS when it is 0)."""
        host, port = _addr.to_polysock(self._family, address, "connect")
        _check(_abi.polysock_connect(self._h, host, port))

    def connect_ex(self, address):
        """connect() returning the error code (0 when connected; EINPROGRESS
        on a non-blocking socket) instead of raising. A name that does not
        resolve still raises gaierror, as in CPython."""
        host, port = _addr.to_polysock(self._family, address, "connect_ex")
        code = _abi.polysock_connect_ex(self._h, host, port)
        if code >= _abi.ERR_BASE:
            raise last_error()
        return code

    def shutdown(self, how):
        _check(_abi.polysock_shutdown(self._h, _int32(how, "how")))

    def getsockname(self):
        out = _addr.new()
        _check(_abi.polysock_getsockname(self._h, ctypes.byref(out)))
        return _addr.from_polysock(out)

    def getpeername(self):
        out = _addr.new()
        _check(_abi.polysock_getpeername(self._h, ctypes.byref(out)))
        return _addr.from_polysock(out)

    # -- data

    def send(self, data, flags=0):
        """Sends once; returns how many bytes went."""
        buf, n = _buf_in(data)
        return _check(_abi.polysock_send(self._h, buf, n, _int32(flags, "flags")))

    def sendall(self, data, flags=0):
        """Sends all of `data` within one timeout (the timeout covers the
        whole call, not each chunk)."""
        buf, n = _buf_in(data)
        _check(_abi.polysock_sendall(self._h, buf, n, _int32(flags, "flags"), None))

    def sendto(self, data, flags_or_address, address=None):
        """sendto(data, address) or sendto(data, flags, address)."""
        if address is None:
            flags, address = 0, flags_or_address
        else:
            flags = flags_or_address
        buf, n = _buf_in(data)
        host, port = _addr.to_polysock(self._family, address, "sendto")
        return _check(
            _abi.polysock_sendto(self._h, buf, n, _int32(flags, "flags"), host, port)
        )

    def recv(self, bufsize, flags=0):
        """Up to `bufsize` bytes; b"" only at end of stream."""
        data = bytearray(_bufsize(bufsize, "recv"))
        n = _check(
            _abi.polysock_recv(
                self._h, (_c_char * len(data)).from_buffer(data), len(data),
                _int32(flags, "flags"),
            )
        )
        del data[n:]
        return bytes(data)

    def recv_into(self, buffer, nbytes=0, flags=0):
        """Receives into a writable buffer; returns the byte count."""
        buf, n = _buf_out(buffer, nbytes, "recv_into")
        return _check(_abi.polysock_recv(self._h, buf, n, _int32(flags, "flags")))

    def recvfrom(self, bufsize, flags=0):
        """(data, sender address)."""
        data = bytearray(_bufsize(bufsize, "recvfrom"))
        sender = _addr.new()
        n = _check(
            _abi.polysock_recvfrom(
                self._h, (_c_char * len(data)).from_buffer(data), len(data),
                _int32(flags, "flags"), ctypes.byref(sender),
            )
        )
        del data[n:]
        return bytes(data), _addr.from_polysock(sender)

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        """(byte count, sender address)."""
        buf, n = _buf_out(buffer, nbytes, "recvfrom_into")
        sender = _addr.new()
        n = _check(
            _abi.polysock_recvfrom(
                self._h, buf, n, _int32(flags, "flags"), ctypes.byref(sender)
            )
        )
        return n, _addr.from_polysock(sender)

    def sendfile(self, file, offset=0, count=None):
        """Sends `count` bytes (None: to the end) of a file opened in binary
        mode, from `offset`, with sendfile(2) where the platform has it;
        returns the number of bytes sent and leaves the file positioned
        after them. A file object without an OS file (io.BytesIO...) is
        read and sent instead. The socket's timeout covers the whole call."""
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if not self._type & SOCK_STREAM:
            raise ValueError("only SOCK_STREAM type sockets are supported")
        offset = operator.index(offset)
        if offset < 0:
            raise ValueError("offset must be non-negative")
        if count is not None:
            count = operator.index(count)
            if count <= 0:
                raise ValueError("count must be a positive integer (got %r)" % count)
        try:
            fd = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            return self._sendfile_by_reading(file, offset, count)
        sent = ctypes.c_size_t()
        n = _abi.polysock_sendfile(self._h, fd, offset, count or 0, ctypes.byref(sent))
        err = last_error() if n < 0 else None
        if err is not None and err.errno == errno.ESPIPE and sent.value == 0:
            # A pipe or a device: no offsets to send from; read it instead.
            return self._sendfile_by_reading(file, offset, count)
        if sent.value > 0 and hasattr(file, "seek"):
            file.seek(offset + sent.value)
        if err is not None:
            raise err
        return n

    def _sendfile_by_reading(self, file, offset, count):
        if offset and hasattr(file, "seek"):
            file.seek(offset)
        total = 0
        while count is None or total < count:
            size = 65536 if count is None else min(65536, count - total)
            data = file.read(size)
            if not data:
                break
            self.sendall(data)
            total += len(data)
        return total

    def makefile(self, mode="r", buffering=None, *, encoding=None, errors=None,
                 newline=None):
        """A file object over the socket: "r", "w", "rw", with "b" for
        bytes. Reading lines works in every mode; closing the socket is
        deferred until the files are closed too."""
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

    # -- options and timeouts

    def getsockopt(self, level, optname, buflen=None):
        """An int option, or with `buflen` the option's raw bytes."""
        level = _int32(level, "level")
        optname = _int32(optname, "optname")
        if buflen is None:
            value = ctypes.c_int32()
            _check(_abi.polysock_getsockopt_int(self._h, level, optname, ctypes.byref(value)))
            return value.value
        buflen = operator.index(buflen)
        if not 0 < buflen <= 1024:
            raise OSError("getsockopt buflen out of range")
        buf = ctypes.create_string_buffer(buflen)
        out_len = ctypes.c_size_t()
        _check(
            _abi.polysock_getsockopt_bytes(
                self._h, level, optname, buf, buflen, ctypes.byref(out_len)
            )
        )
        return buf.raw[: out_len.value]

    def setsockopt(self, level, optname, value, optlen=None):
        """setsockopt(level, optname, int or bytes-like) or
        setsockopt(level, optname, None, optlen)."""
        level = _int32(level, "level")
        optname = _int32(optname, "optname")
        if optlen is not None:
            if value is not None:
                raise TypeError("setsockopt() with optlen takes None as value")
            _check(
                _abi.polysock_setsockopt_bytes(
                    self._h, level, optname, None, operator.index(optlen)
                )
            )
        elif isinstance(value, int):
            _check(
                _abi.polysock_setsockopt_int(
                    self._h, level, optname, _int32(value, "option value")
                )
            )
        else:
            buf, n = _buf_in(value)
            _check(_abi.polysock_setsockopt_bytes(self._h, level, optname, buf, n))

    def settimeout(self, value):
        """None blocks, 0 makes calls non-blocking, a positive number of
        seconds bounds each blocking call (TimeoutError). polysock keeps
        milliseconds: a value is rounded up to the next millisecond."""
        _check(_abi.polysock_settimeout(self._h, _to_ms(value)))

    def gettimeout(self):
        ms = ctypes.c_int64()
        _check(_abi.polysock_gettimeout(self._h, ctypes.byref(ms)))
        return _from_ms(ms.value)

    def setblocking(self, flag):
        """setblocking(True) is settimeout(None); False is settimeout(0)."""
        _check(_abi.polysock_setblocking(self._h, 1 if flag else 0))

    def getblocking(self):
        return bool(_check(_abi.polysock_getblocking(self._h)))

    @property
    def timeout(self):
        """The timeout in seconds, None when blocking (as gettimeout())."""
        return self.gettimeout()


SocketType = socket


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
        if len(memoryview(b)) == 0:
            return 0
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
        return False

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


def socketpair(family=None, type=None, proto=0):
    """Two connected sockets (AF_UNIX, SOCK_STREAM by default)."""
    if family is None:
        family = AF_UNIX
    if type is None:
        type = SOCK_STREAM
    pair = (_abi.polysock_t * 2)()
    _check(
        _abi.polysock_socketpair(
            _int32(family, "family"), _int32(type, "type"), _int32(proto, "proto"), pair
        )
    )
    first = socket._from_handle(pair[0])
    try:
        second = socket._from_handle(pair[1])
    except BaseException:
        first.close()
        raise
    return first, second


def fromfd(fd, family=None, type=None, proto=0):
    """A socket on a duplicate of open socket fd `fd` (which stays the
    caller's). Family, type and protocol are read from the kernel; the
    arguments are accepted for compatibility."""
    return socket._from_handle(_check(_abi.polysock_fromfd(_int32(fd, "fd"))))


def getdefaulttimeout():
    """The timeout new sockets start with, in seconds (None: blocking)."""
    return _from_ms(_abi.polysock_getdefaulttimeout())


def setdefaulttimeout(timeout):
    """Sets the timeout new sockets start with (created or accepted; this
    is polysock's process-wide default, shared with other users of the
    library in this process)."""
    _check(_abi.polysock_setdefaulttimeout(_to_ms(timeout)))


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
    all_errors=True it comes inside an ExceptionGroup)."""
    host, port = address
    host = _text_arg(host, "host", "create_connection")
    port = _connect_port(port)
    source_host, source_port = None, 0
    if source_address is not None:
        source_host, source_port = source_address
        source_host = _text_arg(source_host, "host", "create_connection") or None
        source_port = _addr._port(source_port, "create_connection")
    h = _abi.polysock_create_connection(
        host, port, _ms_or_default(timeout), source_host, source_port
    )
    if h < 0:
        err = last_error()
        if all_errors and sys.version_info >= (3, 11):
            raise ExceptionGroup("create_connection failed", [err])  # noqa: F821
        raise err
    sock = socket._from_handle(h)
    if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
        try:
            sock.settimeout(timeout)
        except BaseException:
            sock.close()
            raise
    return sock


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
            sock.listen(None if backlog < 0 else backlog)
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
    return socket._from_handle(h)


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
        addr.flowinfo = operator.index(sockaddr[2])
    if len(sockaddr) > 3:
        addr.scope_id = operator.index(sockaddr[3])
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
