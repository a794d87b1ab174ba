# Bad arguments and failing calls of polysock's ssl package and of the
# TLS natives of _socket: each prints "<case>: <what was raised or
# returned>", and tests/binding_blade.rs checks every line.
#   blade tls_errors.b <ca.pem> <server.pem> <server.key> <dir for scratch files>

import os
import ssl
import _socket
import socket as so

var ca = os.args[2], cert = os.args[3], key = os.args[4], dir = os.args[5]

def show(name, f) {
  catch {
    echo '${name}: returned ${f()}'
  } as e
  if e {
    var code = instance_of(e, ssl.TLSException) ? ' ${e.name}' : ''
    echo '${name}: raised ${typeof(e)}${code}: ${e.message}'
  }
}

# The value of a native's failure, with the error it left.
def native(name, result) {
  var e = _socket.last_error()
  echo '${name}: returned ${result} ${e ? e.name : "-"}: ${e ? e.message : "-"}'
}

# Argument types.
show('context_method', @() { return ssl.SSLContext('SSLv2_method') })
var client = ssl.TLSClientContext()
var server = ssl.TLSServerContext()
show('verify_mode_type', @() { return client.set_verify('peer') })
show('verify_disable_type', @() { return client.set_verify(ssl.SSL_VERIFY_PEER, 1) })
show('load_certs_type', @() { return server.load_certs(42) })
show('locations_type', @() { return client.set_verify_locations(nil) })
show('alpn_type', @() { return client.set_alpn_protocols('h2') })
show('socket_type', @() { return ssl.TLSSocket(42) })
show('context_type', @() { return ssl.TLSSocket(nil, 'ctx') })
show('ssl_context_type', @() { return ssl.SSL(nil) })
show('timeout_type', @() { return ssl.TLSSocket().set_timeout('1s') })

# Values polysock refuses, with its codes and messages.
show('load_certs_missing', @() { return server.load_certs(dir + '/missing.pem', key) })
echo 'load_certs_missing_error: ${server.last_error.name}: ${server.last_error.message}'
show('load_certs_mismatch', @() { return server.load_certs(ca, key) })
echo 'load_certs_mismatch_error: ${server.last_error.name}: ${server.last_error.message}'
show('locations_no_pem', @() { return client.set_verify_locations(key) })
echo 'locations_no_pem_error: ${client.last_error.name}: ${client.last_error.message}'
show('alpn_empty', @() { return client.set_alpn_protocols(['']) })
show('versions_bad', @() { return client.set_versions(5, 0) })
show('versions_order', @() { return client.set_versions(ssl.TLS1_3_VERSION, ssl.TLS1_2_VERSION) })
# The context still works after those failures.
show('server_context_usable', @() { return server.load_certs(cert, key) })

# A socket that is not connected.
show('send_unconnected', @() { return ssl.TLSSocket(nil, client).send('x') })
show('receive_unconnected', @() { return ssl.TLSSocket(nil, client).receive() })

# A plain listener that accepts but never speaks TLS.
var listener = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
listener.bind(0, '127.0.0.1')
listener.listen()
var port = listener.info().port

# Connect refused, in socket.b's idiom (its SocketException, polysock's text).
var closed = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
closed.bind(0, '127.0.0.1')
var closed_port = closed.info().port
closed.close()
show('connect_refused', @() { return ssl.TLSSocket(nil, client).connect('127.0.0.1', closed_port, 2000) })

# A server context cannot connect.
show('server_context_connect', @() { return ssl.TLSSocket(nil, server).connect('127.0.0.1', port, 2000) })

# A peer that never answers the hello: the connect's timeout bounds the
# handshake.
var start = microtime()
show('handshake_stalls', @() {
  var c = ssl.TLSClientContext()
  c.set_verify_locations(ca)
  return ssl.TLSSocket(nil, c).connect('127.0.0.1', port, 600)
})
echo 'handshake_stalls_ms: ${(microtime() - start) // 1000}'

# The natives.
var plain = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
plain.connect('127.0.0.1', port, 2000)
var cfg = _socket.tls_config_new(_socket.TLS_CLIENT)
native('config_new_side', _socket.tls_config_new(7))
native('config_bad_id', _socket.tls_config_add_alpn(123456789, 'h2'))
native('ca_file_nul', _socket.tls_config_add_ca_file(cfg, 'a\0b'))
native('ca_pem_garbage', _socket.tls_config_add_ca_pem(cfg, 'not a certificate'))
native('client_auth_on_client', _socket.tls_config_client_auth(cfg, _socket.TLS_CLIENT_AUTH_REQUIRED))
native('wrap_bad_fd', _socket.tls_wrap(999999, cfg, 'localhost'))
native('wrap_listener', _socket.tls_wrap(listener.id, cfg, 'localhost'))
native('wrap_no_name', _socket.tls_wrap(plain.id, cfg, nil))
native('handshake_plain', _socket.tls_handshake(plain.id, 100))
native('wants_plain', _socket.tls_wants(plain.id))
native('info_plain', _socket.tls_info(plain.id))
native('recv_within_wait', _socket.recv_within(plain.id, 10, -5))
native('send_within_wait', _socket.send_within(plain.id, 'x', -5))
native('wrap_twice_first', _socket.tls_wrap(plain.id, cfg, 'localhost'))
native('wrap_twice_second', _socket.tls_wrap(plain.id, cfg, 'localhost'))
native('peer_cert_before_handshake', _socket.tls_peer_certificate(plain.id))
show('wrap_name_type', @() { return _socket.tls_wrap(plain.id, cfg, 42) })
show('wrap_arg_count', @() { return _socket.tls_wrap(plain.id) })
show('recv_within_exact_type', @() { return _socket.recv_within(plain.id, 10, 0, 'yes') })
_socket.tls_config_free(cfg)
plain.close()
listener.close()
echo 'done'
