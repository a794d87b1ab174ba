# Prints the observable surface of whichever _socket module Blade loads:
# the 75 constants, the errors for wrong arguments, and the shapes of
# results and failure values. tests/binding_blade.rs runs it once with
# Blade's built-in module and once with polysock's and requires the same
# output. (Where polysock's module deliberately differs, the line is not
# printed here: see the README's "Fixed behaviours".)

import _socket

def show(label, value) {
  if is_dict(value) {
    var parts = []
    for k, v in value { parts.append('${k}:${typeof(v)}') }
    echo '${label} -> dict {${", ".join(parts)}}'
  } else if is_list(value) {
    var parts = []
    for v in value { parts.append(typeof(v)) }
    echo '${label} -> list [${", ".join(parts)}]'
  } else {
    echo '${label} -> ${typeof(value)} ${value}'
  }
}

def raised(label, fn) {
  catch { fn() } as e
  if e echo '${label} raises ${typeof(e)}: ${e.message}'
  else echo '${label} raises nothing'
}

# Only the exception's class (where the message deliberately says more).
def raised_type(label, fn) {
  catch { fn() } as e
  if e echo '${label} raises ${typeof(e)}'
  else echo '${label} raises nothing'
}

# ---- the 75 constants
echo 'SOCK_STREAM = ${_socket.SOCK_STREAM}'
echo 'SOCK_DGRAM = ${_socket.SOCK_DGRAM}'
echo 'SOCK_RAW = ${_socket.SOCK_RAW}'
echo 'SOCK_RDM = ${_socket.SOCK_RDM}'
echo 'SOCK_SEQPACKET = ${_socket.SOCK_SEQPACKET}'
echo 'SO_DEBUG = ${_socket.SO_DEBUG}'
echo 'SO_ACCEPTCONN = ${_socket.SO_ACCEPTCONN}'
echo 'SO_REUSEADDR = ${_socket.SO_REUSEADDR}'
echo 'SO_KEEPALIVE = ${_socket.SO_KEEPALIVE}'
echo 'SO_DONTROUTE = ${_socket.SO_DONTROUTE}'
echo 'SO_BROADCAST = ${_socket.SO_BROADCAST}'
echo 'SO_USELOOPBACK = ${_socket.SO_USELOOPBACK}'
echo 'SO_LINGER = ${_socket.SO_LINGER}'
echo 'SO_OOBINLINE = ${_socket.SO_OOBINLINE}'
echo 'SO_REUSEPORT = ${_socket.SO_REUSEPORT}'
echo 'SO_TIMESTAMP = ${_socket.SO_TIMESTAMP}'
echo 'SO_SNDBUF = ${_socket.SO_SNDBUF}'
echo 'SO_RCVBUF = ${_socket.SO_RCVBUF}'
echo 'SO_SNDLOWAT = ${_socket.SO_SNDLOWAT}'
echo 'SO_RCVLOWAT = ${_socket.SO_RCVLOWAT}'
echo 'SO_SNDTIMEO = ${_socket.SO_SNDTIMEO}'
echo 'SO_RCVTIMEO = ${_socket.SO_RCVTIMEO}'
echo 'SO_ERROR = ${_socket.SO_ERROR}'
echo 'SO_TYPE = ${_socket.SO_TYPE}'
echo 'SOL_SOCKET = ${_socket.SOL_SOCKET}'
echo 'AF_UNSPEC = ${_socket.AF_UNSPEC}'
echo 'AF_UNIX = ${_socket.AF_UNIX}'
echo 'AF_LOCAL = ${_socket.AF_LOCAL}'
echo 'AF_INET = ${_socket.AF_INET}'
echo 'AF_IMPLINK = ${_socket.AF_IMPLINK}'
echo 'AF_PUP = ${_socket.AF_PUP}'
echo 'AF_CHAOS = ${_socket.AF_CHAOS}'
echo 'AF_NS = ${_socket.AF_NS}'
echo 'AF_ISO = ${_socket.AF_ISO}'
echo 'AF_OSI = ${_socket.AF_OSI}'
echo 'AF_ECMA = ${_socket.AF_ECMA}'
echo 'AF_DATAKIT = ${_socket.AF_DATAKIT}'
echo 'AF_CCITT = ${_socket.AF_CCITT}'
echo 'AF_SNA = ${_socket.AF_SNA}'
echo 'AF_DECnet = ${_socket.AF_DECnet}'
echo 'AF_DLI = ${_socket.AF_DLI}'
echo 'AF_LAT = ${_socket.AF_LAT}'
echo 'AF_HYLINK = ${_socket.AF_HYLINK}'
echo 'AF_APPLETALK = ${_socket.AF_APPLETALK}'
echo 'AF_INET6 = ${_socket.AF_INET6}'
echo 'IPPROTO_IP = ${_socket.IPPROTO_IP}'
echo 'IPPROTO_ICMP = ${_socket.IPPROTO_ICMP}'
echo 'IPPROTO_IGMP = ${_socket.IPPROTO_IGMP}'
echo 'IPPROTO_IPIP = ${_socket.IPPROTO_IPIP}'
echo 'IPPROTO_TCP = ${_socket.IPPROTO_TCP}'
echo 'IPPROTO_EGP = ${_socket.IPPROTO_EGP}'
echo 'IPPROTO_PUP = ${_socket.IPPROTO_PUP}'
echo 'IPPROTO_UDP = ${_socket.IPPROTO_UDP}'
echo 'IPPROTO_IDP = ${_socket.IPPROTO_IDP}'
echo 'IPPROTO_TP = ${_socket.IPPROTO_TP}'
echo 'IPPROTO_DCCP = ${_socket.IPPROTO_DCCP}'
echo 'IPPROTO_IPV6 = ${_socket.IPPROTO_IPV6}'
echo 'IPPROTO_RSVP = ${_socket.IPPROTO_RSVP}'
echo 'IPPROTO_GRE = ${_socket.IPPROTO_GRE}'
echo 'IPPROTO_ESP = ${_socket.IPPROTO_ESP}'
echo 'IPPROTO_AH = ${_socket.IPPROTO_AH}'
echo 'IPPROTO_MTP = ${_socket.IPPROTO_MTP}'
echo 'IPPROTO_BEETPH = ${_socket.IPPROTO_BEETPH}'
echo 'IPPROTO_ENCAP = ${_socket.IPPROTO_ENCAP}'
echo 'IPPROTO_PIM = ${_socket.IPPROTO_PIM}'
echo 'IPPROTO_COMP = ${_socket.IPPROTO_COMP}'
echo 'IPPROTO_SCTP = ${_socket.IPPROTO_SCTP}'
echo 'IPPROTO_UDPLITE = ${_socket.IPPROTO_UDPLITE}'
echo 'IPPROTO_MPLS = ${_socket.IPPROTO_MPLS}'
echo 'IPPROTO_RAW = ${_socket.IPPROTO_RAW}'
echo 'IPPROTO_MAX = ${_socket.IPPROTO_MAX}'
echo 'SHUT_RD = ${_socket.SHUT_RD}'
echo 'SHUT_WR = ${_socket.SHUT_WR}'
echo 'SHUT_RDWR = ${_socket.SHUT_RDWR}'
echo 'SOMAXCONN = ${_socket.SOMAXCONN}'

# ---- argument checks: counts and types
raised('error()', @() { _socket.error() })
raised('error(str)', @() { _socket.error('x') })
raised('create()', @() { _socket.create() })
raised('create(str)', @() { _socket.create('a', 1, 0) })
raised('create(num, str)', @() { _socket.create(2, 'b', 0) })
raised('create(num, num, str)', @() { _socket.create(2, 1, 'c') })
raised('connect()', @() { _socket.connect() })
raised('connect(str)', @() { _socket.connect('a', 'h', 1, 2, 3, true) })
raised('connect(num, num)', @() { _socket.connect(1, 2, 1, 2, 3, true) })
raised('connect(., ., str)', @() { _socket.connect(1, 'h', 'p', 2, 3, true) })
raised('connect(., ., ., str)', @() { _socket.connect(1, 'h', 1, 'f', 3, true) })
raised('connect(., ., ., ., str)', @() { _socket.connect(1, 'h', 1, 2, 't', true) })
raised('connect(., ., ., ., ., num)', @() { _socket.connect(1, 'h', 1, 2, 3, 1) })
raised('send()', @() { _socket.send() })
raised('send(str)', @() { _socket.send('a', 'x', 0) })
raised('send(., ., str)', @() { _socket.send(1, 'x', 'f') })
raised('recv()', @() { _socket.recv() })
raised('recv(str)', @() { _socket.recv('a', 1, 0) })
raised('recv(., str)', @() { _socket.recv(1, 'n', 0) })
raised('recv(., ., str)', @() { _socket.recv(1, 1, 'f') })
raised('read()', @() { _socket.read() })
raised('read(str)', @() { _socket.read('a', 1, 0) })
raised('read(., str)', @() { _socket.read(1, 'n', 0) })
raised('read(., ., str)', @() { _socket.read(1, 1, 'f') })
raised_type('setsockopt()', @() { _socket.setsockopt() })
raised('setsockopt(str)', @() { _socket.setsockopt('a', 1, true) })
raised('setsockopt(., str)', @() { _socket.setsockopt(1, 'o', true) })
raised_type('setsockopt(., ., str)', @() { _socket.setsockopt(1, 2, 'v') })
raised_type('getsockopt()', @() { _socket.getsockopt() })
raised('getsockopt(str)', @() { _socket.getsockopt('a', 1) })
raised('getsockopt(., str)', @() { _socket.getsockopt(1, 'o') })
raised('bind()', @() { _socket.bind() })
raised('bind(str)', @() { _socket.bind('a', 'h', 1, 2) })
raised('bind(., num)', @() { _socket.bind(1, 2, 1, 2) })
raised('bind(., ., str)', @() { _socket.bind(1, 'h', 'p', 2) })
raised('bind(., ., ., str)', @() { _socket.bind(1, 'h', 1, 'f') })
raised('listen()', @() { _socket.listen() })
raised('listen(str)', @() { _socket.listen('a', 1) })
raised('listen(., str)', @() { _socket.listen(1, 'b') })
raised('accept()', @() { _socket.accept() })
raised('accept(str)', @() { _socket.accept('a') })
raised('close()', @() { _socket.close() })
raised('close(str)', @() { _socket.close('a') })
raised('shutdown()', @() { _socket.shutdown() })
raised('shutdown(str)', @() { _socket.shutdown('a', 1) })
raised('shutdown(., str)', @() { _socket.shutdown(1, 'h') })
raised('getsockinfo()', @() { _socket.getsockinfo() })
raised('getsockinfo(str)', @() { _socket.getsockinfo('a') })
raised('getaddrinfo()', @() { _socket.getaddrinfo() })
raised('getaddrinfo(num)', @() { _socket.getaddrinfo(1, nil, 2) })
raised('getaddrinfo(., num)', @() { _socket.getaddrinfo('h', 1, 2) })
raised('getaddrinfo(., ., str)', @() { _socket.getaddrinfo('h', nil, 'f') })
raised('setblocking()', @() { _socket.setblocking() })
raised('setblocking(str)', @() { _socket.setblocking('a', true) })
raised('setblocking(., num)', @() { _socket.setblocking(1, 1) })
raised('sendto()', @() { _socket.sendto() })
raised('sendto(str)', @() { _socket.sendto('a', 'x', 0, 'h', 1, 2) })
raised('sendto(., ., str)', @() { _socket.sendto(1, 'x', 'f', 'h', 1, 2) })
raised('sendto(., ., ., num)', @() { _socket.sendto(1, 'x', 0, 1, 1, 2) })
raised('sendto(., ., ., ., str)', @() { _socket.sendto(1, 'x', 0, 'h', 'p', 2) })
raised('sendto(., ., ., ., ., str)', @() { _socket.sendto(1, 'x', 0, 'h', 1, 'f') })
raised('recvfrom()', @() { _socket.recvfrom() })
raised('recvfrom(str)', @() { _socket.recvfrom('a', 1, 0) })
raised('recvfrom(., str)', @() { _socket.recvfrom(1, 'n', 0) })
raised('recvfrom(., ., str)', @() { _socket.recvfrom(1, 1, 'f') })

# ---- results on live sockets
var srv = _socket.create(_socket.AF_INET, _socket.SOCK_STREAM, 0)
show('create', typeof(srv))
show('setsockopt(SO_REUSEADDR, true)', _socket.setsockopt(srv, _socket.SO_REUSEADDR, true))
show('getsockopt(SO_REUSEADDR)', _socket.getsockopt(srv, _socket.SO_REUSEADDR))
show('bind', _socket.bind(srv, '127.0.0.1', 0, _socket.AF_INET))
show('listen', _socket.listen(srv, 16))
show('getsockinfo', _socket.getsockinfo(srv))
var port = _socket.getsockinfo(srv).port
var cli = _socket.create(_socket.AF_INET, _socket.SOCK_STREAM, 0)
show('setsockopt(SO_RCVTIMEO, 3000)', _socket.setsockopt(cli, _socket.SO_RCVTIMEO, 3000))
show('getsockopt(SO_RCVTIMEO)', _socket.getsockopt(cli, _socket.SO_RCVTIMEO))
show('getsockopt(SO_SNDTIMEO)', _socket.getsockopt(cli, _socket.SO_SNDTIMEO))
show('getsockopt(SO_TYPE)', _socket.getsockopt(cli, _socket.SO_TYPE))
show('getsockopt(SO_ERROR)', _socket.getsockopt(cli, _socket.SO_ERROR))
show('connect', _socket.connect(cli, '127.0.0.1', port, _socket.AF_INET, 0, true))
var acc = _socket.accept(srv)
show('accept', acc)
show('accept peer', acc[1])
var conn = acc[0]
_socket.setsockopt(conn, _socket.SO_RCVTIMEO, 3000)
show('send', _socket.send(cli, 'hello', 0))
show('recv', _socket.recv(conn, -1, 0))
show('send bytes', _socket.send(cli, bytes([104, 105]), 0))
show('recv 1', _socket.recv(conn, 1, 0))
show('recv rest', _socket.recv(conn, -1, 0))
show('send number', _socket.send(cli, 12345, 0))
show('read', _socket.read(conn, 5, 0))
show('setblocking(false)', _socket.setblocking(conn, false))
show('setblocking(true)', _socket.setblocking(conn, true))
show('shutdown', _socket.shutdown(cli, _socket.SHUT_WR))
show('recv at end', _socket.recv(conn, -1, 0))
show('error(0)', _socket.error(0))
show('close', _socket.close(cli))
show('close conn', _socket.close(conn))
show('close srv', _socket.close(srv))
show('getaddrinfo', _socket.getaddrinfo('127.0.0.1', nil, _socket.AF_INET))
show('getaddrinfo ip', _socket.getaddrinfo('127.0.0.1', 'http', _socket.AF_INET).ip)
show('getaddrinfo bad name', _socket.getaddrinfo('bad..name', nil, _socket.AF_INET))

var u1 = _socket.create(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
var u2 = _socket.create(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
_socket.bind(u1, '127.0.0.1', 0, _socket.AF_INET)
_socket.setsockopt(u1, _socket.SO_RCVTIMEO, 3000)
var uport = _socket.getsockinfo(u1).port
show('sendto', _socket.sendto(u2, 'datagram', 0, '127.0.0.1', uport, _socket.AF_INET))
var got = _socket.recvfrom(u1, -1, 0)
show('recvfrom', got)
show('recvfrom data', got[0])
show('recvfrom host', got[1])
_socket.close(u1)
_socket.close(u2)

# ---- failure values on a socket that is not open
var dead = _socket.create(_socket.AF_INET, _socket.SOCK_STREAM, 0)
_socket.close(dead)
show('create bad family', _socket.create(12345, 1, 0))
show('connect dead', _socket.connect(dead, '127.0.0.1', 9, _socket.AF_INET, 0, true))
show('bind dead', _socket.bind(dead, '127.0.0.1', 0, _socket.AF_INET))
show('listen dead', _socket.listen(dead, 1))
show('send dead', _socket.send(dead, 'x', 0))
show('setsockopt dead', _socket.setsockopt(dead, _socket.SO_REUSEADDR, true))
show('shutdown dead', _socket.shutdown(dead, 0))
show('close dead', _socket.close(dead))
show('setblocking dead', _socket.setblocking(dead, true))
show('getsockinfo dead', _socket.getsockinfo(dead))
show('sendto dead', _socket.sendto(dead, 'x', 0, '127.0.0.1', 9, _socket.AF_INET))
show('recvfrom dead', _socket.recvfrom(dead, 10, 0))
show('error(-1) after a failure', typeof(_socket.error(-1)))
catch { _socket.accept(dead) } as e
echo 'accept dead raises ${typeof(e)}: ${e.message[0, 20]}'
catch { _socket.bind(_socket.create(_socket.AF_INET, _socket.SOCK_STREAM, 0), 'bad..name', 0, _socket.AF_INET) } as e
echo 'bind bad name raises ${typeof(e)}: ${e.message[0, 32]}'
