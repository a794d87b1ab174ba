"""An echo server and client on polysock, written as for the standard
socket module: only the import differs.

    python3 echo.py server [PORT]            # serve on 127.0.0.1:PORT
    python3 echo.py client PORT [MESSAGE]    # send lines, print the echo
    python3 echo.py                          # both, in one process

Run from a polysock checkout after `cargo build`, or with POLYSOCK_LIB
pointing at libpolysock.so.
"""

import os
import sys
import threading

try:
    import polysock as socket
except ImportError:  # running from the repository: use the package beside us
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import polysock as socket


def handle(conn, peer):
    with conn, conn.makefile("rb") as lines:
        conn.settimeout(30)
        for line in lines:
            conn.sendall(line)
    print("closed", peer)


def serve(listener, once=False):
    while True:
        conn, peer = listener.accept()
        print("connection from", peer)
        if once:
            return handle(conn, peer)
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()


def client(port, messages):
    with socket.create_connection(("localhost", port), timeout=5) as s:
        with s.makefile("rb") as replies:
            for message in messages:
                s.sendall(message.encode() + b"\n")
                print("echo:", replies.readline().decode().rstrip("\n"))
        s.shutdown(socket.SHUT_WR)


def listen(port):
    # SO_REUSEADDR is on, as with the standard module's create_server.
    return socket.create_server(("127.0.0.1", port))


def main(argv):
    if argv[:1] == ["server"]:
        with listen(int(argv[1]) if len(argv) > 1 else 7007) as s:
            print("listening on", s.getsockname())
            serve(s)
    elif argv[:1] == ["client"]:
        client(int(argv[1]), argv[2:] or ["hello", "polysock"])
    else:
        with listen(0) as s:
            s.settimeout(5)
            port = s.getsockname()[1]
            print("listening on", s.getsockname())
            server = threading.Thread(target=serve, args=(s, True), daemon=True)
            server.start()
            client(port, ["hello", "from polysock", "over ctypes"])
            server.join(5)


if __name__ == "__main__":
    main(sys.argv[1:])
