#!-- part of the ssl package (polysock)

import _socket

# What every failure of this package raises: polysock's message
# ('tls handshake with localhost: unknown issuer (issuer CN=Other CA)'),
# its code and the code's name ('POLYSOCK_ETLS_UNKNOWN_ISSUER',
# 'ECONNREFUSED'), which scripts compare rather than numbers.
class TLSException < Exception {
  var code
  var name

  TLSException(message, code, name) {
    parent(message)
    self.code = code
    self.name = name
  }

  @to_string() {
    return '<TLSException ${self.name}: ${self.message}>'
  }
}

# The last failure of a _socket call on this thread, raised.
def _raise_last() {
  var e = _socket.last_error()
  if !e raise TLSException('unknown failure', 0, '')
  raise TLSException(e.message, e.code, e.name)
}

# A _socket result, or the failure it reports (-1) raised.
def _check(result) {
  if result == -1 _raise_last()
  return result
}
