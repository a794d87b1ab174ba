#!-- part of the ssl package (polysock)

import _socket

# The verification modes SSLContext.set_verify takes: OpenSSL's bit
# values, so code that passes Blade's constants or their numbers works.

# Client: accept any certificate (INSECURE). Server: ask for none.
var SSL_VERIFY_NONE = 0
# Client: verify the server's certificate and name (polysock's default).
# Server: ask for a client certificate, verify it when one is sent.
var SSL_VERIFY_PEER = 1
# Server, with SSL_VERIFY_PEER: refuse clients without a valid certificate.
var SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2
# Accepted and without effect: certificates are asked for once, at the
# handshake.
var SSL_VERIFY_CLIENT_ONCE = 4
var SSL_VERIFY_POST_HANDSHAKE = 32

var SSL_FILETYPE_PEM = 1
var SSL_FILETYPE_ASN1 = 2

# The methods an SSLContext is made for: which sides it serves.
var TLS_method = 'TLS_method'
var TLS_client_method = 'TLS_client_method'
var TLS_server_method = 'TLS_server_method'
# SSLv2/3 are long gone: these are the TLS methods under their old names.
var SSLv23_method = TLS_method
var SSLv23_client_method = TLS_client_method
var SSLv23_server_method = TLS_server_method

# TLS versions for SSLContext.set_versions (polysock's numbers).
var TLS1_2_VERSION = _socket.TLS_1_2
var TLS1_3_VERSION = _socket.TLS_1_3
