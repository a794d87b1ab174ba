#!-- part of the ssl package (polysock)

import _socket
import date
import .context { SSLContext }
import .errors { TLSException, _check, _raise_last }

# One TLS session, as Blade's SSL: made from a context, given a socket's
# fd, then connected (client) or accepted (server). polysock puts the
# session on the socket itself: from then on the fd speaks TLS.
class SSL {

  SSL(context) {
    if !instance_of(context, SSLContext)
      raise TypeError('instance of SSLContext expected')
    self._context = context
    self._fd = -1
    self._server = false
    self._name = nil
    self._wrapped = false
  }

  set_connect_state() { self._server = false }

  set_accept_state() { self._server = true }

  get_fd() { return self._fd }

  set_fd(fd) {
    if !is_int(fd)
      raise TypeError('fd must be an integer')
    self._fd = fd
    return true
  }

  # The name the server's certificate must be for, sent as SNI (a client
  # connected with TLSSocket.connect uses the host it connected to).
  set_tlsext_host_name(name) {
    if !is_string(name)
      raise TypeError('string expected')
    self._name = name
    return true
  }

  get_tlsext_host_name() { return self._name }

  # Whether this is the server side of the session.
  is_server() { return self._server }

  # Puts the session on the fd (once).
  _wrap() {
    if self._wrapped return
    if self._server {
      _check(_socket.tls_wrap_server(self._fd, self._context.config_for(_socket.TLS_SERVER)))
    } else {
      _check(_socket.tls_wrap(self._fd, self._context.config_for(_socket.TLS_CLIENT), self._name))
    }
    self._wrapped = true
  }

  # Runs the handshake within `timeout` ms (-1 or nil: no limit); raises
  # TLSException with polysock's message when it fails.
  _handshake(timeout) {
    if timeout == nil timeout = -1
    if !is_int(timeout)
      raise TypeError('integer expected for timeout, ${typeof(timeout)} given')
    self._wrap()
    _check(_socket.tls_handshake(self._fd, timeout))
    return true
  }

  # The client's handshake. Returns true, or raises.
  connect(timeout) {
    self._server = false
    return self._handshake(timeout)
  }

  # The server's handshake. Returns true, or raises.
  accept(timeout) {
    self._server = true
    return self._handshake(timeout)
  }

  # One step of the handshake in the socket's own mode: true when done,
  # false when a non-blocking socket would block (poll the fd for
  # wants(), then call again); raises when it fails.
  do_handshake() {
    self._wrap()
    if _socket.tls_handshake(self._fd) == 0 return true
    var e = _socket.last_error()
    if e and e.name == 'EAGAIN' return false
    _raise_last()
  }

  # What the session waits for after "would block": _socket.POLLIN,
  # POLLOUT or both (0: nothing).
  wants() {
    return _check(_socket.tls_wants(self._fd))
  }

  # Sends all of data (string or bytes), each stall waiting up to
  # `timeout` ms (-1 or nil: no limit); the byte count, or raises.
  write(data, timeout) {
    if !is_string(data) and !is_bytes(data)
      raise TypeError('string or bytes expected')
    if timeout == nil timeout = -1
    self._wrap()
    return _check(_socket.send_within(self._fd, data, timeout))
  }

  # Up to `length` bytes (-1 or nil: all that is waiting) after waiting up
  # to `timeout` ms for the first; exact: until `length` came. '' when
  # nothing came in time, nil at the end of the stream; raises on errors.
  read(length, timeout, exact) {
    if length == nil length = -1
    if timeout == nil timeout = -1
    if exact == nil exact = false
    if !is_int(length)
      raise TypeError('integer expected in argument 1')
    if !is_int(timeout)
      raise TypeError('integer expected in argument 2')
    self._wrap()
    var result = _socket.recv_within(self._fd, length, timeout, exact)
    if result == -1 _raise_last()
    return result
  }

  # Sends close_notify (and shuts the socket for writing).
  shutdown() {
    return _check(_socket.shutdown(self._fd, _socket.SHUT_WR)) == 0
  }

  # {version, cipher, alpn, server_name, resumed} of the handshake.
  info() {
    var info = _socket.tls_info(self._fd)
    if info == nil _raise_last()
    return info
  }

  # The certificate the peer sent: {subject_name, issuer_name (RFC 4514
  # text: 'CN=localhost,O=Example'), san (list), not_before, not_after
  # (date.from_time of the seconds), der (bytes), chain_length}, or nil
  # when it sent none.
  get_peer_certificate() {
    var cert = _socket.tls_peer_certificate(self._fd)
    if cert == nil {
      var e = _socket.last_error()
      if e and e.name == 'ENOENT' return nil
      _raise_last()
    }
    cert.not_before = date.from_time(cert.not_before)
    cert.not_after = date.from_time(cert.not_after)
    return cert
  }

  # The message of this thread's last failure, or nil.
  error(code) {
    var e = _socket.last_error()
    return e ? e.message : nil
  }

  # Nothing to free: the session goes with its socket.
  free() {}

  get_pointer() { return self._fd }
}
