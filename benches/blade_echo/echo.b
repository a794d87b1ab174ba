# The Blade echo benchmark: both ends in one process, over loopback TCP,
# written with Blade's own socket module (libs/socket.b) only. run.sh runs
# it unchanged twice: from a directory without .blade/bin (Blade's
# built-in _socket) and from one whose .blade/bin holds polysock's
# _socket.so. Nothing else differs.
#
#   blade echo.b MODE COUNT
#
# MODE  pingpong64 / pingpong8k: COUNT round trips of a 64-byte / 8 KiB
#       message (send, receive until it all came, send back, receive);
#       churn: COUNT times create, connect, accept, close both.
# Prints the seconds the COUNT iterations took (start-up excluded).

import os
import socket as so

var mode = os.args[2]
var count = to_number(os.args[3])

var server = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
server.set_option(so.SO_REUSEADDR, true)
server.bind(0, '127.0.0.1')
server.listen()
var port = server.info().port

def receive_exactly(sock, n) {
  var got = 0
  while got < n {
    var part = sock.receive(n - got)
    if part == nil {
      echo 'echo.b: the stream ended early'
      os.exit(1)
    }
    got += part.length()
  }
}

var start
if mode == 'churn' {
  start = microtime()
  for i in 0..count {
    var c = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
    c.connect('127.0.0.1', port, 5000)
    var a = server.accept()
    a.close()
    c.close()
  }
} else {
  var size = mode == 'pingpong64' ? 64 : 8192
  var msg = 'x' * size
  var c = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  c.connect('127.0.0.1', port, 5000)
  var a = server.accept()
  c.set_option(so.SO_RCVTIMEO, 5000)
  a.set_option(so.SO_RCVTIMEO, 5000)
  start = microtime()
  for i in 0..count {
    c.send(msg)
    receive_exactly(a, size)
    a.send(msg)
    receive_exactly(c, size)
  }
  a.close()
  c.close()
}
var seconds = (microtime() - start) / 1000000
server.close()
echo seconds
