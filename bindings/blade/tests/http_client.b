# Blade's own libs/http client, unchanged, against http_server.b.
#   blade http_client.b <port>
# Retries the first request for up to 10 s while the server starts.

import os
import http

var port = to_number(os.args[2])
var base = 'http://127.0.0.1:${port}'

var r, start = microtime()
while !r {
  catch { r = http.get('${base}/hello') } as e
  if e {
    if (microtime() - start) / 1000000 > 10 {
      echo 'server not reachable: ${e.message}'
      os.exit(1)
    }
    os.sleep(0.1)
  }
}

var failures = 0
def expect(what, got, want) {
  if got != want {
    echo 'FAIL ${what}: got [${got}], want [${want}]'
    failures++
  } else {
    echo 'ok   ${what}'
  }
}

expect('GET status', r.status, 200)
expect('GET body', r.body.to_string(), 'hi from blade http on 127.0.0.1')
expect('GET content-type', r.headers.get('Content-Type', r.headers.get('content-type', '')).starts_with('text/html'), true)

var p = http.post('${base}/echo', {name: 'polysock'})
expect('POST status', p.status, 200)
expect('POST body', p.body.to_string(), 'echo: polysock')

var s = http.get('${base}/stop')
expect('stop', s.body.to_string(), 'bye')

if failures > 0 os.exit(1)
echo 'http: all requests answered'
