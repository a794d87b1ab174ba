"""polysock's TLS texts in the forms CPython's ssl (OpenSSL) gives them:
cipher suite names, certificate names, times and addresses, and
getpeercert()'s dict."""

import ctypes
import time

from . import _abi, _socket
from ._ssl_errors import _checked

_c = _abi.constant

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
# OpenSSL's names of the TLS 1.2 suites rustls offers (TLS 1.3's are IANA's).
_OPENSSL_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
# RFC 4514 short names -> the long names CPython's getpeercert() uses.
_ATTRIBUTES = {
    "CN": "commonName", "C": "countryName", "L": "localityName",
    "ST": "stateOrProvinceName", "STREET": "streetAddress", "O": "organizationName",
    "OU": "organizationalUnitName", "DC": "domainComponent", "UID": "userId",
    "serialNumber": "serialNumber", "emailAddress": "emailAddress",
}
_SAN_KINDS = {"IP": "IP Address"}


def _split_escaped(text, sep):
    """`text` split at `sep` where it is not escaped with a backslash."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(value):
    out, i = bytearray(), 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            pair = value[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out += value[i + 1].encode("utf-8")
            i += 2
            continue
        out += ch.encode("utf-8")
        i += 1
    return out.decode("utf-8", "replace")


def _name(text):
    """polysock's RFC 4514 text as CPython's tuple of RDNs, the most
    general first: ((("countryName", "XX"),), (("commonName", "a"),))."""
    if not text:
        return ()
    rdns = []
    for rdn in reversed(_split_escaped(text, ",")):
        pairs = []
        for atv in _split_escaped(rdn, "+"):
            key, _, value = atv.partition("=")
            pairs.append((_ATTRIBUTES.get(key, key), _unescape(value)))
        rdns.append(tuple(pairs))
    return tuple(rdns)


def _openssl_ipv6(text):
    """An IPv6 address as OpenSSL writes it: "0:0:0:0:0:0:0:1"."""
    packed = _socket.inet_pton(_c("AF_INET6"), text)
    return ":".join("%X" % int.from_bytes(packed[i:i + 2], "big") for i in range(0, 16, 2))


def _asn1_time(seconds):
    """OpenSSL's text of a time: "Jan  5 09:34:43 2018 GMT"."""
    t = time.gmtime(seconds)
    return "%s %2d %02d:%02d:%02d %d GMT" % (
        _MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_year)


def openssl_cipher(name):
    """OpenSSL's name of an IANA cipher suite name."""
    return _OPENSSL_SUITES.get(name, name)


def text(h, call, size=256):
    """The NUL-terminated text polysock `call(h, buf, len)` writes."""
    buf = _socket._text_out(lambda b, n: call(h, b, n), size)
    return buf.value.decode("utf-8", "replace")


def peer_cert(h):
    """getpeercert()'s dict for the peer certificate of TLS socket `h`."""
    before = ctypes.c_int64()
    after = ctypes.c_int64()
    _checked(_abi.polysock_tls_peer_validity(h, ctypes.byref(before), ctypes.byref(after)))
    cert = {
        "subject": _name(text(h, _abi.polysock_tls_peer_subject)),
        "issuer": _name(text(h, _abi.polysock_tls_peer_issuer)),
        "notBefore": _asn1_time(before.value),
        "notAfter": _asn1_time(after.value),
    }
    raw = _socket._text_out(lambda b, n: _abi.polysock_tls_peer_san(h, b, n), 256)
    san = []
    for entry in _socket._list_out(raw.raw):
        kind, _, value = entry.partition(":")
        if kind == "IP" and ":" in value:
            value = _openssl_ipv6(value)
        san.append((_SAN_KINDS.get(kind, kind), value))
    if san:
        cert["subjectAltName"] = tuple(san)
    return cert
