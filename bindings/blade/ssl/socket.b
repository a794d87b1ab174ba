#!-- part of the ssl package (polysock)

import _socket
import .constants { TLS_method }
import .context { SSLContext }
import .ssl { SSL }
import .errors { TLSException, _check, _raise_last }

import socket { Socket, IP_LOCAL, AF_INET, SOCK_STREAM, IPPROTO_TCP, SO_RCVTIMEO, SO_SNDTIMEO }

# Blade's TLSSocket on polysock's TLS: a socket.Socket with an SSL
# session on it. Failures raise TLSException with polysock's message.
#
# Waits. receive() waits for data up to SO_RCVTIMEO when set, else the
# timeout of set_timeout(), else forever on a socket set blocking, else
# 50 ms (Blade's TLSSocket's wait on a non-blocking socket); send() waits
# up to SO_SNDTIMEO, else set_timeout()'s, else until all is sent. Each
# wait is for what the TLS session needs (polysock_tls_wants): a receive
# may have to write, a send to read.
class TLSSocket {
  var host = IP_LOCAL
  var port = 0
  var family = AF_INET
  var type = SOCK_STREAM
  var protocol = IPPROTO_TCP
  var id = -1
  var is_client = false
  var is_bound = false
  var is_connected = false
  var is_listening = false
  var is_closed = false
  var is_shutdown = false
  var is_blocking = false
  var shutdown_reason = -1
  var send_timeout = -1
  var receive_timeout = -1

  TLSSocket(socket, context, ssl) {
    if socket != nil and !instance_of(socket, Socket)
      raise TypeError('instance of Socket expected in first argument')
    if context != nil and !instance_of(context, SSLContext)
      raise TypeError('instance of SSLContext expected in second argument')
    if ssl != nil and !instance_of(ssl, SSL)
      raise TypeError('instance of SSL expected in third argument')
    self._socket = socket ? socket : Socket()
    self._context = context ? context : SSLContext(TLS_method)
    self._ssl = ssl ? ssl : SSL(self._context)
    # A socket connected already: the session goes on it.
    if self._socket.id >= 0 and self._ssl.get_fd() == -1 self._ssl.set_fd(self._socket.id)
    # set_timeout()'s, or nil.
    self._timeout = nil
    self._sync()
  }

  # The socket's state, as the fields show it.
  _sync() {
    var s = self._socket
    self.host = s.host
    self.port = s.port
    self.family = s.family
    self.type = s.type
    self.protocol = s.protocol
    self.id = s.id
    self.is_client = s.is_client
    self.is_bound = s.is_bound
    self.is_connected = s.is_connected
    self.is_listening = s.is_listening
    self.is_closed = s.is_closed
    self.is_shutdown = s.is_shutdown
    self.is_blocking = s.is_blocking
    self.shutdown_reason = s.shutdown_reason
  }

  # A socket option in ms, 0 when unset (or on a closed socket).
  _option_ms(option) {
    var v = _socket.getsockopt(self._socket.id, option)
    return is_number(v) and v > 0 ? v : 0
  }

  _receive_wait() {
    var ms = self._option_ms(SO_RCVTIMEO)
    if ms > 0 return ms
    if self._timeout != nil return self._timeout
    return self._socket.is_blocking ? -1 : 50
  }

  _send_wait() {
    var ms = self._option_ms(SO_SNDTIMEO)
    if ms > 0 return ms
    return self._timeout != nil ? self._timeout : -1
  }

  _ready() {
    if self._socket.is_closed or !self._socket.is_connected
      raise TLSException('TLSSocket: not connected', 107, 'ENOTCONN')
  }

  # Connects to host:port and runs the handshake, both within `timeout`
  # ms (default 300,000, as socket.Socket's). The server's certificate
  # must be valid for `host` (or set_tlsext_host_name's name) unless the
  # context says otherwise. Returns true, or raises.
  connect(host, port, timeout) {
    if !host host = self._socket.host
    if !timeout timeout = 300000
    if !is_int(timeout)
      raise TypeError('integer expected for timeout, ${typeof(timeout)} given')
    var start = microtime()
    self._socket.connect(host, port, timeout)
    self._sync()
    if self._ssl.get_tlsext_host_name() == nil self._ssl.set_tlsext_host_name(host)
    self._ssl.set_fd(self._socket.id)
    var left = timeout - (microtime() - start) // 1000
    return self._ssl.connect(left > 0 ? left : 1)
  }

  bind(port, host) {
    var r = self._socket.bind(port, host)
    self._sync()
    return r
  }

  listen(queue_length) {
    var r = self._socket.listen(queue_length)
    self._sync()
    return r
  }

  # Accepts a connection; its handshake runs on the first send or
  # receive (or handshake()), as with Blade's TLSSocket.
  accept() {
    var s = self._socket.accept()
    var ssl = SSL(self._context)
    ssl.set_fd(s.id)
    ssl.set_accept_state()
    var client = TLSSocket(s, self._context, ssl)
    if self._timeout != nil client.set_timeout(self._timeout)
    return client
  }

  # Runs the handshake now, within `timeout` ms (nil: the receive wait);
  # true, or raises. On a socket with set_timeout(0), handshake(0) is one
  # step: false when it would block (poll for wants()).
  handshake(timeout) {
    self._ready()
    if timeout == 0 return self._ssl.do_handshake()
    if timeout == nil timeout = self._receive_wait()
    if self._ssl.is_server() return self._ssl.accept(timeout)
    return self._ssl.connect(timeout)
  }

  # What the session waits for after "would block" (_socket.POLLIN,
  # POLLOUT or both).
  wants() { return self._ssl.wants() }

  # Sends message (string, bytes, file: its content) over TLS; returns
  # the bytes sent, or raises.
  send(message, flags) {
    self._ready()
    if is_file(message) message = message.read()
    return self._ssl.write(is_string(message) or is_bytes(message) ? message : to_string(message),
                           self._send_wait())
  }

  # What arrived, up to `length` bytes (-1 or nil: all that is waiting),
  # after the receive wait; '' when nothing came in it, nil at the end of
  # the stream (the peer's close_notify). Raises on errors (a connection
  # cut without close_notify: POLYSOCK_ETLS_TRUNCATED).
  receive(length, flags) {
    if length != nil and !is_int(length)
      raise TypeError('integer expected for length, ${typeof(length)} given')
    self._ready()
    return self._ssl.read(length, self._receive_wait())
  }

  # Exactly `length` bytes (default 1024), fewer when the stream ends or a
  # receive wait passes with nothing; nil at the end of the stream.
  read(length) {
    if length == nil length = 1024
    if !is_int(length)
      raise TypeError('integer expected for length, ${typeof(length)} given')
    self._ready()
    return self._ssl.read(length, self._receive_wait(), true)
  }

  # polysock's timeout for every call on this socket, in ms: -1 blocks,
  # 0 is non-blocking, > 0 bounds each wait (ETIMEDOUT).
  set_timeout(ms) {
    if !is_int(ms) raise TypeError('integer expected, ${typeof(ms)} given')
    if !self._socket.is_closed _check(_socket.settimeout(self._socket.id, ms))
    self._timeout = ms
    return true
  }

  # Sends close_notify if the session is open, then closes the socket.
  close() {
    if self._socket.is_closed return true
    if _socket.tls_state(self._socket.id) == _socket.TLS_STATE_OPEN
      _socket.shutdown(self._socket.id, _socket.SHUT_WR)
    var r = self._socket.close()
    self._sync()
    return r
  }

  # Sends close_notify (the socket stays open for reading).
  shutdown() {
    self._ready()
    return self._ssl.shutdown()
  }

  set_option(option, value) { return self._socket.set_option(option, value) }

  get_option(option) { return self._socket.get_option(option) }

  set_blocking(mode) {
    var r = self._socket.set_blocking(mode)
    self._sync()
    return r
  }

  info() { return self._socket.info() }

  # {version, cipher, alpn, server_name, resumed} of the handshake.
  tls_info() { return self._ssl.info() }

  get_socket() { return self._socket }

  get_context() { return self._context }

  get_ssl() { return self._ssl }

  set_context(context) {
    if !instance_of(context, SSLContext)
      raise TypeError('instance of SSLContext expected')
    self._context = context
    self._ssl = SSL(context)
  }

  @to_string() {
    return '<TLSSocket closed: ${self.is_closed}, listening: ' +
        '${self.is_listening}, connected: ${self.is_connected}, bound: ${self.is_bound}>'
  }
}

def socket(socket, context, ssl) {
  return TLSSocket(socket, context, ssl)
}
