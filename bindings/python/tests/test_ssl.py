"""polysock.ssl against CPython's own ssl module (OpenSSL) as the peer, in
both directions, TLS 1.2 and 1.3, with certificates made here by the
openssl command (in a temporary directory, removed at the end)."""

import contextlib
import errno
import hashlib
import os
import select
import shutil
import socket as std
import ssl as std_ssl
import subprocess
import tempfile
import threading
import time
import unittest

from support import WAIT, Thread, listener, polysock, skip_no_ipv6

from polysock import ssl

CERTS = None
NEED_OPENSSL = os.environ.get("CI") or os.environ.get("POLYSOCK_REQUIRE_RUNTIMES")


def openssl(*args):
    subprocess.run(("openssl",) + args, cwd=CERTS, check=True, capture_output=True,
                   timeout=60)


def make_ca(name, cn):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-subj",
            "/CN=" + cn, "-days", "2")


def make_leaf(name, subject, san, issuer="ca", days="2", key=("ec", "-pkeyopt",
              "ec_paramgen_curve:P-256"), serial=[100]):
    serial[0] += 1
    openssl("req", "-newkey", *key, "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", subject)
    with open(os.path.join(CERTS, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nsubjectAltName=%s\n"
                "extendedKeyUsage=serverAuth,clientAuth\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", issuer + ".pem", "-CAkey",
            issuer + ".key", "-set_serial", str(serial[0]), "-days", days, "-extfile",
            name + ".ext", "-out", name + ".pem")


def setUpModule():
    global CERTS
    if shutil.which("openssl") is None:
        if NEED_OPENSSL:
            raise AssertionError("the TLS tests need the openssl command (CI installs it)")
        raise unittest.SkipTest("openssl not found: the TLS tests make their certificates "
                                "with it")
    CERTS = tempfile.mkdtemp(prefix="polysock-py-tls-")
    try:
        make_ca("ca", "polysock test CA")
        make_ca("other_ca", "some other CA")
        names = "DNS:localhost,IP:127.0.0.1,IP:::1"
        make_leaf("server", "/C=XX/O=polysock, tests/CN=localhost", names)
        make_leaf("rsa_server", "/CN=localhost", names, key=("rsa:2048",))
        make_leaf("client", "/O=polysock tests/CN=client.test", "DNS:client.test")
        make_leaf("expired", "/CN=localhost", names, days="-1")
        make_leaf("wrong_name", "/CN=other.test", "DNS:other.test")
        make_leaf("unknown_issuer", "/CN=localhost", names, issuer="other_ca")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "self_signed.key", "-out", "self_signed.pem", "-subj", "/CN=localhost",
                "-days", "2", "-addext", "basicConstraints=critical,CA:FALSE", "-addext",
                "subjectAltName=" + names)
    except BaseException:
        shutil.rmtree(CERTS, True)  # tearDownModule does not run after this fails
        raise


def tearDownModule():
    if CERTS:
        shutil.rmtree(CERTS, True)


def cert(name):
    return os.path.join(CERTS, name + ".pem")


def key(name):
    return os.path.join(CERTS, name + ".key")


def versions(ctx, tls, module):
    if tls == "1.2":
        ctx.maximum_version = module.TLSVersion.TLSv1_2
    elif tls == "1.3":
        ctx.minimum_version = module.TLSVersion.TLSv1_3
    return ctx


def server_ctx(module, name="server", tls=None, alpn=None, verify=None):
    ctx = module.SSLContext(module.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert(name), key(name))
    if verify is not None:
        ctx.load_verify_locations(cert("ca"))
        ctx.verify_mode = verify
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return versions(ctx, tls, module)


def client_ctx(module, tls=None, alpn=None, client_cert=None, ca="ca"):
    ctx = module.SSLContext(module.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cert(ca))
    if client_cert:
        ctx.load_cert_chain(cert(client_cert), key(client_cert))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return versions(ctx, tls, module)


def report(t):
    """What a TLS socket of either module negotiated."""
    return {"version": t.version(), "cipher": t.cipher(),
            "alpn": t.selected_alpn_protocol(), "peer": t.getpeercert()}


def std_serve(ctx, handler, hold=None):
    """A CPython ssl server for one connection in a thread: (address,
    Thread whose result is handler(tls socket)). With `hold` (an Event),
    its handshake starts once that is set."""
    server = listener(module=std)

    def run():
        with server:
            conn, _ = server.accept()
            conn.settimeout(WAIT)
            if hold is not None and not hold.wait(WAIT):
                raise AssertionError("the server was never let go")
            with ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False) as t:
                return handler(t)

    return server.getsockname(), Thread(run)


def std_connect(address, ctx, handler, hostname="localhost"):
    """A CPython ssl client in a thread: Thread whose result is
    handler(tls socket)."""
    def run():
        raw = std.create_connection(address, timeout=WAIT)
        with ctx.wrap_socket(raw, server_hostname=hostname,
                             suppress_ragged_eofs=False) as t:
            return handler(t)

    return Thread(run)


def echo(t):
    """Echoes until the stream ends: (how it ended, bytes, what was
    negotiated)."""
    info = report(t)
    total = 0
    while True:
        try:
            data = t.recv(65536)
        except std_ssl.SSLEOFError:
            return "eof_without_close_notify", total, info
        if not data:
            return "close_notify", total, info
        t.sendall(data)
        total += len(data)


def bulk(case, t, size=3 << 20):
    """Sends `size` random bytes through an echoing peer and checks that
    the same bytes (by sha256) came back."""
    data = os.urandom(size)
    sender = Thread(t.sendall, data)
    got, n = hashlib.sha256(), 0
    while n < size:
        chunk = t.recv(65536)
        case.assertTrue(chunk, "end of stream after %d of %d bytes" % (n, size))
        got.update(chunk)
        n += len(chunk)
    sender.result()
    case.assertEqual(got.hexdigest(), hashlib.sha256(data).hexdigest())


def lockstep_bulk(t, size=3 << 20, chunk=1 << 16):
    """bulk() for a CPython ssl socket, whose OpenSSL object must not be
    used by two threads at once: each chunk is sent, then read back.
    Returns (sha256 sent, sha256 received)."""
    sent, got = hashlib.sha256(), hashlib.sha256()
    for _ in range(size // chunk):
        data = os.urandom(chunk)
        sent.update(data)
        t.sendall(data)
        n = 0
        while n < chunk:
            back = t.recv(chunk - n)
            if not back:
                raise AssertionError("end of stream in the middle of a chunk")
            got.update(back)
            n += len(back)
    return sent.hexdigest(), got.hexdigest()


def connect(address, ctx, **kwargs):
    raw = polysock.create_connection(address, timeout=WAIT)
    return ctx.wrap_socket(raw, server_hostname=kwargs.pop("hostname", "localhost"), **kwargs)


class ClientTest(unittest.TestCase):
    """polysock.ssl clients, CPython ssl servers."""

    def check_echo(self, tls, name="server"):
        address, server = std_serve(server_ctx(std_ssl, name, tls), echo)
        with connect(address, client_ctx(ssl, tls)) as t:
            mine = report(t)
            bulk(self, t)
            t.shutdown(polysock.SHUT_WR)
            self.assertEqual(t.recv(10), b"")
        end, total, theirs = server.result()
        self.assertEqual((end, total), ("close_notify", 3 << 20))
        want = "TLSv1.2" if tls == "1.2" else "TLSv1.3"
        self.assertEqual(mine["version"], want)
        self.assertEqual(mine["version"], theirs["version"])
        self.assertEqual(mine["cipher"], theirs["cipher"])
        return mine

    def test_echo_tls13(self):
        self.check_echo("1.3")

    def test_echo_tls12(self):
        self.check_echo("1.2")

    def test_echo_tls12_rsa_names_the_cipher_as_openssl(self):
        cipher = self.check_echo("1.2", "rsa_server")["cipher"]
        self.assertTrue(cipher[0].startswith("ECDHE-RSA-"), cipher)

    def test_getpeercert_as_cpython(self):
        for tls in ("1.2", "1.3"):
            address, server = std_serve(server_ctx(std_ssl, tls=tls), echo)
            theirs = std_connect(address, client_ctx(std_ssl), lambda t: (
                t.getpeercert(), t.getpeercert(True)))
            theirs_cert, theirs_der = theirs.result()
            server.result()
            address, server = std_serve(server_ctx(std_ssl, tls=tls), echo)
            with connect(address, client_ctx(ssl)) as t:
                mine = t.getpeercert()
                self.assertEqual(t.getpeercert(binary_form=True), theirs_der)
            server.result()
            for field in ("subject", "issuer", "notBefore", "notAfter", "subjectAltName"):
                self.assertEqual(mine[field], theirs_cert[field], field)
            self.assertEqual(mine["subject"][1], (("organizationName", "polysock, tests"),))

    def test_alpn(self):
        for tls in ("1.2", "1.3"):
            address, server = std_serve(server_ctx(std_ssl, tls=tls, alpn=["x-other", "h2"]),
                                        echo)
            with connect(address, client_ctx(ssl, tls, alpn=["h2", "http/1.1"])) as t:
                self.assertEqual(t.selected_alpn_protocol(), "h2")
            self.assertEqual(server.result()[2]["alpn"], "h2")
            address, server = std_serve(server_ctx(std_ssl, tls=tls), echo)
            with connect(address, client_ctx(ssl, tls, alpn=["h2"])) as t:
                self.assertIsNone(t.selected_alpn_protocol())
            server.result()

    def test_client_certificate(self):
        for tls in ("1.2", "1.3"):
            ctx = server_ctx(std_ssl, tls=tls, verify=std_ssl.CERT_REQUIRED)
            address, server = std_serve(ctx, echo)
            with connect(address, client_ctx(ssl, tls, client_cert="client")) as t:
                t.sendall(b"ping")
                self.assertEqual(t.recv(4), b"ping")
            peer = server.result()[2]["peer"]
            self.assertIn((("commonName", "client.test"),), peer["subject"])

    def check_verify_failure(self, name, hostname="localhost"):
        """The error polysock's client and CPython's give for the server
        certificate `name`: both SSLCertVerificationError, same code and
        message."""
        def tolerant(t):
            return echo(t)

        def attempt(module, connect_with):
            address, server = std_serve(server_ctx(std_ssl, name), tolerant)
            try:
                with self.assertRaises(module.SSLCertVerificationError) as caught:
                    connect_with(address)
            finally:
                try:
                    server.result()
                except (OSError, ValueError):
                    pass  # the server sees the client's alert
            return caught.exception

        def std_client(address):
            raw = std.create_connection(address, timeout=WAIT)
            with client_ctx(std_ssl).wrap_socket(raw, server_hostname=hostname):
                pass

        theirs = attempt(std_ssl, std_client)
        mine = attempt(ssl, lambda a: connect(a, client_ctx(ssl), hostname=hostname).close())
        self.assertEqual((mine.verify_code, mine.verify_message),
                         (theirs.verify_code, theirs.verify_message))
        self.assertIsInstance(mine, ssl.SSLError)
        self.assertIsInstance(mine, OSError)
        self.assertIsInstance(mine, ValueError)
        self.assertEqual(mine.errno, ssl.SSL_ERROR_SSL)
        self.assertEqual((mine.library, mine.reason), ("SSL", "CERTIFICATE_VERIFY_FAILED"))
        self.assertTrue(str(mine).startswith("[SSL: CERTIFICATE_VERIFY_FAILED] "
                                             "certificate verify failed: "), str(mine))
        return mine

    def test_expired(self):
        e = self.check_verify_failure("expired")
        self.assertEqual(e.polysock_errno, polysock.POLYSOCK_ETLS_CERT_EXPIRED)
        self.assertIn("certificate expired (notAfter", str(e))

    def test_unknown_issuer(self):
        e = self.check_verify_failure("unknown_issuer")
        self.assertIn("unknown issuer (issuer CN=some other CA)", str(e))

    def test_hostname_mismatch(self):
        e = self.check_verify_failure("wrong_name")
        self.assertIn("hostname mismatch: certificate is for other.test", str(e))

    def test_ip_address_mismatch(self):
        e = self.check_verify_failure("wrong_name", hostname="127.0.0.1")
        self.assertEqual(e.verify_code, 64)

    def test_unverified_client_gets_an_empty_peer_cert(self):
        address, server = std_serve(server_ctx(std_ssl, "unknown_issuer"), echo)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with connect(address, ctx) as t:
            self.assertEqual(t.getpeercert(), {})
            self.assertTrue(t.getpeercert(True).startswith(b"\x30"))
        server.result()

    def test_no_hostname_check(self):
        address, server = std_serve(server_ctx(std_ssl, "wrong_name"), echo)
        ctx = client_ctx(ssl)
        ctx.check_hostname = False
        with connect(address, ctx, hostname=None) as t:
            self.assertEqual(t.version(), "TLSv1.3")
        server.result()

    def test_non_blocking_handshake_with_select(self):
        for tls in ("1.2", "1.3"):
            hold = threading.Event()
            address, server = std_serve(server_ctx(std_ssl, tls=tls), echo, hold)
            raw = polysock.create_connection(address, timeout=WAIT)
            raw.setblocking(False)
            with raw.dup() as copy, self.assertRaises(ValueError):
                client_ctx(ssl).wrap_socket(copy, server_hostname="localhost")
            t = client_ctx(ssl).wrap_socket(raw, server_hostname="localhost",
                                            do_handshake_on_connect=False)
            with t:
                self.assertEqual(t.gettimeout(), 0.0)
                with self.assertRaises(ssl.SSLWantReadError):
                    t.do_handshake()  # the hello went; the server has not answered
                hold.set()
                drive(t.do_handshake, t)
                self.assertEqual(t.version(), "TLSv1.2" if tls == "1.2" else "TLSv1.3")
                with self.assertRaises(ssl.SSLWantReadError) as caught:
                    t.recv(10)
                self.assertEqual(caught.exception.errno, ssl.SSL_ERROR_WANT_READ)
                drive(lambda: t.sendall(b"over a poller"), t)
                self.assertEqual(drive(lambda: t.recv(100), t, result=True), b"over a poller")
            server.result()

    def test_non_blocking_connect_then_handshake(self):
        address, server = std_serve(server_ctx(std_ssl), echo)
        t = client_ctx(ssl).wrap_socket(polysock.socket(), server_hostname="localhost",
                                        do_handshake_on_connect=False)
        with t:
            t.setblocking(False)
            self.assertIn(t.connect_ex(address), (0, polysock.EINPROGRESS))
            self.assertEqual(select.select([], [t], [], WAIT)[1], [t])
            drive(t.do_handshake, t)
            drive(lambda: t.sendall(b"late handshake"), t)
            self.assertEqual(drive(lambda: t.recv(100), t, result=True), b"late handshake")
        server.result()

    @skip_no_ipv6
    def test_ipv6_address_as_server_hostname(self):
        server = listener(std.AF_INET6, "::1", module=std)
        ctx = server_ctx(std_ssl)

        def run():
            with server:
                conn, _ = server.accept()
                conn.settimeout(WAIT)
                with ctx.wrap_socket(conn, server_side=True) as t:
                    return echo(t)

        done = Thread(run)
        raw = polysock.create_connection(server.getsockname()[:2], timeout=WAIT)
        with client_ctx(ssl).wrap_socket(raw, server_hostname="::1") as t:
            self.assertEqual(t.server_hostname, "::1")
            self.assertEqual(t.family, polysock.AF_INET6)
            t.sendall(b"v6")
            self.assertEqual(t.recv(2), b"v6")
        done.result()

    def test_makefile_readline(self):
        def lines(t):
            t.sendall(b"".join(b"line %d\n" % i for i in range(1000)))
            return echo(t)

        address, server = std_serve(server_ctx(std_ssl), lines)
        with connect(address, client_ctx(ssl)) as t:
            f = t.makefile("rwb")
            for i in range(1000):
                self.assertEqual(f.readline(), b"line %d\n" % i)
            f.write(b"back\n")
            f.flush()
            self.assertEqual(f.readline(), b"back\n")
            text = t.makefile("r", encoding="ascii")
            t.close()  # deferred: the files still use it
            f.write(b"still open\n")
            f.flush()
            self.assertEqual(text.readline(), "still open\n")
            f.close()
            text.close()
            self.assertEqual(t.fileno(), -1)
        self.assertEqual(server.result()[0], "eof_without_close_notify")

    def test_pending(self):
        def one_record(t):
            t.sendall(b"x" * 100)
            return echo(t)

        address, server = std_serve(server_ctx(std_ssl), one_record)
        with connect(address, client_ctx(ssl)) as t:
            self.assertEqual(t.pending(), 0)
            self.assertEqual(t.recv(10), b"x" * 10)
            self.assertEqual(t.pending(), 90)
            self.assertEqual(t.recv(100), b"x" * 90)
            self.assertEqual(t.pending(), 0)
        server.result()

    def test_ca_directory_and_der_cadata(self):
        capath = os.path.join(CERTS, "capath")
        os.makedirs(capath, exist_ok=True)
        shutil.copy(cert("ca"), os.path.join(capath, "ca.pem"))
        with open(os.path.join(capath, "notes.txt"), "w") as f:
            f.write("not a certificate: skipped\n")
        with open(cert("ca")) as f:
            der = std_ssl.PEM_cert_to_DER_cert(f.read())
        for kwargs in ({"capath": capath}, {"cadata": der}, {"cadata": bytearray(der)}):
            address, server = std_serve(server_ctx(std_ssl), echo)
            with connect(address, ssl.create_default_context(**kwargs)) as t:
                self.assertEqual(t.getpeercert()["subject"][-1],
                                 (("commonName", "localhost"),), kwargs.keys())
            server.result()

    def test_default_context_uses_the_system_store(self):
        address, server = std_serve(server_ctx(std_ssl), echo)
        ctx = ssl.create_default_context()
        self.assertEqual((ctx.verify_mode, ctx.check_hostname), (ssl.CERT_REQUIRED, True))
        with self.assertRaises(ssl.SSLError) as caught:
            connect(address, ctx).close()
        # The test CA is in no system store: unknown issuer, or no trusted
        # CA at all on a machine without a store.
        self.assertIn(caught.exception.polysock_errno, (polysock.POLYSOCK_ETLS_UNKNOWN_ISSUER,
                                                        polysock.POLYSOCK_ETLS_CONFIG))
        try:
            server.result()
        except (OSError, ValueError):
            pass  # the server sees the client's alert, or never a hello

    def test_sendfile(self):
        path = os.path.join(CERTS, "payload.bin")
        data = os.urandom(200000)
        with open(path, "wb") as f:
            f.write(data)
        address, server = std_serve(server_ctx(std_ssl), echo)
        with connect(address, client_ctx(ssl)) as t, open(path, "rb") as f:
            sender = Thread(t.sendfile, f, 1000)
            back = bytearray()
            while len(back) < len(data) - 1000:
                chunk = t.recv(65536)
                self.assertTrue(chunk)
                back += chunk
            self.assertEqual(sender.result(), len(data) - 1000)
            self.assertEqual(bytes(back), data[1000:])
        server.result()

    def test_self_signed(self):
        e = self.check_verify_failure("self_signed")
        self.assertEqual(e.polysock_errno, polysock.POLYSOCK_ETLS_SELF_SIGNED)

    def test_server_not_speaking_tls(self):
        with listener(module=std) as plain:
            def garbage():
                conn, _ = plain.accept()
                with conn:
                    conn.settimeout(WAIT)
                    conn.recv(4096)  # the hello
                    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                    conn.recv(4096)  # until the client gives up

            server = Thread(garbage)
            with self.assertRaises(ssl.SSLError) as caught:
                connect(plain.getsockname(), client_ctx(ssl)).close()
            server.result()
        e = caught.exception
        self.assertEqual(e.polysock_errno, polysock.POLYSOCK_ETLS_PROTOCOL)
        self.assertEqual((e.errno, e.library), (ssl.SSL_ERROR_SSL, "SSL"))
        self.assertIn("tls handshake with localhost", str(e))

    def test_timeout_bounds_the_handshake(self):
        with listener(module=std) as silent:  # accepts, never answers
            with connect_raw(silent.getsockname(), 0.2) as raw:
                t = client_ctx(ssl).wrap_socket(raw, server_hostname="localhost",
                                                do_handshake_on_connect=False)
                with t:
                    self.assertEqual(t.gettimeout(), 0.2)
                    with self.assertRaises(TimeoutError):
                        t.do_handshake()

    def test_timeout_bounds_recv(self):
        address, server = std_serve(server_ctx(std_ssl), echo)
        with connect(address, client_ctx(ssl)) as t:
            t.settimeout(0.2)
            with self.assertRaises(TimeoutError):
                t.recv(10)
        server.result()

    def test_wrap_before_connect_and_standard_sockets(self):
        address, server = std_serve(server_ctx(std_ssl), echo)
        t = client_ctx(ssl).wrap_socket(polysock.socket(), server_hostname="localhost")
        with t:
            t.settimeout(WAIT)
            with self.assertRaises(OSError):
                t.send(b"not connected yet")
            t.connect(address)
            self.assertEqual(t.version(), "TLSv1.3")
            with self.assertRaises(ValueError):
                t.connect(address)
        server.result()
        address, server = std_serve(server_ctx(std_ssl), echo)
        raw = std.create_connection(address, timeout=WAIT)
        with client_ctx(ssl).wrap_socket(raw, server_hostname="localhost") as t:
            self.assertEqual(raw.fileno(), -1)  # detached, as CPython's
            t.sendall(b"from a standard socket")
            self.assertEqual(t.recv(100), b"from a standard socket")
        server.result()

    def test_use_after_close_as_cpython(self):
        """The same calls on a closed SSLSocket of each module give the
        same results or exception types."""
        def outcomes(module, sock_module):
            address, server = std_serve(server_ctx(std_ssl), echo)
            raw = sock_module.create_connection(address, timeout=WAIT)
            t = client_ctx(module).wrap_socket(raw, server_hostname="localhost")
            t.close()
            server.result()
            calls = [lambda: t.recv(1), lambda: t.send(b"x"), lambda: t.read(1),
                     lambda: t.write(b"x"), t.version, t.cipher, t.pending,
                     t.do_handshake, t.fileno, t.selected_alpn_protocol,
                     lambda: t.sendall(b"x"), lambda: t.recv_into(bytearray(1)), t.close]
            got = []
            for call in calls:
                try:
                    got.append(("ok", call()))
                except OSError as e:
                    got.append(("OSError", e.errno))
                except Exception as e:
                    got.append((type(e).__name__,))
            return got

        self.assertEqual(outcomes(ssl, polysock), outcomes(std_ssl, std))

    def test_unwrap_then_plain_bytes_both_ways(self):
        def peer(t):
            first = t.recv(100)
            t.sendall(b"tls reply")
            plain = t.unwrap()  # CPython's: close_notify both ways
            got = plain.recv(100)
            plain.sendall(b"plain reply")
            return first, got

        address, server = std_serve(server_ctx(std_ssl), peer)
        with connect(address, client_ctx(ssl)) as t:
            t.sendall(b"tls hello")
            self.assertEqual(t.recv(100), b"tls reply")
            plain = t.unwrap()
            self.assertIs(plain, t)
            self.assertIsNone(t.version())
            self.assertEqual(t.pending(), 0)
            t.sendall(b"plain hello")
            self.assertEqual(t.recv(100), b"plain reply")
            with self.assertRaisesRegex(ValueError, "unwrapped"):
                t.read(1)
            with self.assertRaisesRegex(ValueError, "unwrapped"):
                t.write(b"x")
            with self.assertRaisesRegex(ValueError, "No SSL wrapper"):
                t.unwrap()
            with self.assertRaisesRegex(ValueError, "No SSL wrapper"):
                t.do_handshake()
        self.assertEqual(server.result(), (b"tls hello", b"plain hello"))

    def test_unwrap_keeps_undelivered_bytes(self):
        def peer(t):
            t.sendall(b"sent before close_notify")
            t.unwrap()

        address, server = std_serve(server_ctx(std_ssl), peer)
        with connect(address, client_ctx(ssl)) as t:
            with self.assertRaises(OSError) as caught:
                t.unwrap()
            self.assertEqual(caught.exception.errno, errno.EBUSY)
            self.assertEqual(t.recv(100), b"sent before close_notify")
            self.assertIs(t.unwrap(), t)
        server.result()

    def test_unwrap_before_the_handshake(self):
        s = polysock.socket()
        with ssl.create_default_context().wrap_socket(s, server_hostname="localhost") as t:
            with self.assertRaisesRegex(ValueError, "No SSL wrapper"):
                t.unwrap()

    def test_send_after_close_notify(self):
        address, server = std_serve(server_ctx(std_ssl), echo)
        with connect(address, client_ctx(ssl)) as t:
            t.shutdown(polysock.SHUT_WR)
            with self.assertRaises(ssl.SSLZeroReturnError) as caught:
                t.send(b"x")
            self.assertEqual(caught.exception.errno, ssl.SSL_ERROR_ZERO_RETURN)
        self.assertEqual(server.result()[0], "close_notify")


def connect_raw(address, timeout):
    return polysock.create_connection(address, timeout=timeout)


def drive(call, t, result=False, limit=WAIT):
    """Calls `call` until it stops raising SSLWant*Error, waiting in
    select() for what it wants; returns the number of waits (or the
    call's result)."""
    deadline = time.monotonic() + limit
    waits = 0
    while True:
        try:
            value = call()
            return value if result else waits
        except ssl.SSLWantReadError:
            r, w = [t], []
        except ssl.SSLWantWriteError:
            r, w = [], [t]
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("still waiting after %s s" % limit)
        select.select(r, w, [], left)
        waits += 1


class ServerTest(unittest.TestCase):
    """polysock.ssl servers, CPython ssl clients."""

    def serve(self, ctx, **kwargs):
        """A polysock TLS listener and (address) for one test."""
        s = ctx.wrap_socket(listener(), server_side=True, **kwargs)
        self.addCleanup(s.close)
        return s, s.getsockname()

    @contextlib.contextmanager
    def peer_errors(self, peer):
        """Adds the peer's own failure to one of ours."""
        try:
            yield
        except Exception as e:
            try:
                peer.result()
            except BaseException as theirs:
                raise AssertionError("%r; the peer: %r" % (e, theirs)) from e
            raise

    def check_echo(self, tls):
        s, address = self.serve(server_ctx(ssl, tls=tls))

        def client(t):
            info = report(t)
            info["sums"] = lockstep_bulk(t)
            t.unwrap()  # close_notify
            return info

        theirs = std_connect(address, client_ctx(std_ssl, tls), client)
        conn, peer = s.accept()
        with conn, self.peer_errors(theirs):
            conn.settimeout(WAIT)
            conn.suppress_ragged_eofs = False
            self.assertEqual(peer, conn.getpeername())
            mine = report(conn)
            total = 0
            while True:
                data = conn.recv(65536)
                if not data:
                    break  # close_notify: a TCP close alone raises
                conn.sendall(data)
                total += len(data)
            conn.shutdown(polysock.SHUT_WR)  # our close_notify, which unwrap() waits for
        info = theirs.result()
        self.assertEqual(total, 3 << 20)
        self.assertEqual(info["sums"][0], info["sums"][1])
        self.assertEqual(mine["version"], "TLSv1.2" if tls == "1.2" else "TLSv1.3")
        self.assertEqual((mine["version"], mine["cipher"]), (info["version"], info["cipher"]))
        self.assertIsNone(mine["peer"])  # no client certificate asked for

    def test_echo_tls13(self):
        self.check_echo("1.3")

    def test_echo_tls12(self):
        self.check_echo("1.2")

    def test_truncated_stream(self):
        for suppress in (False, True):
            s, address = self.serve(server_ctx(ssl), suppress_ragged_eofs=suppress)

            def client(t):
                t.sendall(b"cut")
                t.recv(1)  # the server's byte, then a TCP close without close_notify

            theirs = std_connect(address, client_ctx(std_ssl), client)
            conn, _ = s.accept()
            with conn:
                conn.settimeout(WAIT)
                self.assertEqual(conn.recv(3), b"cut")
                conn.sendall(b"!")
                if suppress:
                    self.assertEqual(conn.recv(10), b"")
                else:
                    with self.assertRaises(ssl.SSLEOFError) as caught:
                        conn.recv(10)
                    e = caught.exception
                    self.assertEqual(e.errno, ssl.SSL_ERROR_EOF)
                    self.assertEqual(e.reason, "UNEXPECTED_EOF_WHILE_READING")
                    self.assertIn("without close_notify", str(e))
            theirs.result()

    def test_alpn(self):
        for tls in ("1.2", "1.3"):
            s, address = self.serve(server_ctx(ssl, tls=tls, alpn=["http/1.1", "h2"]))
            theirs = std_connect(address, client_ctx(std_ssl, tls, alpn=["h2", "spdy/1"]),
                                 report)
            conn, _ = s.accept()
            with conn:
                self.assertEqual(conn.selected_alpn_protocol(), "h2")
            self.assertEqual(theirs.result()["alpn"], "h2")

    def test_client_certificate_required(self):
        for tls in ("1.2", "1.3"):
            s, address = self.serve(server_ctx(ssl, tls=tls, verify=ssl.CERT_REQUIRED))
            theirs = std_connect(address, client_ctx(std_ssl, tls, client_cert="client"),
                                 lambda t: (t.sendall(b"hi"), t.recv(2))[1])
            conn, _ = s.accept()
            with conn:
                conn.settimeout(WAIT)
                peer = conn.getpeercert()
                self.assertIn((("commonName", "client.test"),), peer["subject"])
                self.assertEqual(peer["issuer"], ((("commonName", "polysock test CA"),),))
                self.assertEqual(conn.recv(2), b"hi")
                conn.sendall(b"ho")
            self.assertEqual(theirs.result(), b"ho")

    def test_client_without_certificate_is_refused(self):
        for tls in ("1.2", "1.3"):
            s, address = self.serve(server_ctx(ssl, tls=tls, verify=ssl.CERT_REQUIRED))

            def client(t):
                try:
                    t.recv(1)  # TLS 1.3 clients learn of the refusal here
                except (OSError, std_ssl.SSLError):
                    pass

            theirs = std_connect(address, client_ctx(std_ssl, tls), client)
            with self.assertRaises(ssl.SSLError) as caught:
                s.accept()
            try:
                theirs.result()
            except (OSError, std_ssl.SSLError):
                pass  # TLS 1.2 clients fail in the handshake
            e = caught.exception
            self.assertEqual(e.polysock_errno, polysock.POLYSOCK_ETLS_CERT_REQUIRED)
            self.assertEqual(e.reason, "PEER_DID_NOT_RETURN_A_CERTIFICATE")

    def test_optional_client_certificate(self):
        s, address = self.serve(server_ctx(ssl, verify=ssl.CERT_OPTIONAL))
        theirs = std_connect(address, client_ctx(std_ssl), report)
        conn, _ = s.accept()
        with conn:
            self.assertIsNone(conn.getpeercert())
        theirs.result()

    def test_non_blocking_server_handshake(self):
        s, address = self.serve(server_ctx(ssl), do_handshake_on_connect=False)
        theirs = std_connect(address, client_ctx(std_ssl), lambda t: t.recv(5))
        conn, _ = s.accept()
        with conn:
            conn.setblocking(False)
            drive(conn.do_handshake, conn)
            self.assertEqual(conn.version(), "TLSv1.3")
            drive(lambda: conn.sendall(b"hello"), conn)
        self.assertEqual(theirs.result(), b"hello")

    def test_peer_alert_as_cpython(self):
        """A client that refuses the server's certificate sends an alert:
        polysock's server reports it with the reason CPython's reports."""
        def refusing_client(address):
            def run(t):
                return None
            return std_connect(address, client_ctx(std_ssl), run)

        for name in ("unknown_issuer", "expired", "wrong_name"):
            address, theirs_server = std_serve(server_ctx(std_ssl, name), echo)
            client = refusing_client(address)
            with self.assertRaises(std_ssl.SSLError) as theirs:
                theirs_server.result()
            with self.assertRaises(std_ssl.SSLCertVerificationError):
                client.result()
            s, address = self.serve(server_ctx(ssl, name))
            client = refusing_client(address)
            with self.assertRaises(ssl.SSLError) as mine:
                s.accept()
            with self.assertRaises(std_ssl.SSLCertVerificationError):
                client.result()
            self.assertEqual(mine.exception.polysock_errno, polysock.POLYSOCK_ETLS_ALERT)
            self.assertEqual(mine.exception.reason, theirs.exception.reason, name)
            self.assertIn("peer sent alert", str(mine.exception))

    def test_peer_not_speaking_tls(self):
        s, address = self.serve(server_ctx(ssl))
        with std.create_connection(address, timeout=WAIT) as plain:
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            with self.assertRaises(ssl.SSLError) as caught:
                s.accept()
        e = caught.exception
        self.assertEqual(e.polysock_errno, polysock.POLYSOCK_ETLS_PROTOCOL)
        self.assertIn("is the peer speaking TLS?", str(e))


class ArgumentTest(unittest.TestCase):
    """Bad arguments raise what CPython's ssl raises."""

    def cases(self, module, sock_module):
        c = module.SSLContext(module.PROTOCOL_TLS_CLIENT)
        server = module.SSLContext(module.PROTOCOL_TLS_SERVER)
        junk = os.path.join(CERTS, "junk.pem")
        with open(junk, "w") as f:
            f.write("not PEM at all\n")
        missing = os.path.join(CERTS, "missing.pem")

        def wrap(ctx, kind=None, **kwargs):
            s = sock_module.socket(type=kind or sock_module.SOCK_STREAM)
            try:
                ctx.wrap_socket(s, **kwargs).close()
            finally:
                s.close()

        return [
            (ValueError, lambda: setattr(c, "verify_mode", 5)),
            (TypeError, lambda: setattr(c, "verify_mode", "required")),
            (ValueError, lambda: setattr(c, "verify_mode", module.CERT_NONE)),
            (ValueError, lambda: setattr(c, "minimum_version", 5)),
            (TypeError, lambda: setattr(c, "maximum_version", "1.3")),
            (module.SSLError, lambda: c.set_alpn_protocols(["h2", ""])),
            (module.SSLError, lambda: c.set_alpn_protocols(["x" * 256])),
            (TypeError, lambda: c.set_alpn_protocols([b"h2"])),
            (TypeError, lambda: c.set_alpn_protocols(5)),
            (TypeError, lambda: c.load_verify_locations()),
            (TypeError, lambda: c.load_verify_locations(cafile=5)),
            (TypeError, lambda: c.load_verify_locations(cadata=5)),
            (module.SSLError, lambda: c.load_verify_locations(cadata="garbage")),
            (module.SSLError, lambda: c.load_verify_locations(cadata=b"garbage")),
            (module.SSLError, lambda: c.load_verify_locations(junk)),
            (FileNotFoundError, lambda: c.load_verify_locations(missing)),
            (FileNotFoundError, lambda: c.load_cert_chain(missing)),
            (module.SSLError, lambda: c.load_cert_chain(junk)),
            (module.SSLError, lambda: c.load_cert_chain(cert("server"), key("client"))),
            (TypeError, lambda: c.load_cert_chain(5)),
            (TypeError, lambda: c.load_cert_chain(cert("server"), keyfile=5)),
            (TypeError, lambda: c.load_default_certs("server")),
            (ValueError, lambda: module.SSLContext(99)),
            (TypeError, lambda: module.SSLContext("client")),
            (TypeError, lambda: module.create_default_context("server")),
            (TypeError, lambda: module.SSLSocket()),
            (ValueError, lambda: wrap(c)),
            (ValueError, lambda: wrap(server, server_side=True, server_hostname="a.test")),
            (NotImplementedError, lambda: wrap(c, sock_module.SOCK_DGRAM,
                                               server_hostname="a.test")),
        ]

    def test_same_exceptions_as_cpython(self):
        theirs = self.cases(std_ssl, std)
        mine = self.cases(ssl, polysock)
        for i, ((want, call), (want_std, call_std)) in enumerate(zip(mine, theirs)):
            with self.subTest(case=i):
                with self.assertRaises(want_std):
                    call_std()
                with self.assertRaises(want):
                    call()

    def test_what_polysock_refuses(self):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        with self.assertRaisesRegex(ValueError, "TLS 1.2 and 1.3 only"):
            c.maximum_version = ssl.TLSVersion.TLSv1_1
        with self.assertRaises(NotImplementedError):
            c.load_cert_chain(cert("client"), key("client"), password="secret")
        with polysock.socket() as s:
            with self.assertRaises(TypeError):
                c.wrap_socket(s, server_hostname=5)
            with self.assertRaises(ValueError):
                c.wrap_socket(s, server_hostname="")
            with self.assertRaises(ValueError):
                c.wrap_socket(s, server_hostname="a\0b")
            with self.assertRaises(ValueError):
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).wrap_socket(s)
            self.assertNotEqual(s.fileno(), -1)  # refused before the socket was taken
        c.minimum_version = ssl.TLSVersion.TLSv1_3
        c.maximum_version = ssl.TLSVersion.TLSv1_2
        with polysock.socket() as s:
            with self.assertRaises(ssl.SSLError) as caught:
                c.wrap_socket(s, server_hostname="a.test")
        self.assertEqual(caught.exception.reason, "NO_PROTOCOLS_AVAILABLE")

    def test_more_bad_arguments(self):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cases = [
            (TypeError, "needs a socket", lambda s: c.wrap_socket(5, server_hostname="a")),
            (NotImplementedError, "session", lambda s: c.wrap_socket(
                s, server_hostname="a", session=object())),
            (ValueError, "PROTOCOL_TLS_CLIENT context cannot make server-side",
             lambda s: c.wrap_socket(s, server_side=True)),
            (UnicodeDecodeError, "ascii", lambda s: c.wrap_socket(
                s, server_hostname="é.test".encode("utf-8"))),
            (ValueError, "null character", lambda s: c.set_alpn_protocols(["h\0"])),
            (TypeError, "ASCII string", lambda s: c.load_verify_locations(cadata="é")),
            (ssl.SSLError, "bad DER length", lambda s: c.load_verify_locations(
                cadata=b"\x30\x80")),
            (ssl.SSLError, "cut short", lambda s: c.load_verify_locations(
                cadata=b"\x30\x82\x01\x00abc")),
            (FileNotFoundError, "", lambda s: c.load_verify_locations(
                capath=os.path.join(CERTS, "no such directory"))),
            (TypeError, "capath", lambda s: c.load_verify_locations(capath=5)),
        ]
        for error, text, call in cases:
            with self.subTest(text=text), polysock.socket() as s:
                with self.assertRaises(error) as caught:
                    call(s)
                self.assertIn(text, str(caught.exception))
                self.assertNotEqual(s.fileno(), -1)  # refused before the socket was taken

    def test_bad_socket_and_context_arguments(self):
        address, server = std_serve(server_ctx(std_ssl), echo)
        with connect(address, client_ctx(ssl)) as t:
            with self.assertRaisesRegex(TypeError, "SSLContext"):
                t.context = "not a context"
            with self.assertRaisesRegex(ValueError, "already-connected"):
                t.connect(address)
            other = client_ctx(ssl)
            t.context = other
            self.assertIs(t.context, other)
        server.result()
        s = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).wrap_socket(polysock.socket(),
                                                                server_side=True)
        with s:
            with self.assertRaisesRegex(ValueError, "server-side"):
                s.connect(address)

    def test_flags_and_datagram_calls(self):
        address, server = std_serve(server_ctx(std_ssl), echo)
        with connect(address, client_ctx(ssl)) as t:
            for call, error in ((lambda: t.recv(1, polysock.MSG_PEEK), ValueError),
                                (lambda: t.send(b"x", 1), ValueError),
                                (lambda: t.sendall(b"x", 1), ValueError),
                                (lambda: t.recvfrom(1), ValueError),
                                (lambda: t.sendto(b"x", address), ValueError),
                                (lambda: t.sendmsg([b"x"]), NotImplementedError),
                                (lambda: t.recvmsg(1), NotImplementedError),
                                (t.dup, NotImplementedError)):
                with self.assertRaises(error):
                    call()
            t.sendall(b"fine")
            self.assertEqual(t.recv(4), b"fine")
        server.result()

    def test_defaults_as_cpython(self):
        for protocol in ("PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER"):
            mine = ssl.SSLContext(getattr(ssl, protocol))
            theirs = std_ssl.SSLContext(getattr(std_ssl, protocol))
            for field in ("verify_mode", "check_hostname", "minimum_version",
                          "maximum_version"):
                self.assertEqual(int(getattr(mine, field)), int(getattr(theirs, field)), field)
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        c.check_hostname = True
        self.assertEqual(c.verify_mode, ssl.CERT_REQUIRED)
        with open(cert("ca")) as f:
            default = ssl.create_default_context(cadata=f.read())
        self.assertEqual((default.verify_mode, default.check_hostname),
                         (ssl.CERT_REQUIRED, True))


if __name__ == "__main__":
    unittest.main()
