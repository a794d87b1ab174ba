# A TCP echo server and one client on loopback, in Zerynth's socket API:
#   micropython examples/echo.py [port]   (MICROPYPATH=<bindings/micropython>)
import sys
import _thread
import socket

port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(1)
port = server.getsockname()[1]


def serve():
    conn, peer = server.accept()
    conn.settimeout(5000)  # milliseconds, as on Zerynth
    n = conn.recv(2)  # recv gets exactly n bytes: the length prefix
    data = conn.recv(n[0] * 256 + n[1])
    conn.sendall(data)
    conn.close()


_thread.start_new_thread(serve, ())

client = socket.socket(type=socket.SOCK_STREAM)
client.settimeout(5000)
client.connect(("127.0.0.1", port))
message = "Hello World!"
client.sendall(bytes([0, len(message)]))
client.sendall(message)
echo = client.recv(len(message))
print("echoed:", bytes(echo).decode())
client.close()
server.close()
