# _socket from Blade threads (real pthreads with 64 KiB stacks, one VM
# each): a client on a thread talks to the main thread, and each thread
# keeps its own last error.
#   blade threads.b
# Prints "thread ok" and "main ok"; exits 1 on a failure.

import os
import thread
import _socket
import socket as so

var server = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
server.bind(0, '127.0.0.1')
server.listen()
var port = server.info().port

var worker = thread.start(@(t, port) {
  var problems = []
  # A failure on this thread, first: its error is this thread's own.
  if _socket.close(999999) != -1 problems.append('close(999999) did not fail')
  var mine = _socket.error(-1)
  var c = so.Socket(so.AF_INET, so.SOCK_STREAM, 0)
  c.connect('127.0.0.1', port, 5000)
  c.set_option(so.SO_RCVTIMEO, 5000)
  c.send('from a thread')
  var reply = c.receive()
  c.close()
  if reply != 'echo:from a thread' problems.append('reply ${reply}')
  if !mine or !mine.contains('999999') problems.append('thread error ${mine}')
  if _socket.error(-1) != mine problems.append('the thread\'s error changed: ${_socket.error(-1)}')
  echo problems ? 'thread FAIL: ${problems}' : 'thread ok'
}, [port])

var conn = server.accept()
conn.set_option(so.SO_RCVTIMEO, 5000)
var message = conn.receive()
conn.send('echo:${message}')
_socket.shutdown(888888, so.SHUT_RD)
var main_error = _socket.error(-1)
worker.await()
conn.close()
server.close()
if main_error and main_error.contains('888888') and !main_error.contains('999999') {
  echo 'main ok'
} else {
  echo 'main FAIL: ${main_error}'
  os.exit(1)
}
