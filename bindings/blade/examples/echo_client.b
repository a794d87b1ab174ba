# Sends one message to echo_server.b and prints the reply.
#
#   blade echo_client.b <port> [message]

import os
import socket as so

var port = to_number(os.args[2])
var message = os.args.length() > 3 ? os.args[3] : 'hello from blade'

var s = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
s.set_option(so.SO_RCVTIMEO, 5000)
s.connect('127.0.0.1', port, 5000)
s.send(message)
var reply = ''
while reply.length() < message.length() {
  var part = s.receive()
  if part == nil break
  reply += part
}
echo reply
s.close()
if reply != message os.exit(1)
