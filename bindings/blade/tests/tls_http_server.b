# Blade's own libs/http TLSServer, unchanged, on polysock's ssl package:
# serves GET /hello over HTTPS on 127.0.0.1:<port> with the certificate
# given, then stops after the request to /stop.
#   blade tls_http_server.b <port> <cert.pem> <key.pem>

import io
import os
import http

var port = to_number(os.args[2])
var srv = http.tls_server(port, '127.0.0.1')
if !srv.load_certs(os.args[3], os.args[4]) {
  echo 'could not load the certificate'
  os.exit(1)
}
srv.handle('GET', '/hello', @(req, res) {
  res.write('hi over tls from blade http on ${req.ip}')
})
srv.handle('GET', '/stop', @(req, res) {
  res.write('bye')
  srv.close()
})
echo 'https server on ${port}'
io.flush(io.stdout)
srv.listen()
echo 'https server stopped'
