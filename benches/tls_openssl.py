"""OpenSSL's side of `cargo bench --bench tls`, through Python's ssl module.

  tls_openssl.py server CERT KEY     TLS 1.3 server: per connection, reads an
                                     8-byte length and that many bytes,
                                     answers "ok", closes.
  tls_openssl.py client PORT CA bulk BYTES   one connection sending BYTES
  tls_openssl.py client PORT CA hs COUNT     COUNT connections, handshake only
  tls_openssl.py client PORT CA rev COUNT    COUNT connections, each sending
                                     "ko\n" and reading "ok\n" (the protocol
                                     of `openssl s_server -rev`)

The client prints the seconds its work took (interpreter start excluded).
"""

import socket
import ssl
import sys
import time


def server(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.num_tickets = 0  # full handshakes only, as the polysock side
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    print("PORT", lsock.getsockname()[1], flush=True)
    while True:
        conn, _ = lsock.accept()
        conn.settimeout(60)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            t = ctx.wrap_socket(conn, server_side=True)
            head = b""
            while len(head) < 8:
                head += t.recv(8 - len(head))
            left = int.from_bytes(head, "big")
            while left > 0:
                left -= len(t.recv(min(left, 1 << 16)))
            t.sendall(b"ok")
            t.close()
        except (OSError, ssl.SSLError):
            pass
        conn.close()


def one(port, ctx, payload):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = ctx.wrap_socket(s, server_hostname="localhost")
    t.sendall(len(payload).to_bytes(8, "big"))
    view = memoryview(payload)
    for i in range(0, len(payload), 1 << 16):
        t.sendall(view[i : i + (1 << 16)])
    assert t.recv(2) == b"ok"
    t.close()


def rev(port, ctx):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = ctx.wrap_socket(s, server_hostname="localhost")
    t.sendall(b"ko\n")
    with t.makefile("rb") as f:
        line = f.readline()
    assert line == b"ok\n", line
    t.close()


def client(port, ca, mode, n):
    socket.setdefaulttimeout(60)  # a server that failed never hangs the bench
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    start = time.perf_counter()
    if mode == "bulk":
        one(port, ctx, bytes(n))
    elif mode == "rev":
        for _ in range(n):
            rev(port, ctx)
    else:
        for _ in range(n):
            one(port, ctx, b"")
    print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], sys.argv[3])
    else:
        client(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
