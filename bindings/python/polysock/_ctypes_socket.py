"""The ctypes backend: CPython's `_socket` surface (BACKEND.md) over
libpolysock.so through ctypes.

Everything here converts: Python values to the C arguments declared in
_abi, results back to Python values, failures to Python exceptions (see
_errors). The socket logic (timeouts, EINTR, SIGPIPE, close-on-exec,
address parsing, resolving) is polysock's.
"""

import ctypes
import errno
import math
import numbers
import operator
import os
import struct
import sys
import warnings

from . import _abi
from . import _addr
from ._errors import last_error, take_interrupt

_c_char = ctypes.c_char
AF_INET = _abi.constant("AF_INET")
_const = _abi.constant
AF_UNIX = _const("AF_UNIX")
SOCK_STREAM = _const("SOCK_STREAM")
AF_VSOCK = _const("AF_VSOCK")  # None where the platform lacks it
SOCK_DGRAM = _const("SOCK_DGRAM")
SOL_SOCKET = _const("SOL_SOCKET")
SCM_RIGHTS = _const("SCM_RIGHTS")
MSG_CTRUNC = _const("MSG_CTRUNC")
MSG_TRUNC = _const("MSG_TRUNC")
_INT = struct.calcsize("i")
_UNIX_NAME_MAX = 108  # POLYSOCK_UNIX_NAME_MAX: the longest AF_UNIX name
_IOV_MAX = 1024  # POLYSOCK_IOV_MAX: polysock's limit of buffers a message

# ---------------------------------------------------------------- helpers


def _check(result):
    """`result`, or the exception for the call that just failed."""
    if result < 0:
        raise last_error()
    return result


# Handles that several socket objects share (socket(fileno=) of an fd an
# object already owns): handle -> how many objects hold it.
_SHARED = {}


def _unshare(h):
    """One object less on `h`: how many are left, or None when `h` was not
    shared."""
    n = _SHARED.get(h)
    if n is None:
        return None
    if n <= 1:
        del _SHARED[h]
        return 0
    _SHARED[h] = n - 1
    return n - 1


def _unix_name_out(call, empty):
    """(call's result, the AF_UNIX name it wrote) for a polysock_*_unix
    output (name, cap, &len): `empty` when the name has no bytes."""
    name = ctypes.create_string_buffer(_UNIX_NAME_MAX)
    n = ctypes.c_size_t(0)
    r = call(name, _UNIX_NAME_MAX, ctypes.byref(n))
    if n.value == 0:
        return r, empty
    return r, _addr.from_unix_name(name.raw[:min(n.value, _UNIX_NAME_MAX)])


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
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError("a bytes-like object is required, not '%s'"
                        % type(data).__name__) from None
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


def _views(buffers, op, writable):
    """The buffers of sendmsg/recvmsg_into as flat byte memoryviews."""
    try:
        items = list(buffers)
    except TypeError:
        raise TypeError("%s() argument 1 must be an iterable" % op) from None
    views = []
    for item in items:
        if isinstance(item, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        try:
            view = memoryview(item)
        except TypeError:
            raise TypeError("a bytes-like object is required, not '%s'"
                            % type(item).__name__) from None
        if writable and view.readonly:
            raise TypeError("%s() argument 1 must be an iterable of read-write "
                            "bytes-like objects" % op)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        views.append(view)
    if len(views) > _IOV_MAX:
        raise OSError(errno.EMSGSIZE, "Message too long")
    return views


def _iovecs(views):
    """(polysock_iovec array, the ctypes buffers it points into)."""
    iov = (_abi.polysock_iovec * max(1, len(views)))()
    keep = []
    for i, view in enumerate(views):
        if view.nbytes == 0:
            continue
        if view.readonly:
            data = view.tobytes()
            keep.append(data)
            iov[i].base = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p)
        else:
            buf = (_c_char * view.nbytes).from_buffer(view)
            keep.append(buf)
            iov[i].base = ctypes.addressof(buf)
        iov[i].len = view.nbytes
    return iov, keep


def _scatter(data, n, views):
    pos = 0
    for view in views:
        if pos >= n:
            break
        k = min(view.nbytes, n - pos)
        view[:k] = data[pos:pos + k]
        pos += k


def _ancillary_in(ancdata):
    """CPython's [(level, type, data)] as a checked list."""
    try:
        items = list(ancdata)
    except TypeError:
        raise TypeError("sendmsg() argument 2 must be an iterable") from None
    out = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise TypeError("[sendmsg() ancillary data items]() argument must be "
                            "sequence of length 3, not %s" % type(item).__name__)
        level, kind, data = item
        out.append((_int32(level, "level"), _int32(kind, "type"), bytes(memoryview(data))))
    return out


def _fds_to_send(items, family):
    """The one descriptor of SCM_RIGHTS ancillary data (what polysock can
    pass), or OSError(EOPNOTSUPP)."""
    fds = []
    for level, kind, data in items:
        if level != SOL_SOCKET or kind != SCM_RIGHTS or family != AF_UNIX:
            raise OSError(errno.EOPNOTSUPP, "sendmsg: polysock passes no ancillary "
                          "data but SCM_RIGHTS on AF_UNIX sockets")
        fds += [fd for (fd,) in struct.iter_unpack("i", data[: len(data) // _INT * _INT])]
    if len(fds) != 1:
        raise OSError(errno.EOPNOTSUPP, "sendmsg: polysock passes one descriptor a message")
    return fds


def _cmsg_len(length):
    """CMSG_LEN on Linux: the cmsghdr (aligned) plus `length`."""
    align = ctypes.sizeof(ctypes.c_size_t)
    header = (ctypes.sizeof(ctypes.c_size_t) + 2 * _INT + align - 1) // align * align
    return header + length


def _cmsg_align(length):
    align = ctypes.sizeof(ctypes.c_size_t)
    return (length + align - 1) // align * align


def _control_out(items):
    """CPython's [(level, type, data)] in the kernel's cmsghdr layout, as
    CPython lays it out: each item CMSG_SPACE(len) bytes, its cmsg_len
    CMSG_LEN(len), the padding zero."""
    header = _cmsg_len(0)
    buf = (ctypes.c_size_t * (sum(header + _cmsg_align(len(d)) for _, _, d in items)
                              // ctypes.sizeof(ctypes.c_size_t)))()
    view = memoryview(buf).cast("B")
    offset = 0
    for level, kind, data in items:
        struct.pack_into("Nii", view, offset, header + len(data), level, kind)
        view[offset + header:offset + header + len(data)] = data
        offset += header + _cmsg_align(len(data))
    return buf


def _control_in(control, controllen):
    """The control messages of the first `controllen` bytes of `control`,
    walked as CPython walks them (CMSG_FIRSTHDR/CMSG_NXTHDR, a message cut
    by MSG_CTRUNC keeps the bytes that arrived), with CPython's
    RuntimeWarning for a malformed or truncated one."""
    header = _cmsg_len(0)
    view = memoryview(control).cast("B")[:controllen]
    items = []
    offset = 0 if controllen >= header else None
    while offset is not None:
        status = 0
        if offset + header > controllen:
            status = -1
        else:
            length, level, kind = struct.unpack_from("Nii", view, offset)
            if length < header:
                status = -1
            else:
                space = controllen - offset - header
                datalen = length - header
                if space < datalen:
                    status, datalen = 1, space
        if status:
            warnings.warn("received malformed or improperly-truncated ancillary data",
                          RuntimeWarning, stacklevel=3)
        if status < 0:
            break
        items.append((level, kind, bytes(view[offset + header:offset + header + datalen])))
        # glibc's CMSG_NXTHDR: the next one only where this one and a whole
        # header after it fit.
        needed = header + (_cmsg_align(length) - length)
        remaining = controllen - offset
        if remaining < needed or remaining - needed < length:
            break
        offset += _cmsg_align(length)
    return items


# ---------------------------------------------------------------- socket


class socket:
    """The ctypes backend's socket: CPython's _socket.socket surface.

    ``socket(family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None)``: with
    `fileno`, the socket takes ownership of that open socket fd (family,
    type and protocol are then read from the kernel).
    """

    __slots__ = ("__weakref__", "_h", "_family", "_type", "_proto")

    # Kept on the class so that __del__ works during interpreter shutdown.
    _polysock_close = staticmethod(_abi.polysock_close)

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if getattr(self, "_h", -1) != -1:
            self.close()  # __init__ called again
        self._h = -1
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
            if isinstance(fileno, float):
                raise TypeError("socket fileno must be an integer")
            fileno = _int32(fileno, "fileno")
            if fileno < 0:
                raise ValueError("negative file descriptor")
            h = _abi.polysock_adopt_fd(fileno)
            if h < 0 and _abi.polysock_errno() == errno.EEXIST:
                self._share(fileno)
                return
        self._adopt(_check(h))

    def _share(self, fd):
        """Uses the handle of the socket object that owns `fd`: CPython lets
        two objects share an fd (closing either closes it; the other then
        gets EBADF). _SHARED counts the objects on each such handle."""
        h = _check(_abi.polysock_handle_of_fd(fd))
        info = _abi.polysock_socket_info()
        _check(_abi.polysock_info(h, ctypes.byref(info)))
        self._h = h
        self._family, self._type, self._proto = info.family, info.socktype, info.protocol
        _SHARED[h] = _SHARED.get(h, 1) + 1

    @classmethod
    def _from_handle(cls, h, like=None):
        self = cls.__new__(cls)
        self._h = -1
        if like is None:
            self._adopt(h)
        else:  # accept, dup: the kind of the socket it comes from, as CPython
            self._h = h
            self._family, self._type, self._proto = like._family, like._type, like._proto
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
        return self._family

    @property
    def type(self):
        return self._type

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
        return "<socket object, fd=%d, family=%d, type=%d, proto=%d>" % (
            self.fileno(), self._family, self._type, self._proto)

    def __del__(self):
        # A socket collected while open warns and is closed, as CPython's.
        h = getattr(self, "_h", -1)
        if h != -1:
            try:
                warnings.warn("unclosed %r" % (self,), ResourceWarning, source=self)
            finally:
                self._h = -1
                if _SHARED:
                    _unshare(h)
                self._polysock_close(h)

    def close(self):
        """Closes the socket. Calls blocked on it in other threads wake up
        with EBADF; closing twice is harmless."""
        h = self._h
        if h != -1:
            self._h = -1
            if _SHARED and _unshare(h) is not None and _abi.polysock_fileno(h) < 0:
                # Another object on the same fd closed it, so close(2)
                # would fail here: as CPython's close() does.
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            # -1 only when close(2) failed (EBADF: the fd had been closed
            # behind polysock's back); the handle is closed either way.
            _check(_abi.polysock_close(h))

    def detach(self):
        """Gives the OS fd to the caller (who must close it); the socket
        object becomes closed. Returns -1 if it already was."""
        h = self._h
        if h == -1:
            return -1
        if _SHARED and h in _SHARED:
            left = _unshare(h)
            if left > 0 or _abi.polysock_fileno(h) < 0:
                # Other objects still use the handle (or it is closed):
                # forget it here only, as CPython forgets the fd.
                self._h = -1
                return _abi.polysock_fileno(h) if left > 0 else -1
        fd = _check(_abi.polysock_detach(h))
        self._h = -1
        return fd

    def dup(self):
        """A new handle on a duplicate of the fd, with the same timeout."""
        return _check(_abi.polysock_dup(self._h))

    # -- connections

    def bind(self, address):
        if self._family == AF_UNIX:
            name = _addr.unix_name(address, "bind")
            _check(_abi.polysock_bind_unix(self._h, name, len(name)))
            return
        host, port = _addr.to_polysock(self._family, address, "bind")
        _check(_abi.polysock_bind(self._h, host, port))

    def listen(self, backlog=None):
        """Starts listening; without `backlog`, min(SOMAXCONN, 128)."""
        if backlog is None:
            backlog = -1
        else:
            backlog = max(0, _int32(backlog, "backlog"))
        _check(_abi.polysock_listen(self._h, backlog))

    def _accept(self):
        """(handle of the new socket, peer address)."""
        if self._family == AF_UNIX:
            return _unix_name_out(
                lambda name, cap, n: _check(_abi.polysock_accept_unix(self._h, name, cap, n)),
                "")
        peer = _addr.new()
        h = _check(_abi.polysock_accept(self._h, ctypes.byref(peer)))
        return h, _addr.from_polysock(peer)

    def connect(self, address):
        """Connects, waiting as the socket's timeout allows (TimeoutError
        when it passes; BlockingIOError with EINPROGRESS when it is 0)."""
        if self._family == AF_UNIX:
            name = _addr.unix_name(address, "connect")
            _check(_abi.polysock_connect_unix(self._h, name, len(name)))
            return
        host, port = _addr.to_polysock(self._family, address, "connect")
        _check(_abi.polysock_connect(self._h, host, port))

    def connect_ex(self, address):
        """connect() returning the error code (0 when connected; EINPROGRESS
        on a non-blocking socket) instead of raising. A name that does not
        resolve still raises gaierror, as in CPython."""
        if self._family == AF_UNIX:
            try:
                self.connect(address)
            except OSError as e:
                return e.errno
            return 0
        host, port = _addr.to_polysock(self._family, address, "connect_ex")
        code = _abi.polysock_connect_ex(self._h, host, port)
        if code >= _abi.ERR_BASE:
            raise last_error()
        if code == errno.EINTR:
            exc = take_interrupt()  # a signal handler raised it
            if exc is not None:
                raise exc
        return code

    def shutdown(self, how):
        _check(_abi.polysock_shutdown(self._h, _int32(how, "how")))

    def getsockname(self):
        if self._family == AF_UNIX:
            return _unix_name_out(
                lambda name, cap, n: _check(_abi.polysock_getsockname_unix(self._h, name, cap, n)),
                "")[1]
        out = _addr.new()
        _check(_abi.polysock_getsockname(self._h, ctypes.byref(out)))
        return _addr.from_polysock(out)

    def getpeername(self):
        if self._family == AF_UNIX:
            return _unix_name_out(
                lambda name, cap, n: _check(_abi.polysock_getpeername_unix(self._h, name, cap, n)),
                "")[1]
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

    def sendto(self, *args):
        """sendto(data, address) or sendto(data, flags, address)."""
        if len(args) == 2:
            (data, address), flags = args, 0
        elif len(args) == 3:
            data, flags, address = args
        else:
            raise TypeError("sendto() takes 2 or 3 arguments (%d given)" % len(args))
        buf, n = _buf_in(data)
        if self._family == AF_UNIX:
            name = _addr.unix_name(address, "sendto")
            return _check(_abi.polysock_sendto_unix(
                self._h, buf, n, _int32(flags, "flags"), name, len(name)))
        host, port = _addr.to_polysock(self._family, address, "sendto")
        return _check(
            _abi.polysock_sendto(self._h, buf, n, _int32(flags, "flags"), host, port)
        )

    def _receive_nothing(self, flags):
        """A 0-byte receive, which polysock refuses: a datagram socket
        takes (and drops) the next datagram, as the kernel does; a stream
        socket returns at once. Returns the sender (None on a stream)."""
        if self._type & 0xF != SOCK_DGRAM:
            if self._h == -1:
                raise OSError(errno.EBADF, "Bad file descriptor")
            return None
        scratch = ctypes.create_string_buffer(1)
        return self._recvfrom(scratch, 1, flags)[1]

    def _recvfrom(self, buf, n, flags):
        """(byte count, sender address) of one receive into `buf`."""
        if self._family == AF_UNIX:
            # An unnamed sender gives no address at all (None), as in CPython.
            return _unix_name_out(
                lambda name, cap, ln: _check(_abi.polysock_recvfrom_unix(
                    self._h, buf, n, flags, name, cap, ln)),
                None)
        sender = _addr.new()
        n = _check(_abi.polysock_recvfrom(self._h, buf, n, flags, ctypes.byref(sender)))
        return n, _addr.from_polysock(sender)

    def recv(self, bufsize, flags=0):
        """Up to `bufsize` bytes; b"" only at end of stream."""
        data = bytearray(_bufsize(bufsize, "recv"))
        if not data:
            self._receive_nothing(_int32(flags, "flags"))
            return b""
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
        if n == 0:
            self._receive_nothing(_int32(flags, "flags"))
            return 0
        return _check(_abi.polysock_recv(self._h, buf, n, _int32(flags, "flags")))

    def recvfrom(self, bufsize, flags=0):
        """(data, sender address)."""
        data = bytearray(_bufsize(bufsize, "recvfrom"))
        if not data:
            return b"", self._receive_nothing(_int32(flags, "flags"))
        n, sender = self._recvfrom(
            (_c_char * len(data)).from_buffer(data), len(data), _int32(flags, "flags"))
        del data[n:]
        return bytes(data), sender

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        """(byte count, sender address)."""
        buf, n = _buf_out(buffer, nbytes, "recvfrom_into")
        if n == 0:
            return 0, self._receive_nothing(_int32(flags, "flags"))
        return self._recvfrom(buf, n, _int32(flags, "flags"))

    # -- messages

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        """Sends the buffers as one message, with ancillary data in
        CPython's form [(level, type, data)]: any, as the kernel takes it,
        where the library has polysock_sendmsg_ex; else one socket
        descriptor a message, (SOL_SOCKET, SCM_RIGHTS, packed int)."""
        views = _views(buffers, "sendmsg", writable=False)
        items = _ancillary_in(ancdata)
        flags = _int32(flags, "flags")
        host, port = None, 0
        if address is not None:
            host, port = _addr.to_polysock(self._family, address, "sendmsg")
        if not items:
            iov, keep = _iovecs(views)
            return _check(_abi.polysock_sendmsg(self._h, iov, len(views), flags, host, port))
        if _abi.has("polysock_sendmsg_ex"):
            return self._sendmsg_control(views, items, flags, host, port)
        fds = _fds_to_send(items, self._family)
        if address is not None:
            raise OSError(errno.EOPNOTSUPP, "sendmsg: polysock passes a descriptor "
                          "to the connected peer only")
        data = b"".join(bytes(v) for v in views)
        h = _abi.polysock_handle_of_fd(fds[0])
        temporary = h < 0
        if temporary:
            h = _check(_abi.polysock_fromfd(fds[0]))
        try:
            return _check(_abi.polysock_send_handle(self._h, h, data, len(data), flags))
        finally:
            if temporary:
                _abi.polysock_close(h)

    def _sendmsg_control(self, views, items, flags, host, port):
        """sendmsg with any ancillary data, as the kernel takes it."""
        iov, keep = _iovecs(views)
        control = _control_out(items)
        to = None
        if host is not None:
            to = _addr.new()
            to.family = self._family
            to.port = port
            if len(host) >= _abi.ADDR_HOST_LEN:
                raise OSError(errno.EINVAL, "sendmsg: address too long")
            to.host = host
            to = ctypes.byref(to)
        return _check(_abi.polysock_sendmsg_ex(
            self._h, iov, len(views), control, ctypes.sizeof(control), flags, to))

    def recvmsg(self, bufsize, ancbufsize=0, flags=0):
        """(data, ancdata, msg_flags, address)."""
        data = bytearray(_bufsize(bufsize, "recvmsg"))
        n, ancdata, msg_flags, address = self._recvmsg([memoryview(data)], ancbufsize, flags)
        del data[n:]
        return bytes(data), ancdata, msg_flags, address

    def recvmsg_into(self, buffers, ancbufsize=0, flags=0):
        """(nbytes, ancdata, msg_flags, address), into writable buffers."""
        return self._recvmsg(_views(buffers, "recvmsg_into", writable=True), ancbufsize, flags)

    def _recvmsg(self, views, ancbufsize, flags):
        ancbufsize = operator.index(ancbufsize)
        if ancbufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        flags = _int32(flags, "flags")
        total = sum(v.nbytes for v in views)
        if ancbufsize > 0 and _abi.has("polysock_recvmsg_ex"):
            return self._recvmsg_control(views, ancbufsize, flags)
        if ancbufsize >= _cmsg_len(_INT) and self._family == AF_UNIX and total > 0:
            return self._recv_handle(views, total, flags)
        if total == 0:
            return 0, [], 0, self._receive_nothing(flags)
        iov, keep = _iovecs(views)
        sender = _addr.new()
        out_flags = ctypes.c_int32()
        n = _check(_abi.polysock_recvmsg(
            self._h, iov, len(views), flags, ctypes.byref(sender), ctypes.byref(out_flags)))
        return n, [], out_flags.value, _addr.from_polysock(sender)

    def _recvmsg_control(self, views, ancbufsize, flags):
        """recvmsg with room for `ancbufsize` bytes of ancillary data, which
        comes back in CPython's form (received descriptors are the
        caller's, close-on-exec)."""
        if not views:
            views = [memoryview(bytearray(0))]
        iov, keep = _iovecs(views)
        size = ctypes.sizeof(ctypes.c_size_t)
        control = (ctypes.c_size_t * ((ancbufsize + size - 1) // size))()
        sender = _addr.new()
        controllen = ctypes.c_size_t()
        out_flags = ctypes.c_int32()
        n = _check(_abi.polysock_recvmsg_ex(
            self._h, iov, len(views), control, ancbufsize, flags, ctypes.byref(sender),
            ctypes.byref(controllen), ctypes.byref(out_flags)))
        ancdata = _control_in(control, controllen.value)
        return n, ancdata, out_flags.value, _addr.from_polysock(sender)

    def _recv_handle(self, views, total, flags):
        single = len(views) == 1
        target = views[0] if single else bytearray(total)
        buf = (_c_char * total).from_buffer(target)
        handle = _abi.polysock_t(-1)
        out_flags = ctypes.c_int32()
        n = _check(_abi.polysock_recv_handle(
            self._h, buf, total, flags, ctypes.byref(handle), ctypes.byref(out_flags)))
        if not single:
            _scatter(target, n, views)
        ancdata = []
        if handle.value != -1:
            fd = _abi.polysock_detach(handle.value)
            if fd < 0:
                err = last_error()
                _abi.polysock_close(handle.value)
                raise err
            ancdata.append((SOL_SOCKET, SCM_RIGHTS, struct.pack("i", fd)))
        return n, ancdata, out_flags.value, None

    # -- options and timeouts

    def getsockopt(self, level, optname, buflen=None):
        """An int option, or with `buflen` the option's raw bytes."""
        level = _int32(level, "level")
        optname = _int32(optname, "optname")
        if buflen is None and level == AF_VSOCK:
            # VM socket options are 64-bit; CPython reads them so.
            return struct.unpack("Q", self.getsockopt(level, optname, 8))[0]
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
        elif isinstance(value, int) and level == AF_VSOCK:
            self.setsockopt(level, optname, struct.pack("Q", value))
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


def getdefaulttimeout():
    """The timeout new sockets start with, in seconds (None: blocking)."""
    return _from_ms(_abi.polysock_getdefaulttimeout())


def setdefaulttimeout(timeout):
    """Sets the timeout new sockets start with (created or accepted; this
    is polysock's process-wide default, shared with other users of the
    library in this process)."""
    _check(_abi.polysock_setdefaulttimeout(_to_ms(timeout)))


