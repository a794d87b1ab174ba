# polysock's ssl package as a client of peers no one here wrote (Python's
# ssl, tests/tls_peer.py in echo mode), driven by tests/binding_blade.rs:
#   blade tls_client.b <ca.pem> <bytes> <echo port> <tls1.2+alpn port> <non-blocking port>
# 1. <bytes> of a pattern echoed through TLSSocket, 64 KiB at a time,
#    with the sha256 of what went and what came back;
# 2. TLS 1.2 only, ALPN h2, and what the session reports;
# 3. a handshake driven by poll() on a non-blocking socket (timeout 0),
#    then a line sent and read back the same way.

import os
import hash
import ssl
import _socket
import socket as so

var ca = os.args[2], total = to_number(os.args[3])
var ports = [to_number(os.args[4]), to_number(os.args[5]), to_number(os.args[6])]

# The pattern: 61 letters, so 64 KiB pieces do not repeat in step.
var letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz012345678'
var base = ''
for i in 0..61 base += letters[(i * 7 + 3) % 61]
var chunk = 65536
var block = base * ((chunk // 61) + 2)

def context() {
  var ctx = ssl.TLSClientContext()
  ctx.set_verify(ssl.SSL_VERIFY_PEER)
  if !ctx.set_verify_locations(ca) {
    echo 'set_verify_locations failed: ${ctx.last_error}'
    os.exit(1)
  }
  return ctx
}

# 1. Echo with checksums.
var t = ssl.TLSSocket(nil, context())
t.connect('localhost', ports[0], 10000)
t.set_timeout(10000)
var sent = '', got = '', offset = 0
while offset < total {
  var n = total - offset < chunk ? total - offset : chunk
  var start = offset % 61
  var piece = block[start, start + n]
  t.send(piece)
  sent += piece
  var back = t.read(n)
  if back == nil or back.length() != n {
    echo 'short echo at ${offset}: ${back == nil ? "end of stream" : back.length()}'
    os.exit(1)
  }
  got += back
  offset += n
}
var info = t.tls_info()
var cert = t.get_ssl().get_peer_certificate()
t.close()
echo 'echo bytes ${got.length()}'
echo 'echo sent_sha256 ${hash.sha256(sent)}'
echo 'echo got_sha256 ${hash.sha256(got)}'
echo 'echo version ${info.version}'
echo 'echo peer ${cert.subject_name} san ${cert.san}'

# 2. TLS 1.2 and ALPN.
var ctx12 = context()
ctx12.set_versions(ssl.TLS1_2_VERSION, ssl.TLS1_2_VERSION)
ctx12.set_alpn_protocols(['h2', 'http/1.1'])
var t12 = ssl.TLSSocket(nil, ctx12)
t12.connect('127.0.0.1', ports[1], 10000)
t12.set_timeout(10000)
t12.send('tls12 line\n')
echo 'tls12 echo ${t12.read(11).trim()}'
var info12 = t12.tls_info()
echo 'tls12 version ${info12.version} alpn ${info12.alpn} cipher ${info12.cipher}'
t12.close()

# 3. Non-blocking: the handshake and the data driven through poll().
var plain = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
plain.set_blocking(true)
plain.connect('127.0.0.1', ports[2], 10000)
var nb = ssl.TLSSocket(plain, context())
nb.get_ssl().set_tlsext_host_name('localhost')
nb.set_timeout(0)
var steps = 0, waits = {}
while !nb.handshake(0) {
  var wants = nb.wants()
  waits.set(wants, true)
  steps += 1
  if steps > 1000 or _socket.poll([nb.id], wants, 5000)[0] == 0 {
    echo 'non-blocking handshake stuck after ${steps} steps'
    os.exit(1)
  }
}
nb.send('non-blocking line\n')
var line = '', rounds = 0
while line.length() < 18 and rounds < 1000 {
  var part = nb.receive()
  if part == nil break
  line += part
  if part == '' _socket.poll([nb.id], _socket.POLLIN, 5000)
  rounds += 1
}
echo 'nonblocking steps ${steps} waited_in ${waits.contains(_socket.POLLIN)} reply ${line.trim()}'
nb.close()
