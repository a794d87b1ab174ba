# polysock's ssl package as a server for clients no one here wrote
# (openssl s_client, driven by tests/binding_blade.rs). Prints "PORT n",
# then serves <clients> connections one after the other: reads a line,
# answers "echo:<line>" and closes with close_notify. The context asks
# for a client certificate and refuses clients without a valid one; each
# client's certificate subject, or the TLSException that refused it, is
# printed.
#   blade tls_server.b <cert.pem> <key.pem> <ca.pem> <clients>

import io
import os
import ssl
import socket as so

var ctx = ssl.TLSServerContext()
if !ctx.load_certs(os.args[2], os.args[3]) or !ctx.set_verify_locations(os.args[4]) {
  echo 'could not load the certificates: ${ctx.last_error}'
  os.exit(1)
}
ctx.set_verify(ssl.SSL_VERIFY_PEER | ssl.SSL_VERIFY_FAIL_IF_NO_PEER_CERT)
var server = ssl.TLSSocket(nil, ctx)
server.set_option(so.SO_REUSEADDR, true)
server.bind(0, '127.0.0.1')
server.listen()
echo 'PORT ${server.info().port}'
io.flush(io.stdout)

var clients = to_number(os.args[5])
for i in 0..clients {
  var client = server.accept()
  client.set_option(so.SO_RCVTIMEO, 10000)
  catch {
    var line = ''
    while !line.ends_with('\n') {
      var part = client.receive()
      if part == nil or part == '' break
      line += part
    }
    var peer = client.get_ssl().get_peer_certificate()
    echo 'client ${i}: ${client.tls_info().version} peer ${peer ? peer.subject_name : "none"} line ${line.trim()}'
    client.send('echo:${line}')
  } as e
  if e echo 'client ${i}: refused: ${e.name}: ${e.message}'
  client.close()
}
server.close()
echo 'server done'
