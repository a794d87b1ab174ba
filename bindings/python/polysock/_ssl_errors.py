"""polysock.ssl's exceptions, and polysock's TLS codes (POLYSOCK_ETLS_*)
turned into them: one table gives each code its class, OpenSSL's reason
and, for certificates, OpenSSL's verify code and message."""

import enum
import errno

from . import _abi, _socket
from ._errors import errname, last_error

_c = _abi.constant
_POLLOUT = _c("POLLOUT")


class SSLErrorNumber(enum.IntEnum):
    SSL_ERROR_SSL = 1
    SSL_ERROR_WANT_READ = 2
    SSL_ERROR_WANT_WRITE = 3
    SSL_ERROR_WANT_X509_LOOKUP = 4
    SSL_ERROR_SYSCALL = 5
    SSL_ERROR_ZERO_RETURN = 6
    SSL_ERROR_WANT_CONNECT = 7
    SSL_ERROR_EOF = 8
    SSL_ERROR_INVALID_ERROR_CODE = 10


globals().update(SSLErrorNumber.__members__)


class SSLError(OSError):
    """A TLS failure. ``errno`` is an SSL_ERROR_* number, as CPython's;
    ``library`` and ``reason`` as CPython's ("SSL",
    "CERTIFICATE_VERIFY_FAILED"); ``polysock_errno`` is polysock's code
    (POLYSOCK_ETLS_*, or None); str() is "[SSL: REASON] polysock's
    message"."""

    library = None
    reason = None
    polysock_errno = None

    def __str__(self):
        if isinstance(self.strerror, str):
            return self.strerror
        return super().__str__()


class SSLCertVerificationError(SSLError, ValueError):
    """The peer's certificate did not verify: ``verify_code`` and
    ``verify_message`` as OpenSSL's (10, "certificate has expired")."""

    verify_code = None
    verify_message = None


CertificateError = SSLCertVerificationError


class SSLZeroReturnError(SSLError):
    """The TLS session was closed (close_notify): no more data can go."""


class SSLWantReadError(SSLError):
    """Non-blocking: wait until the socket is readable, then call again."""


class SSLWantWriteError(SSLError):
    """Non-blocking: wait until the socket is writable, then call again."""


class SSLSyscallError(SSLError):
    """A system error under TLS (polysock reports those as OSError)."""


class SSLEOFError(SSLError):
    """The connection ended without a TLS close_notify: the data may have
    been truncated."""


_V = SSLCertVerificationError
# One table: polysock's code -> (class, reason, verify code, verify message).
# The verify codes and messages are OpenSSL's X509_V_ERR_* for the same cause.
_TLS_ERRORS = {
    _c("POLYSOCK_ETLS"): (SSLError, None, None, None),
    _c("POLYSOCK_ETLS_CERT_EXPIRED"): (_V, None, 10, "certificate has expired"),
    _c("POLYSOCK_ETLS_CERT_NOT_YET_VALID"): (_V, None, 9, "certificate is not yet valid"),
    _c("POLYSOCK_ETLS_HOSTNAME"): (_V, None, 62, "Hostname mismatch"),
    _c("POLYSOCK_ETLS_UNKNOWN_ISSUER"): (
        _V, None, 20, "unable to get local issuer certificate"),
    _c("POLYSOCK_ETLS_SELF_SIGNED"): (_V, None, 18, "self-signed certificate"),
    _c("POLYSOCK_ETLS_BAD_CERT"): (
        _V, None, 1, "unspecified certificate verification error"),
    _c("POLYSOCK_ETLS_CERT_REQUIRED"): (
        SSLError, "PEER_DID_NOT_RETURN_A_CERTIFICATE", None, None),
    _c("POLYSOCK_ETLS_ALERT"): (SSLError, None, None, None),
    _c("POLYSOCK_ETLS_PROTOCOL"): (SSLError, "PROTOCOL", None, None),
    _c("POLYSOCK_ETLS_INCOMPATIBLE"): (SSLError, "INCOMPATIBLE", None, None),
    _c("POLYSOCK_ETLS_TRUNCATED"): (SSLEOFError, "UNEXPECTED_EOF_WHILE_READING", None, None),
    _c("POLYSOCK_ETLS_PEM"): (SSLError, "PEM_LIB", None, None),
    _c("POLYSOCK_ETLS_CONFIG"): (SSLError, "CONFIG", None, None),
}
del _V
_HOSTNAME = _c("POLYSOCK_ETLS_HOSTNAME")
_ALERT = _c("POLYSOCK_ETLS_ALERT")

# The alerts OpenSSL names SSLV3_ALERT_* (the rest are TLSV1_ALERT_*).
_SSLV3_ALERTS = {
    "unexpected_message", "bad_record_mac", "decompression_failure",
    "handshake_failure", "no_certificate", "bad_certificate",
    "unsupported_certificate", "certificate_revoked", "certificate_expired",
    "certificate_unknown", "illegal_parameter",
}


def _alert_reason(message):
    """OpenSSL's reason for "... peer sent alert unknown_ca"."""
    marker = "peer sent alert "
    at = message.rfind(marker)
    if at < 0:
        return "ALERT"
    name = message[at + len(marker):].split()[0] if message[at + len(marker):] else ""
    if name in _SSLV3_ALERTS:
        return "SSLV3_ALERT_" + name.upper()
    if name in ("certificate_required", "missing_extension"):
        return "TLSV13_ALERT_" + name.upper()
    return "TLSV1_ALERT_" + name.upper()


def _make(cls, number, reason, message, code=None):
    text = "[SSL: %s] %s" % (reason, message) if reason else "[SSL] %s" % message
    err = cls(number, text)
    err.library = "SSL"
    err.reason = reason
    err.polysock_errno = code
    return err


def _from_oserror(e, wants=0, server_hostname=None):
    """The ssl exception for an OSError a polysock call raised (EAGAIN on a
    TLS socket waiting for `wants`); other errors come back unchanged."""
    code = e.errno
    if code in (errno.EAGAIN, errno.EWOULDBLOCK):
        if wants & _POLLOUT:
            cls, number, what = SSLWantWriteError, SSL_ERROR_WANT_WRITE, "write"
        else:
            cls, number, what = SSLWantReadError, SSL_ERROR_WANT_READ, "read"
        return _make(cls, number, None, "The operation did not complete (%s): %s"
                     % (what, e.strerror), code)
    entry = _TLS_ERRORS.get(code)
    if entry is None:
        return e
    cls, reason, verify_code, verify_message = entry
    message = e.strerror or errname(code)
    if code == _ALERT:
        reason = _alert_reason(message)
    if verify_code is not None:
        reason = "CERTIFICATE_VERIFY_FAILED"
        if code == _HOSTNAME and server_hostname is not None:
            ip = _is_ip(server_hostname)
            verify_code = 64 if ip else 62
            verify_message = "%s mismatch, certificate is not valid for '%s'." % (
                "IP address" if ip else "Hostname", server_hostname)
        message = "certificate verify failed: %s (%s)" % (verify_message, message)
    number = SSL_ERROR_EOF if cls is SSLEOFError else SSL_ERROR_SSL
    err = _make(cls, number, reason, message, code)
    if verify_code is not None:
        err.verify_code = verify_code
        err.verify_message = verify_message
    return err


def _is_ip(name):
    try:
        _socket.inet_pton(_c("AF_INET6") if ":" in name else _c("AF_INET"), name)
        return True
    except OSError:
        return False


def _checked(result, **where):
    """`result` of a polysock call, or its failure as the ssl exception."""
    if result < 0:
        raise _from_oserror(last_error(), **where) from None
    return result
