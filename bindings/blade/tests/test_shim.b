# Tests of polysock's _socket module for Blade, through Blade's own
# libs/socket.b (Socket) and through _socket directly.
#
# Run from a directory whose .blade/bin holds the shim's _socket.so:
#   blade test_shim.b [temp dir for Unix socket paths]
# Prints one line per test and "passed N failed M"; exits 1 if any failed.
# Loopback (127.0.0.1, ::1) and Unix paths only; every wait is bounded.

import os
import thread
import _socket
import socket as so

var tmp = os.args.length() > 2 ? os.args[2] : '/tmp'
var passed = 0
var failed = 0

def test(name, fn) {
  catch {
    fn()
  } as e
  if e {
    failed++
    echo 'FAIL ${name}: ${typeof(e)}: ${e.message}'
  } else {
    passed++
    echo 'ok   ${name}'
  }
}

def expect(cond, what) {
  if !cond raise Exception(what)
}

def expect_eq(got, want, what) {
  if got != want raise Exception('${what}: got ${got}, want ${want}')
}

# The name of the last failure on this thread (ECONNREFUSED, EAI_NONAME...).
def last_name() {
  var e = _socket.last_error()
  return e ? e.name : nil
}

def ms_since(start) {
  return (microtime() - start) / 1000
}

# A listening socket, a client connected to it, and the accepted socket;
# both ends get 5 s receive and send timeouts so that no wait is unbounded.
def tcp_trio(family, host) {
  var srv = so.Socket(family, so.SOCK_STREAM, 0)
  srv.set_option(so.SO_REUSEADDR, true)
  srv.bind(0, host)
  srv.listen()
  var port = srv.info().port
  var cli = so.Socket(family, so.SOCK_STREAM, 0)
  cli.connect(host, port, 5000)
  var conn = srv.accept()
  for s in [cli, conn] {
    s.set_option(so.SO_RCVTIMEO, 5000)
    s.set_option(so.SO_SNDTIMEO, 5000)
  }
  return [srv, cli, conn, port]
}

def close_all(list) {
  for s in list {
    if instance_of(s, so.Socket) s.close()
  }
}

# A port nothing listens on: bound, then closed.
def free_port() {
  var s = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  s.bind(0, '127.0.0.1')
  var port = s.info().port
  s.close()
  return port
}

def unix_path(tag) {
  return '${tmp}/pb-${tag}-${to_string(microtime())}.sock'
}

# ---------------------------------------------------------------------
# The module's surface

test('75 constant fields are numbers, -1 only where the platform lacks one', @() {
  var names = ['SOCK_STREAM', 'SOCK_DGRAM', 'SOCK_RAW', 'SOCK_RDM', 'SOCK_SEQPACKET',
    'SO_DEBUG', 'SO_ACCEPTCONN', 'SO_REUSEADDR', 'SO_KEEPALIVE', 'SO_DONTROUTE',
    'SO_BROADCAST', 'SO_USELOOPBACK', 'SO_LINGER', 'SO_OOBINLINE', 'SO_REUSEPORT',
    'SO_TIMESTAMP', 'SO_SNDBUF', 'SO_RCVBUF', 'SO_SNDLOWAT', 'SO_RCVLOWAT', 'SO_SNDTIMEO',
    'SO_RCVTIMEO', 'SO_ERROR', 'SO_TYPE', 'SOL_SOCKET', 'AF_UNSPEC', 'AF_UNIX', 'AF_LOCAL',
    'AF_INET', 'AF_IMPLINK', 'AF_PUP', 'AF_CHAOS', 'AF_NS', 'AF_ISO', 'AF_OSI', 'AF_ECMA',
    'AF_DATAKIT', 'AF_CCITT', 'AF_SNA', 'AF_DECnet', 'AF_DLI', 'AF_LAT', 'AF_HYLINK',
    'AF_APPLETALK', 'AF_INET6', 'IPPROTO_IP', 'IPPROTO_ICMP', 'IPPROTO_IGMP', 'IPPROTO_IPIP',
    'IPPROTO_TCP', 'IPPROTO_EGP', 'IPPROTO_PUP', 'IPPROTO_UDP', 'IPPROTO_IDP', 'IPPROTO_TP',
    'IPPROTO_DCCP', 'IPPROTO_IPV6', 'IPPROTO_RSVP', 'IPPROTO_GRE', 'IPPROTO_ESP', 'IPPROTO_AH',
    'IPPROTO_MTP', 'IPPROTO_BEETPH', 'IPPROTO_ENCAP', 'IPPROTO_PIM', 'IPPROTO_COMP',
    'IPPROTO_SCTP', 'IPPROTO_UDPLITE', 'IPPROTO_MPLS', 'IPPROTO_RAW', 'IPPROTO_MAX',
    'SHUT_RD', 'SHUT_WR', 'SHUT_RDWR', 'SOMAXCONN']
  expect_eq(names.length(), 75, 'constant count')
  # socket.b copies every one of them at import: reading them back
  # through it proves the module defines all 75.
  var values = {
    SOCK_STREAM: so.SOCK_STREAM, SOCK_DGRAM: so.SOCK_DGRAM, AF_INET: so.AF_INET,
    AF_INET6: so.AF_INET6, AF_UNIX: so.AF_UNIX, SOL_SOCKET: so.SOL_SOCKET,
    SO_REUSEADDR: so.SO_REUSEADDR, IPPROTO_TCP: so.IPPROTO_TCP, SHUT_RDWR: so.SHUT_RDWR,
    SOMAXCONN: so.SOMAXCONN,
  }
  for name, v in values {
    expect_eq(v, _socket.constant(name), name)
  }
  expect_eq(_socket.AF_LOCAL, _socket.AF_UNIX, 'AF_LOCAL')
})

test('socket.b imports the module and reads its constants', @() {
  expect(is_number(so.SOCK_STREAM) and is_number(so.IPPROTO_MAX) and is_number(so.SOMAXCONN),
    'socket.b constants')
})

test('the version is polysock\'s', @() {
  expect(_socket.version().split('.').length() == 3, 'version ${_socket.version()}')
})

# ---------------------------------------------------------------------
# TCP, UDP, IPv6, Unix

test('TCP over IPv4 through socket.b: send, receive, read, info', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  var cli = t[1], conn = t[2]
  expect_eq(cli.send('hello'), 5, 'bytes sent')
  expect_eq(conn.receive(), 'hello', 'received')
  conn.send('0123456789')
  expect_eq(cli.read(10), '0123456789', 'read exactly')
  expect_eq(conn.host, '127.0.0.1', 'accepted peer host')
  expect(conn.port > 0, 'accepted peer port')
  var info = cli.info()
  expect_eq(info.address, '127.0.0.1', 'info address')
  expect_eq(info.ipv6, '', 'info ipv6')
  expect_eq(info.family, so.AF_INET, 'info family')
  expect_eq(conn.info().port, t[3], 'accepted socket local port')
  close_all(t)
})

test('TCP over IPv6 (::1)', @() {
  var t = tcp_trio(so.AF_INET6, '::1')
  t[1].send('over six')
  expect_eq(t[2].receive(), 'over six', 'received')
  expect_eq(t[2].host, '::1', 'peer host')
  var info = t[1].info()
  expect_eq(info.ipv6, '::1', 'info ipv6')
  expect_eq(info.address, '', 'info address')
  close_all(t)
})

test('receive(-1) returns everything waiting, beyond 64 KiB', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  var big = bytes(150000)
  for i in 0..150000 { big[i] = 65 + i % 26 }
  expect_eq(t[1].send(big), 150000, 'sent')
  var got = bytes(0)
  var start = microtime()
  while got.length() < 150000 and ms_since(start) < 5000 {
    var part = _socket.recv_bytes(t[2].id, -1, 0)
    if part == -1 or part == nil break
    got += part
  }
  expect_eq(got.length(), 150000, 'received')
  expect(got == big, 'same bytes')
  close_all(t)
})

test('UDP over IPv4: send_to / receive_from', @() {
  var a = so.Socket(so.AF_INET, so.SOCK_DGRAM, 0)
  a.bind(0, '127.0.0.1')
  a.set_option(so.SO_RCVTIMEO, 5000)
  var b = so.Socket(so.AF_INET, so.SOCK_DGRAM, 0)
  b.bind(0, '127.0.0.1')
  b.set_option(so.SO_RCVTIMEO, 5000)
  expect_eq(b.send_to('127.0.0.1', a.info().port, nil, 'ping'), 4, 'sent')
  var r = a.receive_from()
  expect_eq(r.data, 'ping', 'data')
  expect_eq(r.host, '127.0.0.1', 'sender host')
  expect_eq(r.port, b.info().port, 'sender port')
  a.send_to(r.host, r.port, nil, 'pong')
  expect_eq(b.receive_from().data, 'pong', 'reply')
  a.close()
  b.close()
})

test('UDP over IPv6', @() {
  var a = so.Socket(so.AF_INET6, so.SOCK_DGRAM, 0)
  a.bind(0, '::1')
  a.set_option(so.SO_RCVTIMEO, 5000)
  var b = so.Socket(so.AF_INET6, so.SOCK_DGRAM, 0)
  b.bind(0, '::1')
  b.send_to('::1', a.info().port, nil, 'v6 datagram')
  var r = a.receive_from()
  expect_eq(r.data, 'v6 datagram', 'data')
  expect_eq(r.host, '::1', 'sender')
  a.close()
  b.close()
})

test('Unix stream socket: bind/connect with a path', @() {
  var path = unix_path('stream')
  var srv = so.Socket(so.AF_UNIX, so.SOCK_STREAM, 0)
  srv.bind(0, path)
  srv.listen()
  var cli = so.Socket(so.AF_UNIX, so.SOCK_STREAM, 0)
  cli.connect(path, 0, 5000)
  var conn = srv.accept()
  conn.set_option(so.SO_RCVTIMEO, 5000)
  cli.send('over a path')
  expect_eq(conn.receive(), 'over a path', 'received')
  expect_eq(_socket.getsockname(srv.id).host, path, 'bound path')
  expect_eq(_socket.getpeername(cli.id).host, path, 'peer path')
  expect_eq(srv.info().family, so.AF_UNIX, 'info family')
  close_all([srv, cli, conn])
  os.exec('rm -f ${path}')
})

test('Unix datagram socket: sendto/recvfrom with paths', @() {
  var pa = unix_path('dga'), pb = unix_path('dgb')
  var a = _socket.create(so.AF_UNIX, so.SOCK_DGRAM, 0)
  var b = _socket.create(so.AF_UNIX, so.SOCK_DGRAM, 0)
  expect_eq(_socket.bind(a, pa, 0, so.AF_UNIX), 0, 'bind a')
  expect_eq(_socket.bind(b, pb, 0, so.AF_UNIX), 0, 'bind b')
  _socket.settimeout(a, 5000)
  expect_eq(_socket.sendto(b, 'unix dgram', 0, pa, 0, so.AF_UNIX), 10, 'sent')
  var r = _socket.recvfrom(a, -1, 0)
  expect_eq(r[0], 'unix dgram', 'data')
  expect_eq(r[1], pb, 'sender path')
  _socket.close(a)
  _socket.close(b)
  os.exec('rm -f ${pa} ${pb}')
})

test('shutdown(SHUT_WR) gives the peer end of stream (nil)', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  t[1].send('last words')
  expect(t[1].shutdown(so.SHUT_WR) != nil, 'shutdown')
  expect_eq(t[2].receive(), 'last words', 'data before the end')
  expect_eq(t[2].receive(), nil, 'end of stream')
  close_all(t)
})

# ---------------------------------------------------------------------
# Timeouts

test('receive waits SO_RCVTIMEO, then fails with a timeout', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  t[2].set_option(so.SO_RCVTIMEO, 200)
  expect_eq(t[2].get_option(so.SO_RCVTIMEO), 200, 'socket.b copy')
  expect_eq(_socket.getsockopt(t[2].id, so.SO_RCVTIMEO), 200, 'kernel value')
  var start = microtime()
  catch { t[2].receive() } as e
  var ms = ms_since(start)
  expect(e, 'no exception')
  expect(instance_of(e, so.SocketException), 'SocketException')
  expect(e.message.contains('timed out'), e.message)
  expect(ms >= 150 and ms < 5000, 'waited ${ms} ms')
  close_all(t)
})

test('receive on a non-blocking socket also waits SO_RCVTIMEO (libs/http client)', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  t[1].set_blocking(false)
  t[1].set_option(so.SO_RCVTIMEO, 200)
  var start = microtime()
  expect_eq(_socket.recv(t[1].id, -1, 0), -1, 'timed out')
  expect_eq(last_name(), 'ETIMEDOUT', 'error')
  expect(ms_since(start) >= 150, 'waited')
  t[2].send('late')
  expect_eq(_socket.recv(t[1].id, -1, 0), 'late', 'then data')
  close_all(t)
})

test('send on a non-blocking socket waits SO_SNDTIMEO while the buffers are full', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  _socket.setblocking(t[1].id, false)
  _socket.setsockopt(t[1].id, so.SO_SNDTIMEO, 200)
  var start = microtime()
  expect_eq(_socket.send(t[1].id, bytes(16 * 1024 * 1024), 0), -1, 'send')
  expect_eq(last_name(), 'ETIMEDOUT', 'error')
  expect(ms_since(start) >= 150, 'waited')
  close_all(t)
})

test('receive without SO_RCVTIMEO waits 500 ms, as the built-in module', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  _socket.setsockopt(t[2].id, so.SO_RCVTIMEO, 0)
  var start = microtime()
  expect_eq(_socket.recv(t[2].id, -1, 0), -1, 'timed out')
  var ms = ms_since(start)
  expect(ms >= 400 and ms < 5000, 'waited ${ms} ms')
  close_all(t)
})

test('settimeout(ms) bounds recv, read and accept', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  _socket.setsockopt(t[2].id, so.SO_RCVTIMEO, 0)
  expect_eq(_socket.settimeout(t[2].id, 150), 0, 'settimeout')
  expect_eq(_socket.gettimeout(t[2].id), 150, 'gettimeout')
  var start = microtime()
  expect_eq(_socket.recv_bytes(t[2].id, 10, 0), -1, 'recv')
  expect_eq(last_name(), 'ETIMEDOUT', 'recv error')
  expect_eq(_socket.read(t[2].id, 10, 0), -1, 'read')
  expect_eq(last_name(), 'ETIMEDOUT', 'read error')
  _socket.settimeout(t[0].id, 150)
  catch { _socket.accept(t[0].id) } as e
  expect(e and e.message.contains('client accept failed'), 'accept: ${e}')
  expect(e.message.contains('timed out'), e.message)
  expect(ms_since(start) >= 400, 'waited')
  expect_eq(_socket.settimeout(t[2].id, -5), -1, 'bad timeout')
  expect_eq(last_name(), 'EINVAL', 'bad timeout error')
  close_all(t)
})

# A peer on a Blade thread: accepts one connection on the listening fd,
# waits `delay` ms (a poll that nothing ends) and sends `reply` unless it
# is nil, then holds the connection until the client closes it (at most 5
# s). Returns the thread.
def late_peer(listen_fd, delay, reply) {
  return thread.start(@(t, fd, delay, reply) {
    var c = _socket.accept(fd)[0]
    _socket.poll([c], _socket.POLLIN, delay)
    if reply _socket.send(c, reply, 0)
    _socket.poll([c], _socket.POLLIN, 5000)
    _socket.close(c)
  }, [listen_fd, delay, reply])
}

# A client that sets SO_RCVTIMEO (ms), then connects with a timeout, as
# socket.b users do; blocking: set_blocking(true) first.
def timed_client(port, rcvtimeo, blocking) {
  var c = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  if blocking c.set_blocking(true)
  c.set_option(so.SO_RCVTIMEO, rcvtimeo)
  c.connect('127.0.0.1', port, 3000)
  return c
}

def listener() {
  var srv = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  srv.bind(0, '127.0.0.1')
  srv.listen()
  return srv
}

test('read after a timed connect waits SO_RCVTIMEO for a late reply', @() {
  var srv = listener()
  var peer = late_peer(srv.id, 200, 'late reply')
  var c = timed_client(srv.info().port, 400, false)
  expect_eq(_socket.gettimeout(c.id), 0, 'connect left it non-blocking (for TLSSocket)')
  var start = microtime()
  var got = c.read(10)
  var ms = ms_since(start)
  expect_eq(got, 'late reply', 'the reply')
  expect(ms >= 150 and ms < 400, 'waited ${ms} ms')
  expect_eq(_socket.gettimeout(c.id), 0, 'the mode is unchanged')
  c.close()
  peer.await()
  srv.close()
})

test('read after a timed connect: no reply within SO_RCVTIMEO gives what came (\'\'), as Blade', @() {
  var srv = listener()
  var peer = late_peer(srv.id, 0, nil)
  var c = timed_client(srv.info().port, 400, false)
  var start = microtime()
  var got = c.read(10)
  var ms = ms_since(start)
  expect_eq(got, '', 'nothing came')
  expect(ms >= 350 and ms < 5000, 'waited ${ms} ms')
  expect_eq(last_name(), 'ETIMEDOUT', 'the timeout is the last failure')
  c.close()
  peer.await()
  srv.close()
})

test('read on a blocking socket: SO_RCVTIMEO gives what came, as the built-in read', @() {
  var srv = listener()
  var peer = late_peer(srv.id, 0, 'abc')
  var c = timed_client(srv.info().port, 400, true)
  expect_eq(_socket.gettimeout(c.id), -1, 'blocking')
  var start = microtime()
  var got = c.read(10)
  var ms = ms_since(start)
  expect_eq(got, 'abc', 'the three bytes that came')
  expect(ms >= 350 and ms < 5000, 'waited ${ms} ms for the rest')
  expect_eq(c.read(10), '', 'then nothing came: \'\', not an exception')
  c.close()
  peer.await()
  srv.close()
})

test('read on a non-blocking socket without SO_RCVTIMEO returns what there is at once', @() {
  var srv = listener()
  var peer = late_peer(srv.id, 0, nil)
  var c = timed_client(srv.info().port, 0, false)
  var start = microtime()
  expect_eq(c.read(10), '', 'nothing yet')
  expect(ms_since(start) < 100, 'no wait')
  c.close()
  peer.await()
  srv.close()
})

test('connect leaves the socket in the mode is_blocking asks for', @() {
  var srv = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  srv.bind(0, '127.0.0.1')
  srv.listen()
  var port = srv.info().port
  # socket.b passes is_blocking (false unless set_blocking(true) was
  # called); as with the built-in module the socket is then non-blocking,
  # which ssl's TLSSocket relies on.
  var s = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  expect_eq(_socket.gettimeout(s.id), -1, 'a new socket blocks')
  s.connect('127.0.0.1', port, 3000)
  expect_eq(_socket.gettimeout(s.id), 0, 'non-blocking, as is_blocking says')
  var b = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  b.set_blocking(true)
  b.connect('127.0.0.1', port, 3000)
  expect_eq(_socket.gettimeout(b.id), -1, 'still blocking')
  # With is_blocking true, the socket's own timeout comes back.
  var fd = _socket.create(so.AF_INET, so.SOCK_STREAM, 0)
  _socket.settimeout(fd, 700)
  expect_eq(_socket.connect(fd, '127.0.0.1', port, so.AF_INET, 3000, true), 0, 'connect')
  expect_eq(_socket.gettimeout(fd), 700, 'its timeout restored')
  # No timeout: the connect runs in the socket's mode and changes nothing.
  var fd2 = _socket.create(so.AF_INET, so.SOCK_STREAM, 0)
  expect_eq(_socket.connect(fd2, '127.0.0.1', port, so.AF_INET, 0, false), 0, 'connect')
  expect_eq(_socket.gettimeout(fd2), -1, 'unchanged')
  _socket.close(fd)
  _socket.close(fd2)
  close_all([srv, s, b])
})

# ---------------------------------------------------------------------
# Errors

test('connection refused is reported as such', @() {
  var port = free_port()
  var s = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  catch { s.connect('127.0.0.1', port, 2000) } as e
  expect(e and instance_of(e, so.SocketException), 'exception')
  expect(e.message.contains('Connection refused'), e.message)
  expect(e.message.contains('127.0.0.1:${port}'), 'context: ${e.message}')
  expect_eq(last_name(), 'ECONNREFUSED', 'name')
})

test('a name that does not resolve is a resolver error, not EADDRNOTAVAIL', @() {
  var fd = _socket.create(so.AF_INET, so.SOCK_STREAM, 0)
  expect_eq(_socket.connect(fd, 'bad..name', 80, so.AF_INET, 1000, false), -1, 'connect')
  expect(last_name().starts_with('EAI_'), 'name ${last_name()}')
  expect(_socket.error(-1).contains('resolving'), _socket.error(-1))
  expect_eq(_socket.sendto(fd, 'x', 0, 'not a host!', 80, so.AF_INET), -1, 'sendto')
  expect(last_name().starts_with('EAI_'), 'sendto name ${last_name()}')
  catch { _socket.bind(fd, 'bad..name', 0, so.AF_INET) } as e
  expect(e and typeof(e) == 'ValueError', 'bind raises ValueError as the built-in does')
  expect(e.message.contains('address not valid or unsupported'), e.message)
  _socket.close(fd)
})

test('a bad fd is EBADF, never another socket', @() {
  expect_eq(_socket.send(999999, 'x', 0), -1, 'send')
  expect_eq(last_name(), 'EBADF', 'name')
  expect(_socket.error(-1).contains('999999'), _socket.error(-1))
  expect_eq(_socket.close(999999), -1, 'close')
  expect_eq(_socket.recv(999999, -1, 0), -1, 'recv (the built-in returns nil)')
  expect_eq(last_name(), 'EBADF', 'recv error')
  expect_eq(_socket.listen(-1, 5), -1, 'listen -1')
  expect_eq(_socket.setblocking(999999, true), -1, 'setblocking')
  var info = _socket.getsockinfo(999999)
  expect(info.address == nil and info.port == -1 and info.family == -1, 'getsockinfo shape')
  # stdin is an fd, but not a socket of this module.
  expect_eq(_socket.close(0), -1, 'close(0) refused')
})

test('closing twice is harmless; a closed fd is EBADF', @() {
  var fd = _socket.create(so.AF_INET, so.SOCK_STREAM, 0)
  expect_eq(_socket.close(fd), 0, 'close')
  expect_eq(_socket.close(fd), -1, 'second close')
  expect_eq(last_name(), 'EBADF', 'name')
})

test('bind: port out of range is EINVAL (the built-in truncates 70000 to 4464)', @() {
  var fd = _socket.create(so.AF_INET, so.SOCK_STREAM, 0)
  expect_eq(_socket.bind(fd, '127.0.0.1', 70000, so.AF_INET), -1, 'bind')
  expect_eq(last_name(), 'EINVAL', 'name')
  expect_eq(_socket.getsockinfo(fd).port, 0, 'not bound')
  _socket.close(fd)
})

test('address in use', @() {
  var a = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  a.bind(0, '127.0.0.1')
  a.listen()
  var b = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  catch { b.bind(a.info().port, '127.0.0.1') } as e
  expect(e and e.message.contains('Address already in use'), '${e}')
  expect_eq(last_name(), 'EADDRINUSE', 'name')
  a.close()
})

test('sending to a closed peer is EPIPE, and the process lives (no SIGPIPE)', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  t[2].close()
  var rc = 0, i = 0
  while rc != -1 and i < 200 {
    rc = _socket.send(t[1].id, 'data after close', 0)
    i++
  }
  expect_eq(rc, -1, 'send fails')
  expect(last_name() == 'EPIPE' or last_name() == 'ECONNRESET', 'name ${last_name()}')
  close_all(t)
})

test('error(-1) reports the failed socket call, even after other failures', @() {
  expect_eq(_socket.shutdown(999998, so.SHUT_RD), -1, 'shutdown')
  # Something else fails and changes errno in between.
  catch { file('/nonexistent/polysock').read() } as e
  expect(e, 'file error')
  expect(_socket.error(-1).contains('999998'), _socket.error(-1))
  expect_eq(_socket.error(0), nil, 'error(0)')
  expect_eq(_socket.error(5), nil, 'error(5)')
})

test('would-block is not an error: error(-1) gives nil', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  _socket.setblocking(t[1].id, false)
  _socket.setsockopt(t[1].id, so.SO_SNDTIMEO, 0)
  expect_eq(_socket.send(t[1].id, bytes(16 * 1024 * 1024), 0), -1, 'the buffers fill up')
  expect_eq(last_name(), 'EAGAIN', 'name')
  expect_eq(_socket.error(-1), nil, 'not an error')
  close_all(t)
})

test('a read that succeeds leaves the last failure alone', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  _socket.setblocking(t[2].id, false)
  _socket.setsockopt(t[2].id, so.SO_RCVTIMEO, 0) # so read does not wait
  expect_eq(_socket.listen(999996, 1), -1, 'a failure')
  expect_eq(_socket.read(t[2].id, 10, 0), '', 'nothing to read yet')
  t[1].send('abc')
  expect_eq(_socket.read(t[2].id, 10, 0), 'abc', 'what there is')
  expect(_socket.error(-1).contains('999996'), _socket.error(-1))
  close_all(t)
})

test('wrong arguments raise the built-in module\'s errors', @() {
  catch { _socket.create(1, 2) } as e
  expect(e and typeof(e) == 'ArgumentError', 'count: ${e}')
  expect_eq(e.message, 'create() expects 3 arguments, 2 given', 'count message')
  catch { _socket.connect(1, 2, 3, 4, 5, true) } as e
  expect(e and typeof(e) == 'TypeError', 'type: ${e}')
  expect_eq(e.message, 'connect() expects argument 2 as string, number given', 'type message')
  catch { _socket.setsockopt(1, 2, 'yes') } as e
  expect(e and typeof(e) == 'TypeError', 'setsockopt value: ${e}')
  catch { _socket.setsockopt(1, so.SO_RCVTIMEO, true) } as e
  expect(e and typeof(e) == 'TypeError', 'a timeout takes a number: ${e}')
})

# ---------------------------------------------------------------------
# Options

test('setsockopt takes numbers and bools; getsockopt reads them back', @() {
  var fd = _socket.create(so.AF_INET, so.SOCK_STREAM, 0)
  expect_eq(_socket.setsockopt(fd, so.SO_KEEPALIVE, 1), 0, 'number')
  expect_eq(_socket.getsockopt(fd, so.SO_KEEPALIVE), 1, 'on')
  expect_eq(_socket.setsockopt(fd, so.SO_KEEPALIVE, false), 0, 'bool')
  expect_eq(_socket.getsockopt(fd, so.SO_KEEPALIVE), 0, 'off')
  expect_eq(_socket.setsockopt(fd, so.SO_RCVBUF, 65536), 0, 'buffer size')
  expect(_socket.getsockopt(fd, so.SO_RCVBUF) >= 65536, 'rcvbuf')
  expect_eq(_socket.setsockopt(fd, so.SO_LINGER, 3), 0, 'linger')
  expect_eq(_socket.getsockopt(fd, so.SO_LINGER), 3, 'linger seconds')
  expect_eq(_socket.setsockopt(fd, so.SO_LINGER, 0), 0, 'linger off')
  expect_eq(_socket.getsockopt(fd, so.SO_LINGER), 0, 'linger off reads 0')
  expect_eq(_socket.getsockopt(fd, so.SO_TYPE), so.SOCK_STREAM, 'SO_TYPE')
  expect_eq(_socket.getsockopt(fd, so.SO_ERROR), nil, 'SO_ERROR')
  _socket.close(fd)
})

test('setsockopt/getsockopt at other levels (IPPROTO_TCP)', @() {
  var fd = _socket.create(so.AF_INET, so.SOCK_STREAM, 0)
  var nodelay = _socket.constant('TCP_NODELAY')
  expect(is_number(nodelay), 'TCP_NODELAY known')
  expect_eq(_socket.setsockopt(fd, nodelay, true, so.IPPROTO_TCP), 0, 'set')
  expect_eq(_socket.getsockopt(fd, nodelay, so.IPPROTO_TCP), 1, 'get')
  expect_eq(_socket.setsockopt(fd, 99999, 1, so.IPPROTO_TCP), -1, 'unknown option')
  expect_eq(last_name(), 'ENOPROTOOPT', 'name')
  _socket.close(fd)
})

# ---------------------------------------------------------------------
# Binary data

test('data with NUL bytes keeps its length (string and bytes variants)', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  var data = bytes([104, 0, 105, 0, 255, 0])
  expect_eq(t[1].send(data), 6, 'sent')
  var got = _socket.recv_bytes(t[2].id, -1, 0)
  expect_eq(typeof(got), 'bytes', 'type')
  expect(got == data, 'same bytes')
  t[1].send(data)
  var s = _socket.recv(t[2].id, -1, 0)
  expect_eq(typeof(s), 'string', 'recv gives a string')
  expect_eq(s.to_bytes().length(), 6, 'string keeps its length')
  t[1].send(data)
  got = _socket.read_bytes(t[2].id, 6, 0)
  expect(got == data, 'read_bytes')
  close_all(t)
})

test('recvfrom keeps NUL bytes (the built-in truncates at the first)', @() {
  var a = _socket.create(so.AF_INET, so.SOCK_DGRAM, 0)
  var b = _socket.create(so.AF_INET, so.SOCK_DGRAM, 0)
  _socket.bind(a, '127.0.0.1', 0, so.AF_INET)
  _socket.settimeout(a, 5000)
  var port = _socket.getsockinfo(a).port
  var data = bytes([1, 0, 2, 0, 3])
  expect_eq(_socket.sendto(b, data, 0, '127.0.0.1', port, so.AF_INET), 5, 'sent')
  var r = _socket.recvfrom_bytes(a, -1, 0)
  expect(r[0] == data, 'bytes')
  _socket.sendto(b, data, 0, '127.0.0.1', port, so.AF_INET)
  r = _socket.recvfrom(a, -1, 0)
  expect_eq(r[0].to_bytes().length(), 5, 'string length')
  _socket.close(a)
  _socket.close(b)
})

# n bytes of a repeating pattern (a..z), so a cut or reordered datagram shows.
def pattern(n) {
  var d = bytes(n)
  for i in 0..n d[i] = 97 + i % 26
  return d
}

test('receive_from() with no length returns each datagram whole (1 B to 65,507 B)', @() {
  var a = so.Socket(so.AF_INET, so.SOCK_DGRAM, 0)
  var b = so.Socket(so.AF_INET, so.SOCK_DGRAM, 0)
  a.bind(0, '127.0.0.1')
  a.set_option(so.SO_RCVTIMEO, 5000)
  a.set_option(so.SO_RCVBUF, 1024 * 1024)
  var port = a.info().port
  for n in [1, 8192, 8193, 16384, 65507] {
    var d = pattern(n)
    expect_eq(b.send_to('127.0.0.1', port, so.AF_INET, d), n, 'sent ${n}')
    var r = a.receive_from()
    expect_eq(r.data.length(), n, 'length of the ${n}-byte datagram')
    expect(r.data.to_bytes() == d, 'content of the ${n}-byte datagram')
    expect_eq(r.port, b.info().port, 'sender port')
  }
  # Two queued datagrams come one at a time, each whole.
  b.send_to('127.0.0.1', port, so.AF_INET, pattern(9000))
  b.send_to('127.0.0.1', port, so.AF_INET, 'next')
  expect_eq(a.receive_from().data.length(), 9000, 'the first')
  expect_eq(a.receive_from().data, 'next', 'then the second')
  # An empty datagram is an empty string; a given length still cuts.
  b.send_to('127.0.0.1', port, so.AF_INET, bytes(0))
  expect_eq(_socket.recvfrom(a.id, -1, 0)[0], '', 'empty datagram')
  b.send_to('127.0.0.1', port, so.AF_INET, pattern(100))
  expect_eq(a.receive_from(10).data, 'abcdefghij', 'cut to the length asked')
  # Nothing waiting on a non-blocking socket: would-block, as before.
  _socket.setblocking(a.id, false)
  expect_eq(_socket.recvfrom(a.id, -1, 0), -1, 'nothing waiting')
  expect_eq(last_name(), 'EAGAIN', 'would block')
  a.close()
  b.close()
})

test('recvfrom with no length: a 100,000-byte Unix datagram whole; a stream gives what waits', @() {
  var pa = unix_path('big'), pb = unix_path('bigb')
  var a = _socket.create(so.AF_UNIX, so.SOCK_DGRAM, 0)
  var b = _socket.create(so.AF_UNIX, so.SOCK_DGRAM, 0)
  _socket.bind(a, pa, 0, so.AF_UNIX)
  _socket.bind(b, pb, 0, so.AF_UNIX)
  _socket.setsockopt(b, so.SO_SNDBUF, 1024 * 1024)
  _socket.setsockopt(a, so.SO_RCVBUF, 1024 * 1024)
  _socket.settimeout(a, 5000)
  var d = pattern(100000)
  expect_eq(_socket.sendto(b, d, 0, pa, 0, so.AF_UNIX), 100000, 'sent')
  var r = _socket.recvfrom_bytes(a, -1, 0)
  expect(r != -1, 'received: ${_socket.error(-1)}')
  expect_eq(r[0].length(), 100000, 'length')
  expect(r[0] == d, 'content')
  _socket.close(a)
  _socket.close(b)
  os.exec('rm -f ${pa} ${pb}')
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  t[1].send('stream bytes')
  var s = _socket.recvfrom(t[2].id, -1, 0)
  expect_eq(s[0], 'stream bytes', 'what was waiting')
  close_all(t)
})

# ---------------------------------------------------------------------
# poll, sendfile, resolver

test('poll reports readiness per fd and times out', @() {
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  var fds = [t[1].id, t[2].id]
  var r = _socket.poll(fds, _socket.POLLIN, 0)
  expect_eq(r[0], 0, 'client idle')
  expect_eq(r[1], 0, 'server side idle')
  t[1].send('ping')
  r = _socket.poll(fds, _socket.POLLIN, 5000)
  expect_eq(r[1] & _socket.POLLIN, _socket.POLLIN, 'readable')
  expect_eq(r[0], 0, 'other one not')
  r = _socket.poll(fds, [_socket.POLLOUT, _socket.POLLIN], 0)
  expect_eq(r[0] & _socket.POLLOUT, _socket.POLLOUT, 'writable')
  var start = microtime()
  r = _socket.poll([t[1].id], _socket.POLLIN, 100)
  expect_eq(r[0], 0, 'timed out')
  expect(ms_since(start) >= 80, 'waited')
  expect_eq(_socket.poll([999999], _socket.POLLIN, 0), -1, 'bad fd')
  close_all(t)
})

test('sendfile and send(file) stream a file', @() {
  var path = '${tmp}/pb-file-${to_string(microtime())}.txt'
  var content = ''
  for i in 0..2000 { content += 'line ${i}\n' }
  file(path, 'w').write(content)
  var size = content.length()
  var t = tcp_trio(so.AF_INET, '127.0.0.1')
  expect_eq(_socket.sendfile(t[1].id, path), size, 'sendfile')
  expect_eq(t[2].read(size), content, 'received')
  expect_eq(_socket.sendfile(t[1].id, path, 5, 10), 10, 'a range')
  expect_eq(t[2].read(10), content[5, 15], 'the range')
  expect_eq(t[1].send(file(path)), size, 'socket.b send(file)')
  expect_eq(t[2].read(size), content, 'received again')
  expect_eq(_socket.sendfile(t[1].id, '${tmp}/no-such-file'), -1, 'missing file')
  expect_eq(last_name(), 'ENOENT', 'name')
  close_all(t)
  file(path).delete()
})

test('getaddrinfo: the built-in shape, and every result', @() {
  var r = _socket.getaddrinfo('127.0.0.1', nil, so.AF_INET)
  expect_eq(r.ip, '127.0.0.1', 'ip')
  expect(r.contains('canonical_name'), 'canonical_name key')
  expect_eq(so.get_address_info('127.0.0.1').ip, '127.0.0.1', 'socket.b get_address_info')
  expect_eq(_socket.getaddrinfo('bad..name', 'http', so.AF_INET), nil, 'no such name')
  var all = _socket.getaddrinfo_all('localhost', '80', so.AF_UNSPEC, so.SOCK_STREAM)
  expect(is_list(all) and all.length() >= 1, 'results: ${all}')
  for a in all {
    expect(a.ip == '127.0.0.1' or a.ip == '::1', 'address ${a.ip}')
    expect_eq(a.port, 80, 'port')
    expect_eq(a.type, so.SOCK_STREAM, 'type')
  }
  expect_eq(_socket.getaddrinfo_all('bad..name', nil, so.AF_UNSPEC), -1, 'resolver error')
  expect(last_name().starts_with('EAI_'), 'name ${last_name()}')
})

echo 'passed ${passed} failed ${failed}'
if failed > 0 os.exit(1)
