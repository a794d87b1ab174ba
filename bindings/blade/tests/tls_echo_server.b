# ssl's TLSSocket (unchanged) as a server on whichever _socket module is
# loaded: accepts one client, echoes one message, waits for the client to
# close. Used by tests/binding_blade.rs with tls_echo_client.b.
#   blade tls_echo_server.b <port> <cert.pem> <key.pem>

import os
import ssl

var port = to_number(os.args[2])
var ctx = ssl.TLSServerContext()
ctx.set_verify(ssl.SSL_VERIFY_NONE)
if !ctx.load_certs(os.args[3], os.args[4]) {
  echo 'could not load the certificate'
  os.exit(1)
}
var server = ssl.TLSSocket(nil, ctx)
server.bind(port, '127.0.0.1')
server.listen()
var client = server.accept()
client.set_blocking(false)
var message, start = microtime()
while !message and microtime() - start < 10000000 { message = client.receive() }
client.send('echo:${message}')
# Keep the connection open a while: the client must not need the close
# to see its reply.
start = microtime()
while microtime() - start < 3000000 {
  if client.receive() == nil and microtime() - start > 100000 break
}
client.close()
server.close()
