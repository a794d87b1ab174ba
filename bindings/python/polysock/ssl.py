"""polysock.ssl: a subset of CPython's ``ssl`` module on polysock's TLS
(rustls, in libpolysock), for either backend.

    from polysock import ssl

    ctx = ssl.create_default_context()
    with polysock.create_connection(("example.test", 443), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="example.test") as s:
            s.sendall(b"...")

As CPython's ``wrap_socket``, wrapping takes the socket's file descriptor
(``sock.detach()``): the socket given becomes closed and the SSLSocket owns
the connection, with the same timeout. The SSLSocket is a socket of the
ctypes backend (polysock's handles belong to one copy of the library, and
TLS lives in ``libpolysock.so``'s), so it works the same whichever backend
made the socket, and a standard ``socket.socket`` can be wrapped too. All
TLS logic is polysock's; this module converts arguments, results and
errors (the POLYSOCK_ETLS_* codes) into the ``ssl`` module's.
"""

import base64
import ctypes
import enum
import errno
import os
import threading
import warnings

from . import _abi, _ctypes_socket, _socket, _ssl_text
from ._ctypes_socket import _check
from ._errors import last_error
from ._ssl_errors import (  # noqa: F401 (the module's names)
    CertificateError,
    SSLCertVerificationError,
    SSLEOFError,
    SSLError,
    SSLErrorNumber,
    SSLSyscallError,
    SSLWantReadError,
    SSLWantWriteError,
    SSLZeroReturnError,
    _checked,
    _from_oserror,
    _make,
)

_c = _abi.constant
_SOCK_STREAM = _c("SOCK_STREAM")
_STATE_CLOSED = _c("POLYSOCK_TLS_STATE_CLOSED")
_TLS_1_2 = _c("POLYSOCK_TLS_1_2")
_TLS_1_3 = _c("POLYSOCK_TLS_1_3")

#: What this module runs on, in the place of OPENSSL_VERSION.
TLS_LIBRARY = "rustls (libpolysock %s)" % _abi.version()
HAS_SNI = HAS_ALPN = HAS_TLSv1_2 = HAS_TLSv1_3 = HAS_ECDH = True
HAS_NPN = HAS_SSLv2 = HAS_SSLv3 = HAS_TLSv1 = HAS_TLSv1_1 = False

# ---------------------------------------------------------------- enums


class _SSLMethod(enum.IntEnum):
    PROTOCOL_TLS = 2
    PROTOCOL_TLS_CLIENT = 16
    PROTOCOL_TLS_SERVER = 17


class VerifyMode(enum.IntEnum):
    CERT_NONE = 0
    CERT_OPTIONAL = 1
    CERT_REQUIRED = 2


class TLSVersion(enum.IntEnum):
    MINIMUM_SUPPORTED = -2
    MAXIMUM_SUPPORTED = -1
    SSLv3 = 0x0300
    TLSv1 = 0x0301
    TLSv1_1 = 0x0302
    TLSv1_2 = 0x0303
    TLSv1_3 = 0x0304


class Purpose(enum.Enum):
    """What a default context's certificates are for: SERVER_AUTH (a client
    verifying servers) or CLIENT_AUTH (a server verifying clients)."""

    SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
    CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"


for _enum_class in (_SSLMethod, VerifyMode, SSLErrorNumber):
    globals().update(_enum_class.__members__)
del _enum_class

# ---------------------------------------------------------------- context


def _path(value, what):
    try:
        return os.fsencode(value)
    except TypeError:
        raise TypeError("%s should be a valid filesystem path" % what) from None


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _der_to_pem(data):
    """PEM text for DER certificates laid end to end (cadata as bytes)."""
    blocks = []
    view = memoryview(data)
    while view:
        if len(view) < 2 or view[0] != 0x30:
            raise _make(SSLError, SSL_ERROR_SSL, "NOT_ENOUGH_DATA",
                        "cadata does not contain a certificate")
        size, head = view[1], 2
        if size & 0x80:
            n = size & 0x7F
            if n == 0 or n > 4 or len(view) < 2 + n:
                raise _make(SSLError, SSL_ERROR_SSL, "NOT_ENOUGH_DATA",
                            "cadata: bad DER length")
            size, head = int.from_bytes(view[2:2 + n], "big"), 2 + n
        if len(view) < head + size:
            raise _make(SSLError, SSL_ERROR_SSL, "NOT_ENOUGH_DATA",
                        "cadata: a DER certificate is cut short")
        der = base64.encodebytes(bytes(view[:head + size])).replace(b"\n", b"")
        lines = [der[i:i + 64] for i in range(0, len(der), 64)]
        blocks.append(b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines)
                      + b"\n-----END CERTIFICATE-----\n")
        view = view[head + size:]
    return b"".join(blocks)


class _Config:
    """One polysock TLS configuration id, freed with the object."""

    _free = staticmethod(_abi.polysock_tls_config_free)

    def __init__(self, side):
        self.id = _checked(_abi.polysock_tls_config_new(side))

    def __del__(self):
        if getattr(self, "id", -1) > 0:
            self._free(self.id)
            self.id = -1


_CLIENT_SIDE = _c("POLYSOCK_TLS_CLIENT")
_SERVER_SIDE = _c("POLYSOCK_TLS_SERVER")


class SSLContext:
    """Settings for TLS sockets: ``SSLContext(PROTOCOL_TLS_CLIENT)``
    verifies servers (CERT_REQUIRED, check_hostname) against the CAs
    loaded with load_verify_locations / load_default_certs;
    ``SSLContext(PROTOCOL_TLS_SERVER)`` needs load_cert_chain. Changes
    apply to sockets wrapped afterwards."""

    def __init__(self, protocol=None):
        if protocol is None:
            warnings.warn("ssl.SSLContext() without protocol argument is deprecated.",
                          DeprecationWarning, stacklevel=2)
            protocol = PROTOCOL_TLS
        protocol = _ctypes_socket._int32(protocol, "protocol")
        if protocol not in _SSLMethod._value2member_map_:
            raise ValueError("invalid or unsupported protocol version %i" % protocol)
        self._protocol = _SSLMethod(protocol)
        client = protocol == PROTOCOL_TLS_CLIENT
        self._check_hostname = client
        self._verify_mode = CERT_REQUIRED if client else CERT_NONE
        self._minimum = TLSVersion.TLSv1_2
        self._maximum = TLSVersion.MAXIMUM_SUPPORTED
        self._system_roots = False
        self._cas = []  # PEM texts
        self._chain = None  # (chain PEM, key PEM)
        self._alpn = []
        self._lock = threading.Lock()
        self._built = {}  # polysock side -> _Config, until a setting changes

    def _changed(self):
        self._built = {}

    @property
    def protocol(self):
        return self._protocol

    # -- verification

    @property
    def verify_mode(self):
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        value = _ctypes_socket._int32(value, "verify_mode")
        if value not in (0, 1, 2):
            raise ValueError("invalid value for verify_mode")
        if value == CERT_NONE and self._check_hostname:
            raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname "
                             "is enabled.")
        self._verify_mode = VerifyMode(value)
        self._changed()

    @property
    def check_hostname(self):
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value):
        self._check_hostname = bool(value)
        if self._check_hostname and self._verify_mode == CERT_NONE:
            self._verify_mode = CERT_REQUIRED
        self._changed()

    def load_default_certs(self, purpose=Purpose.SERVER_AUTH):
        """Trusts the operating system's CA store (SSL_CERT_FILE and
        SSL_CERT_DIR are honoured)."""
        if not isinstance(purpose, Purpose):
            raise TypeError(purpose)
        self._system_roots = True
        self._changed()

    def set_default_verify_paths(self):
        self.load_default_certs()

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        """Trusts the CAs of a PEM file, of every PEM file in a directory,
        or of `cadata` (PEM text as str, DER certificates as bytes)."""
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        texts = []
        if cafile is not None:
            texts.append(_read(_path(cafile, "cafile")))
        if capath is not None:
            directory = _path(capath, "capath")
            for name in sorted(os.listdir(directory)):
                full = os.path.join(directory, name)
                if os.path.isfile(full):
                    data = _read(full)
                    if b"-----BEGIN CERTIFICATE-----" in data:
                        texts.append(data)
        if cadata is not None:
            if isinstance(cadata, str):
                try:
                    texts.append(cadata.encode("ascii"))
                except UnicodeEncodeError:
                    raise TypeError("cadata should be an ASCII string or a "
                                    "bytes-like object") from None
            else:
                try:
                    der = memoryview(cadata).cast("B")
                except TypeError:
                    raise TypeError("cadata should be an ASCII string or a "
                                    "bytes-like object") from None
                texts.append(_der_to_pem(der))
        scratch = _Config(_CLIENT_SIDE)
        for pem in texts:  # polysock says now what it cannot use
            _checked(_abi.polysock_tls_config_add_ca_pem(scratch.id, pem, len(pem)))
        self._cas.extend(texts)
        self._changed()

    # -- this side's certificate

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        """The certificate chain (PEM, leaf first) and private key (PEM:
        PKCS#8, PKCS#1 or SEC1; in `certfile` when `keyfile` is None) this
        side presents. Encrypted keys (`password`) are not supported."""
        chain = _read(_path(certfile, "certfile"))
        key = chain if keyfile is None else _read(_path(keyfile, "keyfile"))
        if password is not None:
            raise NotImplementedError("polysock.ssl: encrypted private keys (password) "
                                      "are not supported; decrypt the key first")
        scratch = _Config(self._side(self._protocol != PROTOCOL_TLS_SERVER))
        _checked(_abi.polysock_tls_config_cert_pem(scratch.id, chain, len(chain), key,
                                                   len(key)))
        self._chain = (chain, key)
        self._changed()

    def set_alpn_protocols(self, alpn_protocols):
        """The ALPN protocols to offer (client, in order of preference) or
        accept (server)."""
        protocols = []
        for protocol in alpn_protocols:
            data = bytes(protocol, "ascii")
            if not 0 < len(data) <= 255:
                raise _make(SSLError, SSL_ERROR_SSL, None,
                            "ALPN protocols must be 1 to 255 in length")
            if b"\0" in data:
                raise ValueError("ALPN protocol %r contains a null character" % protocol)
            protocols.append(data)
        self._alpn = protocols
        self._changed()

    # -- versions

    def _version(self, value, what):
        value = _ctypes_socket._int32(value, what)
        if value not in TLSVersion._value2member_map_:
            raise ValueError("Unsupported TLS/SSL version 0x%x" % value)
        return TLSVersion(value)

    @property
    def minimum_version(self):
        return self._minimum

    @minimum_version.setter
    def minimum_version(self, value):
        self._minimum = self._version(value, "minimum_version")
        self._changed()

    @property
    def maximum_version(self):
        return self._maximum

    @maximum_version.setter
    def maximum_version(self, value):
        value = self._version(value, "maximum_version")
        if 0 <= value < TLSVersion.TLSv1_2:
            raise ValueError("polysock.ssl speaks TLS 1.2 and 1.3 only (rustls): "
                             "maximum_version %s leaves none" % value.name)
        self._maximum = value
        self._changed()

    # -- building polysock's configuration

    def _side(self, client):
        return _CLIENT_SIDE if client else _SERVER_SIDE

    def _config(self, client):
        """The polysock configuration id for sockets of this side."""
        side = self._side(client)
        with self._lock:
            built = self._built.get(side)
            if built is None:
                built = self._built[side] = self._build(side, client)
            return built

    def _build(self, side, client):
        minimum = _TLS_1_3 if self._minimum == TLSVersion.TLSv1_3 else 0
        maximum = _TLS_1_2 if self._maximum == TLSVersion.TLSv1_2 else 0
        if minimum and maximum:
            raise _make(SSLError, SSL_ERROR_SSL, "NO_PROTOCOLS_AVAILABLE",
                        "minimum_version TLSv1_3 is above maximum_version TLSv1_2")
        config = _Config(side)
        cfg = config.id
        _checked(_abi.polysock_tls_config_system_roots(cfg, 1 if self._system_roots else 0))
        for pem in self._cas:
            _checked(_abi.polysock_tls_config_add_ca_pem(cfg, pem, len(pem)))
        if self._chain is not None:
            chain, key = self._chain
            _checked(_abi.polysock_tls_config_cert_pem(cfg, chain, len(chain), key, len(key)))
        for protocol in self._alpn:
            _checked(_abi.polysock_tls_config_add_alpn(cfg, protocol))
        _checked(_abi.polysock_tls_config_versions(cfg, minimum, maximum))
        if client:
            if self._verify_mode == CERT_NONE:
                _checked(_abi.polysock_tls_config_insecure_skip_verify(cfg))
            elif not self._check_hostname:
                _checked(_abi.polysock_tls_config_insecure_skip_hostname_check(cfg))
        else:
            _checked(_abi.polysock_tls_config_client_auth(cfg, int(self._verify_mode)))
        return config

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        """An SSLSocket over `sock` (a connected, listening or unconnected
        stream socket of either backend, or of the standard library), which
        is detached: the SSLSocket owns the connection from now on."""
        if session is not None:
            raise NotImplementedError("polysock.ssl: session objects are not supported "
                                      "(a client context resumes sessions by itself)")
        return SSLSocket._create(sock, self, bool(server_side), server_hostname,
                                 bool(do_handshake_on_connect), bool(suppress_ragged_eofs))


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None,
                           cadata=None):
    """A context with secure defaults: for SERVER_AUTH, a client context
    that verifies servers against `cafile`/`capath`/`cadata`, or else the
    system's CAs; for CLIENT_AUTH, a server context."""
    if not isinstance(purpose, Purpose):
        raise TypeError(purpose)
    client = purpose == Purpose.SERVER_AUTH
    context = SSLContext(PROTOCOL_TLS_CLIENT if client else PROTOCOL_TLS_SERVER)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    return context


# ---------------------------------------------------------------- sockets

class SSLSocket(_ctypes_socket.socket):
    """A TLS stream: CPython's SSLSocket methods over polysock's TLS.
    Instances come from SSLContext.wrap_socket()."""

    __slots__ = ("_context", "_server_side", "_server_hostname", "_wrapped",
                 "_unwrapped", "_io_refs", "_closed", "do_handshake_on_connect",
                 "suppress_ragged_eofs")

    def __init__(self, *args, **kwargs):
        raise TypeError("%s does not have a public constructor. Instances are returned "
                        "by SSLContext.wrap_socket()." % self.__class__.__name__)

    @classmethod
    def _create(cls, sock, context, server_side, server_hostname, handshake, suppress):
        if server_side and server_hostname is not None:
            raise ValueError("server_hostname can only be specified in client mode")
        if server_side and context._protocol == PROTOCOL_TLS_CLIENT:
            raise ValueError("a PROTOCOL_TLS_CLIENT context cannot make server-side sockets")
        if not server_side and context._protocol == PROTOCOL_TLS_SERVER:
            raise ValueError("a PROTOCOL_TLS_SERVER context cannot make client-side sockets")
        if server_hostname is not None:
            if isinstance(server_hostname, (bytes, bytearray)):
                server_hostname = bytes(server_hostname).decode("ascii")
            if not isinstance(server_hostname, str):
                raise TypeError("server_hostname must be str or bytes, not %s"
                                % type(server_hostname).__name__)
            if not server_hostname or server_hostname.startswith("."):
                raise ValueError("server_hostname cannot be an empty string or start "
                                 "with a leading dot.")
            if "\0" in server_hostname:
                raise ValueError("server_hostname contains a null character")
        if context._check_hostname and not server_side and server_hostname is None:
            raise ValueError("check_hostname requires server_hostname")
        if not hasattr(sock, "detach") or not hasattr(sock, "gettimeout"):
            raise TypeError("wrap_socket() needs a socket, not %s" % type(sock).__name__)
        if sock.type != _SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        # Built first: a configuration that cannot work fails before the
        # socket is taken.
        config = context._config(not server_side)
        timeout = sock.gettimeout()
        try:
            sock.getpeername()
            connected = True
        except OSError:
            connected = False
        if connected and handshake and timeout == 0.0:
            raise ValueError("do_handshake_on_connect should not be specified for "
                             "non-blocking sockets")
        fd = sock.detach()
        h = _abi.polysock_adopt_fd(fd)
        if h < 0:
            err = last_error()
            os.close(fd)
            raise err
        self = cls._new(h, context, server_side, server_hostname, handshake, suppress)
        try:
            self.settimeout(timeout)
            if connected:
                self._wrap(config)
                if handshake:
                    self.do_handshake()
        except BaseException:
            self.close()
            raise
        return self

    @classmethod
    def _new(cls, h, context, server_side, server_hostname, handshake, suppress):
        """An SSLSocket owning handle `h` of libpolysock, not wrapped yet."""
        self = cls._from_handle(h)
        self._context = context
        self._server_side = server_side
        self._server_hostname = server_hostname
        self._wrapped = False
        self._unwrapped = False
        self._io_refs = 0
        self._closed = False
        self.do_handshake_on_connect = handshake
        self.suppress_ragged_eofs = suppress
        return self

    # -- state

    @property
    def context(self):
        return self._context

    @context.setter
    def context(self, value):
        if not isinstance(value, SSLContext):
            raise TypeError("The value must be a SSLContext")
        self._context = value

    @property
    def server_side(self):
        return self._server_side

    @property
    def server_hostname(self):
        return self._server_hostname

    @property
    def family(self):
        return _socket._enum(self._family, _socket.AddressFamily)

    @property
    def type(self):
        return _socket._enum(self._type, _socket.SocketKind)

    def _wrap(self, config=None):
        if config is None:
            config = self._context._config(not self._server_side)
        if self._server_side:
            _checked(_abi.polysock_tls_wrap_server(self._h, config.id))
        else:
            name = self._server_hostname
            if name is None and self._context._verify_mode != CERT_NONE:
                # check_hostname is off: any name will do; an IP sends no SNI.
                name = self.getpeername()[0]
            _checked(_abi.polysock_tls_wrap(self._h, config.id,
                                            None if name is None else name.encode("idna")))
        self._wrapped = True

    def _session(self, op):
        """Wraps a socket connected since wrap_socket(); ENOTCONN before."""
        if self._h == -1:
            raise OSError(errno.EBADF, "%s: the SSL socket is closed" % op)
        if self._unwrapped:
            raise ValueError("No SSL wrapper around " + repr(self))
        if not self._wrapped:
            try:
                self.getpeername()
            except OSError:
                raise OSError(errno.ENOTCONN, "%s: the SSL socket is not connected" % op) \
                    from None
            self._wrap()

    def _error(self, e):
        wants = _abi.polysock_tls_wants(self._h) if self._h != -1 and self._wrapped else 0
        if e.errno == errno.EPIPE and self._h != -1 and self._wrapped and \
                _abi.polysock_tls_state(self._h) == _STATE_CLOSED:
            return _make(SSLZeroReturnError, SSL_ERROR_ZERO_RETURN, None,
                         "TLS/SSL connection has been closed (EOF): %s" % e.strerror,
                         e.errno)
        return _from_oserror(e, max(wants, 0), self._server_hostname)

    def _negotiated(self):
        """The TLS version (POLYSOCK_TLS_1_x) once the handshake is done,
        else 0."""
        if self._h == -1 or not self._wrapped:
            return 0
        return max(_abi.polysock_tls_version(self._h), 0)

    # -- connections

    def connect(self, address):
        """Connects, then (do_handshake_on_connect) runs the handshake."""
        if self._wrapped:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        if self._server_side:
            raise ValueError("can't connect in server-side mode")
        _ctypes_socket.socket.connect(self, address)
        self._wrap()
        if self.do_handshake_on_connect:
            self.do_handshake()

    def connect_ex(self, address):
        """connect() returning an error code instead of raising (OSError);
        the TLS handshake's failures still raise."""
        if self._wrapped:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        code = _ctypes_socket.socket.connect_ex(self, address)
        if code == 0:
            self._wrap()
            if self.do_handshake_on_connect:
                self.do_handshake()
        return code

    def accept(self):
        """(SSLSocket for the new connection, peer address); with
        do_handshake_on_connect, its handshake runs here within the
        listening socket's timeout."""
        h, address = self._accept()
        conn = type(self)._new(h, self._context, True, None, self.do_handshake_on_connect,
                               self.suppress_ragged_eofs)
        try:
            conn._wrap()
            if self.do_handshake_on_connect:
                timeout = conn.gettimeout()
                conn.settimeout(self.gettimeout())
                conn.do_handshake()
                conn.settimeout(timeout)
        except BaseException:
            conn.close()
            raise
        return conn, address

    def do_handshake(self, block=False):
        """Runs the TLS handshake (within the timeout; non-blocking:
        SSLWantReadError / SSLWantWriteError until it is done)."""
        self._session("do_handshake")
        if _abi.polysock_tls_handshake(self._h) < 0:
            raise self._error(last_error()) from None

    def unwrap(self):
        """Ends the TLS session (close_notify both ways, within the
        timeout) and returns this socket, which from then on sends and
        receives plain bytes, as CPython's unwrap() does. Non-blocking:
        SSLWantReadError / SSLWantWriteError until it is done. Decrypted
        bytes not yet received make it fail with EBUSY (receive them, call
        again): polysock never drops them."""
        if self._h == -1 or self._unwrapped or not self._wrapped:
            raise ValueError("No SSL wrapper around " + repr(self))
        if _abi.polysock_tls_unwrap(self._h) < 0:
            raise self._error(last_error()) from None
        self._wrapped = False
        self._unwrapped = True
        return self

    # -- data

    def read(self, len=1024, buffer=None):
        """Up to `len` decrypted bytes (into `buffer`, returning the count,
        when given); b"" at the end of the stream, and, with
        suppress_ragged_eofs, when it ended without close_notify."""
        if self._h == -1 or self._unwrapped:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        self._session("read")
        try:
            if buffer is None:
                return _ctypes_socket.socket.recv(self, len)
            return _ctypes_socket.socket.recv_into(self, buffer, len)
        except OSError as e:
            err = self._error(e)
            if isinstance(err, SSLEOFError) and self.suppress_ragged_eofs:
                return b"" if buffer is None else 0
            raise err from None

    def write(self, data):
        """Encrypts and sends once; returns how many bytes went."""
        if self._h == -1 or self._unwrapped:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self.send(data)

    def _no_flags(self, flags, op):
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to %s() on %s"
                             % (op, self.__class__))

    def recv(self, buflen=1024, flags=0):
        if self._unwrapped:
            return _ctypes_socket.socket.recv(self, buflen, flags)
        self._no_flags(flags, "recv")
        self._session("recv")
        return self.read(buflen)

    def recv_into(self, buffer, nbytes=None, flags=0):
        if self._unwrapped:
            return _ctypes_socket.socket.recv_into(self, buffer, nbytes or 0, flags)
        self._no_flags(flags, "recv_into")
        self._session("recv_into")
        if nbytes is None or nbytes == 0:
            nbytes = memoryview(buffer).nbytes
        return self.read(nbytes, buffer)

    def send(self, data, flags=0):
        if self._unwrapped:
            return _ctypes_socket.socket.send(self, data, flags)
        self._no_flags(flags, "send")
        self._session("send")
        try:
            return _ctypes_socket.socket.send(self, data)
        except OSError as e:
            raise self._error(e) from None

    def sendall(self, data, flags=0):
        """Sends all of `data` within one timeout."""
        if self._unwrapped:
            return _ctypes_socket.socket.sendall(self, data, flags)
        self._no_flags(flags, "sendall")
        self._session("sendall")
        try:
            _ctypes_socket.socket.sendall(self, data)
        except OSError as e:
            raise self._error(e) from None

    def sendfile(self, file, offset=0, count=None):
        """Reads the file and sends it over TLS (no os.sendfile)."""
        return _socket.socket._sendfile_use_send(self, file, offset, count)

    _check_sendfile_params = _socket.socket._check_sendfile_params

    def pending(self):
        """Decrypted bytes ready to be read without waiting."""
        if self._h == -1 or not self._wrapped:
            return 0
        return _check(_abi.polysock_tls_pending(self._h))

    def shutdown(self, how):
        """Shuts the connection down; for writing (SHUT_WR, SHUT_RDWR) it
        first sends close_notify, within the timeout."""
        try:
            _ctypes_socket.socket.shutdown(self, how)
        except OSError as e:
            raise self._error(e) from None

    def sendto(self, *args):
        raise ValueError("sendto not allowed on instances of %s" % self.__class__)

    def recvfrom(self, *args, **kwargs):
        raise ValueError("recvfrom not allowed on instances of %s" % self.__class__)

    def recvfrom_into(self, *args, **kwargs):
        raise ValueError("recvfrom_into not allowed on instances of %s" % self.__class__)

    def sendmsg(self, *args, **kwargs):
        raise NotImplementedError("sendmsg not allowed on instances of %s" % self.__class__)

    def recvmsg(self, *args, **kwargs):
        raise NotImplementedError("recvmsg not allowed on instances of %s" % self.__class__)

    def recvmsg_into(self, *args, **kwargs):
        raise NotImplementedError("recvmsg_into not allowed on instances of %s"
                                  % self.__class__)

    def dup(self):
        raise NotImplementedError("Can't dup() %s instances" % self.__class__.__name__)

    # -- what was negotiated

    def version(self):
        """"TLSv1.3" or "TLSv1.2"; None before the handshake."""
        return {_TLS_1_2: "TLSv1.2", _TLS_1_3: "TLSv1.3"}.get(self._negotiated())

    def cipher(self):
        """(cipher suite, TLS version, secret bits), with OpenSSL's names:
        ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256); None before the
        handshake."""
        if not self._negotiated():
            return None
        name = _ssl_text.text(self._h, _abi.polysock_tls_cipher, 64)
        bits = 128 if "AES_128" in name else 256
        return _ssl_text.openssl_cipher(name), self.version(), bits

    def shared_ciphers(self):
        return None

    def compression(self):
        return None

    def selected_alpn_protocol(self):
        """The ALPN protocol agreed on, or None."""
        if not self._negotiated():
            return None
        return _ssl_text.text(self._h, _abi.polysock_tls_alpn) or None

    def selected_npn_protocol(self):
        return None

    @property
    def session_reused(self):
        """Whether the handshake resumed an earlier session."""
        if not self._negotiated():
            return None
        return bool(_checked(_abi.polysock_tls_resumed(self._h)))

    def getpeercert(self, binary_form=False):
        """The peer's certificate: DER bytes (binary_form), or CPython's
        dict (subject, issuer, notBefore, notAfter, subjectAltName) when it
        was verified ({} when it was not); None when the peer sent none."""
        if self._h == -1:
            raise OSError(errno.EBADF, "getpeercert: the SSL socket is closed")
        if not self._negotiated():
            raise ValueError("handshake not done yet")
        if _checked(_abi.polysock_tls_peer_cert_count(self._h)) == 0:
            return None
        if binary_form:
            size = _checked(_abi.polysock_tls_peer_cert(self._h, 0, None, 0))
            buf = ctypes.create_string_buffer(size)
            _checked(_abi.polysock_tls_peer_cert(self._h, 0, buf, size))
            return buf.raw[:size]
        if self._context._verify_mode == CERT_NONE:
            return {}
        return _ssl_text.peer_cert(self._h)

    # -- files and closing

    makefile = _socket.socket.makefile
    _decref_socketios = _socket.socket._decref_socketios
    __repr__ = _socket.socket.__repr__
    __enter__ = _socket.socket.__enter__
    __exit__ = _socket.socket.__exit__
    __getstate__ = _socket.socket.__getstate__

    def close(self):
        """Closes the socket (once every makefile() file is closed too);
        no close_notify is sent: shutdown() sends it."""
        self._closed = True
        if self._io_refs <= 0:
            _ctypes_socket.socket.close(self)

    def detach(self):
        self._closed = True
        return _ctypes_socket.socket.detach(self)

