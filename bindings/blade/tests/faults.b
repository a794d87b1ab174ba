# Reproduces the faults of Blade's libs/socket.b that a _socket module
# cannot change (the README lists them). Each line says whether the fault
# is present with the module Blade loaded; the script always exits 0.
#   blade faults.b

import socket as so

def report(name, present, detail) {
  echo '${present ? "present" : "absent "}  ${name}${detail ? ": " + detail : ""}'
}

# 1. A failed create() recurses: _check_error() calls close(), whose own
#    _check_error() of close(-1) calls close() again, until the stack
#    overflows.
catch { so.Socket(12345) } as e
report('Socket(12345) overflows the stack', e and e.message.contains('stack overflow'), e ? typeof(e) + ': ' + e.message : nil)

# 2. The default protocol is IPPROTO_TCP whatever the type or family, so
#    Socket(AF_INET, SOCK_DGRAM) and Socket(AF_UNIX) fail (then recurse as
#    in 1) unless the protocol 0 is passed.
catch { so.Socket(so.AF_INET, so.SOCK_DGRAM) } as e
report('Socket(AF_INET, SOCK_DGRAM) fails (protocol IPPROTO_TCP)', e != nil, e ? e.message : nil)
catch { so.Socket(so.AF_UNIX) } as e
report('Socket(AF_UNIX) fails (protocol IPPROTO_TCP)', e != nil, e ? e.message : nil)

# 3. Every error closes the socket: a receive timeout, or a refused
#    connect, leaves a closed Socket that cannot be retried.
var srv = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
srv.bind(0, '127.0.0.1')
srv.listen()
var cli = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
cli.connect('127.0.0.1', srv.info().port, 3000)
var conn = srv.accept()
conn.set_option(so.SO_RCVTIMEO, 100)
catch { conn.receive() } as e
report('a receive timeout closes the socket', e != nil and conn.is_closed, e ? e.message : nil)
var port = srv.info().port
srv.close()
cli.close()
var again = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
catch { again.connect('127.0.0.1', port, 1000) } as e
report('a refused connect closes the socket', e != nil and again.is_closed, e ? e.message : nil)

# 4. set_option(option, false) raises: `!value` rejects false, so no
#    option can be turned off through socket.b.
var s = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
catch { s.set_option(so.SO_KEEPALIVE, false) } as e
report('set_option(option, false) raises ArgumentError', e != nil and typeof(e) == 'ArgumentError', e ? e.message : nil)

# 5. set_option() and shutdown() return false when they succeed
#    (`(code >= 0) == 0` compares a bool with 0).
report('set_option() returns false on success', s.set_option(so.SO_KEEPALIVE, true) == false, nil)
s.close()

# 6. shutdown(SHUT_RD) marks the socket not connected: send() then raises
#    although the write side is open.
srv = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
srv.bind(0, '127.0.0.1')
srv.listen()
cli = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
cli.connect('127.0.0.1', srv.info().port, 3000)
conn = srv.accept()
var ok = cli.shutdown(so.SHUT_RD)
report('shutdown() returns false on success', ok == false, nil)
catch { cli.send('still allowed') } as e
report('send() after shutdown(SHUT_RD) raises', e != nil, e ? e.message : nil)
srv.close()
conn.close()
cli.close()

# 7. is_blocking defaults to false although a new socket blocks, and
#    connect() passes it on: after connect() the socket is non-blocking, so
#    a send() larger than the socket's buffers stops part way and returns
#    -1 without an exception (unless SO_SNDTIMEO is set or
#    set_blocking(true) was called first).
srv = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
srv.bind(0, '127.0.0.1')
srv.listen()
cli = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
cli.connect('127.0.0.1', srv.info().port, 3000)
conn = srv.accept()
var big = bytes(16 * 1024 * 1024)
var sent
catch { sent = cli.send(big) } as e
report('a large send() after connect() returns -1 silently', e == nil and sent == -1, e ? e.message : 'send returned ${sent}')
srv.close()
conn.close()
cli.close()
