# Blade's own libs/http server, unchanged, on whichever _socket module is
# loaded. Serves GET /hello and POST /echo on 127.0.0.1:<port>, then stops
# after the request to /stop. Used by tests/binding_blade.rs with
# http_client.b.
#   blade http_server.b <port>

import os
import http

var port = to_number(os.args[2])
var srv = http.server(port, '127.0.0.1')
srv.handle('GET', '/hello', @(req, res) {
  res.write('hi from blade http on ${req.ip}')
})
srv.handle('POST', '/echo', @(req, res) {
  res.write('echo: ${req.body.get("name", "?")}')
})
srv.handle('GET', '/stop', @(req, res) {
  res.write('bye')
  srv.close()
})
echo 'http server on ${port}'
srv.listen()
echo 'http server stopped'
