# An echo server for Blade, written with Blade's own socket module
# (libs/socket.b). With polysock's _socket.so in ./.blade/bin it runs on
# polysock; without it, on Blade's built-in module.
#
#   blade echo_server.b [port [clients]]
#
# Listens on 127.0.0.1:<port> (default 7000; 0 picks a free port) and
# echoes what each client sends until it closes. Stops after <clients>
# clients (default: never).

import os
import io
import socket as so

var port = os.args.length() > 2 ? to_number(os.args[2]) : 7000
var clients = os.args.length() > 3 ? to_number(os.args[3]) : -1

var server = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
server.set_option(so.SO_REUSEADDR, true)
server.bind(port, '127.0.0.1')
server.listen()
echo 'echo server listening on 127.0.0.1:${server.info().port}'
io.flush(io.stdout)

var served = 0
while clients < 0 or served < clients {
  var client = server.accept()
  # receive() waits up to SO_RCVTIMEO for data (500 ms when unset), and
  # socket.b closes the socket on any error, timeouts included.
  client.set_option(so.SO_RCVTIMEO, 60000)
  catch {
    while true {
      var data = client.receive()
      if data == nil break       # the client closed the connection
      client.send(data)
    }
  } as e
  if e echo 'client ${client.host}:${client.port}: ${e.message}'
  client.close()
  served++
}
server.close()
