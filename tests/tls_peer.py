"""A TLS peer built on Python's ssl module (OpenSSL), for polysock's TLS
tests. Prints "PORT n" first when it listens, then one "key value" line per
result; every wait is bounded.

  tls_peer.py server CERT KEY MODE [options]
  tls_peer.py client PORT MODE [options]

MODE: echo (echo every byte until the peer closes), sink (read to the end,
report the count, sha256 and how the stream ended), send (send --bytes
bytes of a pattern, then close_notify), lines (send numbered lines),
garbage (send non-TLS bytes), stall (read the hello, never answer),
starttls (a line each way over TLS, unwrap, a line each way in plain text).
"""

import argparse
import hashlib
import select
import socket
import ssl
import sys
import time


def say(*words):
    print(*words, flush=True)


def pattern(n):
    """n bytes that are not all alike (the same generator as the tests')."""
    block = bytes((i * 7 + 3) & 0xFF for i in range(65536))
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def context(args, server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if args.tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if args.tls13:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if server:
        ctx.load_cert_chain(args.cert, args.key)
        if args.ca:
            ctx.load_verify_locations(args.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED if args.require_client else ssl.CERT_OPTIONAL
    else:
        if args.ca:
            ctx.load_verify_locations(args.ca)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if args.client_cert:
            ctx.load_cert_chain(args.client_cert, args.client_key)
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(","))
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    return ctx


def report(t):
    say("version", t.version())
    say("cipher", t.cipher()[0])
    say("alpn", t.selected_alpn_protocol() or "-")
    peer = t.getpeercert()
    if peer:
        subject = ",".join("%s=%s" % kv for rdn in peer["subject"] for kv in rdn)
        say("peer_subject", subject)


def read_line(s):
    line = b""
    while not line.endswith(b"\n"):
        byte = s.recv(1)
        if not byte:
            break
        line += byte
    return line.decode().strip() or "-"


def run(t, mode, args):
    if mode == "echo":
        while True:
            try:
                data = t.recv(65536)
            except ssl.SSLEOFError:
                say("end", "eof_without_close_notify")
                return
            if not data:
                say("end", "close_notify")
                break
            t.sendall(data)
        t.unwrap()
    elif mode == "sink":
        h, n = hashlib.sha256(), 0
        end = "close_notify"
        while True:
            try:
                data = t.recv(65536)
            except ssl.SSLEOFError:
                end = "eof_without_close_notify"
                break
            if not data:
                break
            h.update(data)
            n += len(data)
        say("bytes", n)
        say("sha256", h.hexdigest())
        say("end", end)
    elif mode == "send":
        data = pattern(args.bytes)
        t.sendall(data)
        say("sha256", hashlib.sha256(data).hexdigest())
        if args.dirty:
            t.close()
            return
        t.unwrap()
    elif mode == "starttls":
        # One line each way over TLS, unwrap (close_notify both ways), then
        # one line each way in plain text on the same connection.
        t.sendall(b"ping\n")
        say("tls_line", read_line(t))
        plain = t.unwrap()
        plain.sendall(b"plain-ping\n")
        say("plain_line", read_line(plain))
        plain.close()
    elif mode == "lines":
        for i in range(args.bytes):
            t.sendall(b"line %d\n" % i)
        t.unwrap()
    elif mode == "client_echo":
        # Send while reading the echo back, in one thread: OpenSSL does not
        # allow one SSL object to be used by two threads at once.
        data = pattern(args.bytes)
        got, count, sent = hashlib.sha256(), 0, 0
        t.setblocking(False)
        want = (ssl.SSLWantReadError, ssl.SSLWantWriteError)
        while count < len(data):
            progressed = False
            if sent < len(data):
                try:
                    sent += t.send(data[sent : sent + 65536])
                    progressed = True
                except want:
                    pass
            try:
                chunk = t.recv(65536)
                if not chunk:
                    break
                got.update(chunk)
                count += len(chunk)
                progressed = True
            except want:
                pass
            if not progressed:
                select.select([t], [t] if sent < len(data) else [], [], 60)
        t.settimeout(60)
        say("bytes", count)
        say("sent_sha256", hashlib.sha256(data).hexdigest())
        say("sha256", got.hexdigest())
        t.unwrap()

def main():
    p = argparse.ArgumentParser()
    p.add_argument("role")
    p.add_argument("a")
    p.add_argument("b", nargs="?")
    p.add_argument("mode", nargs="?")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--require-client", action="store_true")
    p.add_argument("--client-cert")
    p.add_argument("--client-key")
    p.add_argument("--alpn")
    p.add_argument("--ciphers")
    p.add_argument("--tls12", action="store_true")
    p.add_argument("--tls13", action="store_true")
    p.add_argument("--bytes", type=int, default=0)
    p.add_argument("--dirty", action="store_true")
    p.add_argument("--name", default="localhost")
    # Server: wait this long after accepting before the handshake, so a
    # client that drives its handshake without blocking must wait for the
    # reply (otherwise, on a loaded machine, the whole reply can be there
    # by its first read, and its handshake never waits).
    p.add_argument("--hello-delay-ms", type=int, default=0)
    args = p.parse_args()
    socket.setdefaulttimeout(60)
    if args.role == "server":
        args.cert, args.mode = args.a, args.b
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        say("PORT", lsock.getsockname()[1])
        conn, _ = lsock.accept()
        if args.mode == "garbage":
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
            conn.close()
            return
        if args.mode == "stall":
            conn.recv(4096)
            conn.settimeout(30)
            try:
                conn.recv(4096)
            except OSError:
                pass
            return
        ctx = context(args, server=True)
        time.sleep(args.hello_delay_ms / 1000)
        try:
            t = ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            say("handshake_error", type(e).__name__, e)
            return
        report(t)
        run(t, args.mode, args)
    else:
        args.mode = args.b
        conn = socket.create_connection(("127.0.0.1", int(args.a)))
        ctx = context(args, server=False)
        try:
            t = ctx.wrap_socket(conn, server_hostname=args.name)
        except (ssl.SSLError, OSError) as e:
            say("handshake_error", type(e).__name__, e)
            return
        report(t)
        run(t, args.mode, args)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, never hang the test
        say("error", type(e).__name__, e)
        sys.exit(1)
