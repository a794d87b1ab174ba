# ssl's TLSSocket (unchanged) as a client: connects (retrying for up to
# 10 s while the server starts), sends one message over TLS and expects
# it back within 5 s, while the server keeps the connection open.
#   blade tls_echo_client.b <port>

import os
import ssl

var port = to_number(os.args[2])
var ctx = ssl.TLSClientContext()
ctx.set_verify(ssl.SSL_VERIFY_NONE)
var client, connected = false, start = microtime()
while !connected {
  client = ssl.TLSSocket(nil, ctx)
  catch { connected = client.connect('127.0.0.1', port, 5000) } as e
  if !connected {
    if microtime() - start > 10000000 {
      echo 'could not connect: ${e ? e.message : "handshake failed"}'
      os.exit(1)
    }
    os.sleep(0.1)
  }
}
client.send('hello over tls')
var reply, t0 = microtime()
while !reply and microtime() - t0 < 5000000 { reply = client.receive() }
var ms = (microtime() - t0) / 1000
client.close()
echo 'reply [${reply}] after ${ms} ms'
if reply != 'echo:hello over tls' os.exit(1)
if ms > 2500 {
  echo 'the reply waited for the server to close the connection'
  os.exit(1)
}
