/* polysock for Blade: a native module that replaces Blade's built-in
 * `_socket` (the module libs/socket.b imports), implemented on polysock's
 * C ABI.
 *
 * Installed as .blade/bin/_socket.so (or in Blade's dist/), Blade's loader
 * finds `blade_module_loader__socket` (from the file name) and registers
 * this module under the name "_socket", over the built-in one.
 *
 * The surface is the built-in module's: 75 constant fields and 18
 * functions with the same arities, argument checks, return shapes and
 * failure values, so libs/socket.b, libs/http and ssl's TLSSocket run
 * unchanged. Sockets are named by their OS fd, as in the built-in module
 * (Socket.id; ssl hands it to OpenSSL); each call finds the polysock
 * handle that owns the fd with polysock_handle_of_fd(). Then come the
 * functions for what polysock adds, and, in tls.c, the TLS natives (all
 * registered at the end of this file).
 *
 * This file only converts values and maps errors. A failing call returns
 * the built-in's failure value (usually -1) and leaves its error for
 * _socket.error(-1), which socket.b calls next on the same thread. */

#include "shim.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ------------------------------------------------------------------ */
/* The last failure, per thread, for _socket.error().                  */

/* The message is copied when the failure is recorded: polysock's own
 * per-thread message moves on with the failures a call meets and handles
 * itself (a receive that finds nothing yet and then waits), so it may no
 * longer be this failure's by the time error() asks. */
static _Thread_local struct {
  int code;
  char text[512];
} last;

/* Records the polysock failure that just happened. Returns -1. */
int fail(void) {
  last.code = polysock_errno();
  snprintf(last.text, sizeof last.text, "%s", polysock_last_error());
  return -1;
}

/* Records a failure this file found itself. Returns -1. */
int fail_own(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(last.text, sizeof last.text, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof last.text) {
    snprintf(last.text + n, sizeof last.text - (size_t)n, ": %s", polysock_strerror(code));
  }
  last.code = code;
  return -1;
}

const char *last_message(void) {
  return last.text;
}

int last_code(void) {
  return last.code;
}

int would_block(int code) {
  return code == EAGAIN || code == EWOULDBLOCK || code == EINPROGRESS;
}

/* ------------------------------------------------------------------ */
/* Value conversion.                                                   */

/* Blade numbers are doubles: clamp before converting (an out-of-range
 * conversion is undefined in C); polysock then rejects what is invalid
 * (port 70000: EINVAL, fd 1e12: EBADF). NaN becomes INT_MIN. */
int32_t to_i32(b_value v) {
  double d = AS_NUMBER(v);
  if (isnan(d) || d <= (double)INT32_MIN) return INT32_MIN;
  if (d >= (double)INT32_MAX) return INT32_MAX;
  return (int32_t)d;
}

int64_t to_i64(b_value v) {
  double d = AS_NUMBER(v);
  if (isnan(d) || d <= -9007199254740992.0) return INT64_MIN;
  if (d >= 9007199254740992.0) return INT64_MAX;
  return (int64_t)d;
}

/* The polysock handle that owns the fd a script holds, or -1 (EBADF
 * recorded). */
polysock_t handle_of(b_value fd) {
  polysock_t h = polysock_handle_of_fd(to_i32(fd));
  if (h < 0) fail();
  return h;
}

/* Data to send: a string or bytes as they are; anything else through
 * Blade's to_string, as the built-in module does. */
void data_of(b_vm *vm, b_value v, const char **p, size_t *n) {
  if (IS_STRING(v)) {
    *p = AS_STRING(v)->chars;
    *n = (size_t)AS_STRING(v)->length;
  } else if (IS_BYTES(v)) {
    *p = (const char *)AS_BYTES(v)->bytes.bytes;
    *n = (size_t)AS_BYTES(v)->bytes.count;
  } else {
    b_obj_string *s = value_to_string(vm, v);
    *p = s->chars;
    *n = (size_t)s->length;
  }
}

/* "" and "*" mean the any address, as in the built-in bind. */
static const char *bind_host(const char *host) {
  return (host[0] == '\0' || strcmp(host, "*") == 0) ? NULL : host;
}

static int is_ip(int family) { return family == AF_INET || family == AF_INET6; }

static int is_resolver_code(int code) {
  return strncmp(polysock_errname(code), "EAI_", 4) == 0;
}

/* Received data, as a string or as bytes. */
b_value received(b_vm *vm, const char *p, size_t n, int as_bytes) {
  if (as_bytes) return OBJ_VAL(GC(copy_bytes(vm, (unsigned char *)p, (int)n)));
  return OBJ_VAL(GC(copy_string(vm, p, (int)n)));
}

/* The receive buffer's first SCRATCH bytes are per thread (shim.h). */
static _Thread_local char scratch[SCRATCH];

void rbuf_init(rbuf *b, size_t want) {
  b->len = 0;
  if (want <= SCRATCH) {
    b->p = scratch;
    b->cap = want;
  } else {
    b->p = malloc(want);
    b->cap = b->p ? want : 0;
  }
}

/* Room for `more` bytes after len; 0 if out of memory. */
int rbuf_reserve(rbuf *b, size_t more) {
  if (b->len + more <= b->cap) return 1;
  size_t cap = b->cap * 2 > b->len + more ? b->cap * 2 : b->len + more;
  char *p;
  if (b->p == scratch) {
    p = malloc(cap);
    if (p) memcpy(p, scratch, b->len);
  } else {
    p = realloc(b->p, cap);
  }
  if (!p) return 0;
  b->p = p;
  b->cap = cap;
  return 1;
}

void rbuf_free(rbuf *b) {
  if (b->p != scratch) free(b->p);
}

/* ------------------------------------------------------------------ */
/* Waiting, for the calls whose wait Blade's contract sets per call.   */

/* Waits up to `ms` for `events` on the socket. Returns 1 when ready, or
 * -1 with the failure recorded (ETIMEDOUT when the time ran out). */
int wait_for(polysock_t h, int32_t events, int64_t ms, const char *op) {
  polysock_pollfd p = {h, events, 0};
  int64_t n = polysock_poll(&p, 1, ms);
  if (n < 0) return fail();
  if (n == 0) return fail_own(ETIMEDOUT, "%s: timed out after %lld ms", op, (long long)ms);
  return 1;
}

/* What to wait for after "would block": what a TLS session needs (a
 * receive may have to write, a send to read), else `plain`. */
int32_t ready_events(polysock_t h, int32_t plain) {
  int32_t w = polysock_tls_wants(h);
  return w > 0 ? w : plain;
}

/* ------------------------------------------------------------------ */
/* The built-in module's 18 functions.                                 */

/* error(code): the message of the last failure on this thread when code
 * is -1 and that failure was not "would block / in progress", else nil. */
DECLARE_MODULE_METHOD(socket__error) {
  ENFORCE_ARG_COUNT(error, 1);
  ENFORCE_ARG_TYPE(error, 0, IS_NUMBER);
  if (AS_NUMBER(args[0]) == -1 && last.code != 0 && !would_block(last.code)) {
    RETURN_STRING(last_message());
  }
  RETURN_NIL;
}

/* create(family, type, protocol): a new socket's fd, or -1. */
DECLARE_MODULE_METHOD(socket__create) {
  ENFORCE_ARG_COUNT(create, 3);
  ENFORCE_ARG_TYPE(create, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(create, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(create, 2, IS_NUMBER);
  polysock_t h = polysock_socket(to_i32(args[0]), to_i32(args[1]), to_i32(args[2]));
  if (h < 0) RETURN_NUMBER(fail());
  RETURN_NUMBER(polysock_fileno(h));
}

/* connect(fd, host, port, family, timeout_ms, is_blocking): 0 or -1.
 * A timeout > 0 bounds this connect; afterwards the socket is in the mode
 * socket.b's is_blocking asks for, as with the built-in module: its
 * previous mode when true, non-blocking when false (ssl's TLSSocket reads
 * until the socket would block, so it relies on this). A timeout <= 0
 * connects in the socket's current mode. The family is the socket's; for
 * AF_UNIX the host is the path. */
DECLARE_MODULE_METHOD(socket__connect) {
  ENFORCE_ARG_COUNT(connect, 6);
  ENFORCE_ARG_TYPE(connect, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(connect, 1, IS_STRING);
  ENFORCE_ARG_TYPE(connect, 2, IS_NUMBER);
  ENFORCE_ARG_TYPE(connect, 3, IS_NUMBER);
  ENFORCE_ARG_TYPE(connect, 4, IS_NUMBER);
  ENFORCE_ARG_TYPE(connect, 5, IS_BOOL);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  int64_t timeout = to_i64(args[4]), mode = -1;
  if (timeout > 0) {
    if (polysock_gettimeout(h, &mode) != 0 || polysock_settimeout(h, timeout) != 0) RETURN_NUMBER(fail());
  }
  int rc = polysock_connect(h, AS_C_STRING(args[1]), to_i32(args[2]));
  if (rc != 0) fail();
  if (timeout > 0) polysock_settimeout(h, AS_BOOL(args[5]) ? mode : 0);
  RETURN_NUMBER(rc);
}

/* bind(fd, host, port, family): 0 or -1. "" or "*" is the any address;
 * an address that does not resolve or fit the family raises ValueError,
 * as in the built-in module, now with the reason. */
DECLARE_MODULE_METHOD(socket__bind) {
  ENFORCE_ARG_COUNT(bind, 4);
  ENFORCE_ARG_TYPE(bind, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(bind, 1, IS_STRING);
  ENFORCE_ARG_TYPE(bind, 2, IS_NUMBER);
  ENFORCE_ARG_TYPE(bind, 3, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (polysock_bind(h, bind_host(AS_C_STRING(args[1])), to_i32(args[2])) == 0) RETURN_NUMBER(0);
  fail();
  if (is_resolver_code(last.code) || last.code == EAFNOSUPPORT) {
    RETURN_VALUE_ERROR("address not valid or unsupported (%s)", last_message());
  }
  RETURN_NUMBER(-1);
}

/* listen(fd, backlog): 0 or -1. */
DECLARE_MODULE_METHOD(socket__listen) {
  ENFORCE_ARG_COUNT(listen, 2);
  ENFORCE_ARG_TYPE(listen, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(listen, 1, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (polysock_listen(h, to_i32(args[1])) != 0) RETURN_NUMBER(fail());
  RETURN_NUMBER(0);
}

/* accept(fd): [fd, peer ip ("" when not IP), peer port]; a failure raises
 * Exception "client accept failed", as in the built-in module, now with
 * the reason. */
DECLARE_MODULE_METHOD(socket__accept) {
  ENFORCE_ARG_COUNT(accept, 1);
  ENFORCE_ARG_TYPE(accept, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  polysock_addr peer;
  polysock_t c = h < 0 ? -1 : polysock_accept(h, &peer);
  if (c < 0) {
    if (h >= 0) fail();
    RETURN_ERROR("client accept failed (%s)", last_message());
  }
  b_obj_list *list = (b_obj_list *)GC(new_list(vm));
  write_list(vm, list, NUMBER_VAL(polysock_fileno(c)));
  write_list(vm, list, is_ip(peer.family) ? GC_STRING(peer.host) : GC_L_STRING("", 0));
  write_list(vm, list, NUMBER_VAL(is_ip(peer.family) ? peer.port : 0));
  RETURN_OBJ(list);
}

/* Sends all of p[0..n), or the whole file at `path` when it is not NULL
 * (streamed by polysock, never read into memory), in the socket's own
 * mode; each time that mode says "would block" it waits up to `wait` ms
 * for what the socket needs (-1: no limit, 0: fails with EAGAIN at once)
 * or, with WAIT_BLADE, as Blade's send contract asks: up to SO_SNDTIMEO,
 * failing at once (EAGAIN) when that is unset. A blocking socket (or one
 * with a polysock timeout) sends it all within the kernel's SO_SNDTIMEO
 * or polysock's timeout. Returns the bytes sent or -1. */
int64_t send_all(polysock_t h, const char *p, size_t n, const char *path, int32_t flags, int64_t wait) {
  size_t sent = 0;
  for (;;) {
    size_t done = 0;
    int64_t r = path ? polysock_sendfile_path(h, path, (int64_t)sent, 0, &done)
                     : polysock_sendall(h, p + sent, n - sent, flags, &done);
    if (r >= 0) return (int64_t)(sent + (size_t)r);
    sent += done;
    if (polysock_errno() != EAGAIN) return fail();
    if (wait == WAIT_BLADE && polysock_getopt(h, POLYSOCK_OPT_SNDTIMEO_MS, &wait) != 0) wait = 0;
    if (wait == 0) return fail(); /* non-blocking without a timeout */
    if (wait_for(h, ready_events(h, POLYSOCK_POLLOUT), wait, "send") < 0) return -1;
  }
}

/* send(fd, data, flags): bytes sent, or -1. data: a string, bytes, a file
 * (its whole content, streamed from the file by polysock) or any value
 * (its to_string). */
DECLARE_MODULE_METHOD(socket__send) {
  ENFORCE_ARG_COUNT(send, 3);
  ENFORCE_ARG_TYPE(send, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(send, 2, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (IS_FILE(args[1])) {
    RETURN_NUMBER((double)send_all(h, NULL, 0, AS_FILE(args[1])->path->chars, 0, WAIT_BLADE));
  }
  const char *p;
  size_t n;
  data_of(vm, args[1], &p, &n);
  RETURN_NUMBER((double)send_all(h, p, n, NULL, to_i32(args[2]), WAIT_BLADE));
}

/* Receives what is waiting, up to `want` bytes (-1: all that is waiting,
 * up to DRAIN_MAX), after waiting for the first bytes up to `wait` ms
 * (-1: no limit) for what the socket needs, or, with WAIT_BLADE, as
 * Blade's contract asks: up to SO_RCVTIMEO, or the socket's polysock
 * timeout, or else 500 ms (also on a non-blocking socket). MSG_DONTWAIT
 * in flags does not wait. Returns the byte count (0 at end of stream),
 * TIMED_OUT (ETIMEDOUT recorded) when nothing came in time, or -1. */
int64_t recv_available(polysock_t h, int64_t want, int32_t flags, int64_t wait, rbuf *b) {
  size_t limit = want < 0 ? DRAIN_MAX : want > INT32_MAX - 1 ? INT32_MAX - 1 : (size_t)want;
  size_t first = limit < SCRATCH ? limit : SCRATCH;
  rbuf_init(b, first);
  int64_t n;
  while ((n = polysock_recv(h, b->p, first, flags | MSG_DONTWAIT)) < 0) {
    if (polysock_errno() != EAGAIN || (flags & MSG_DONTWAIT)) return fail();
    if (wait == WAIT_BLADE) {
      int64_t mode = -1;
      if (polysock_getopt(h, POLYSOCK_OPT_RCVTIMEO_MS, &wait) != 0 || wait <= 0) {
        wait = polysock_gettimeout(h, &mode) == 0 && mode > 0 ? mode : 500;
      }
    }
    if (wait_for(h, ready_events(h, POLYSOCK_POLLIN), wait, "recv") < 0) {
      return last_code() == ETIMEDOUT ? TIMED_OUT : -1;
    }
  }
  b->len = (size_t)n;
  /* Then whatever else is already waiting, up to the limit. */
  while (b->len == b->cap && b->len < limit) {
    size_t more = limit - b->len < SCRATCH ? limit - b->len : SCRATCH;
    if (!rbuf_reserve(b, more)) break;
    n = polysock_recv(h, b->p + b->len, more, flags | MSG_DONTWAIT);
    if (n <= 0) break;
    b->len += (size_t)n;
  }
  return (int64_t)b->len;
}

static bool do_recv(b_vm *vm, int arg_count, b_value *args, int as_bytes) {
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  int64_t want = to_i64(args[1]);
  if (want == 0) RETURN_VALUE(received(vm, "", 0, as_bytes));
  rbuf b;
  int64_t n = recv_available(h, want < 0 ? -1 : want, to_i32(args[2]), WAIT_BLADE, &b);
  if (n <= 0) {
    rbuf_free(&b);
    if (n < 0) RETURN_NUMBER(-1);
    RETURN_NIL; /* end of stream */
  }
  b_value v = received(vm, b.p, b.len, as_bytes);
  rbuf_free(&b);
  RETURN_VALUE(v);
}

/* recv(fd, length, flags): a string of what arrived (up to length; -1:
 * all that is waiting), nil at end of stream, or -1 (ETIMEDOUT when
 * nothing came within the receive timeout; or the error). */
DECLARE_MODULE_METHOD(socket__recv) {
  ENFORCE_ARG_COUNT(recv, 3);
  ENFORCE_ARG_TYPE(recv, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(recv, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(recv, 2, IS_NUMBER);
  return do_recv(vm, arg_count, args, 0);
}

/* Receives up to `len` bytes into b (exactly len unless the stream ends,
 * the wait runs out or an error comes) as Blade's read does: a blocking
 * socket waits as the kernel's SO_RCVTIMEO says; a non-blocking one (as a
 * timed connect leaves it, for TLSSocket) waits here up to SO_RCVTIMEO
 * each time it runs dry (the kernel ignores SO_RCVTIMEO there), or
 * returns what there is when that is unset. What came is the result when
 * that wait runs out, as with the built-in; the socket's own timeout
 * (settimeout) and other errors fail the call when nothing came. Returns
 * the byte count or -1. */
static int64_t read_up_to(polysock_t h, rbuf *b, size_t len, int32_t flags) {
  int64_t rcvtimeo = -1, mode = -1;
  for (;;) {
    size_t part = 0;
    int64_t r = polysock_recv_exact(h, b->p + b->len, len - b->len, flags, &part);
    b->len += part;
    if (r >= 0) return (int64_t)b->len;
    int code = polysock_errno();
    if (code == POLYSOCK_EEOF) return (int64_t)b->len;
    int sockets_own = polysock_gettimeout(h, &mode) == 0 && mode > 0;
    if (code == ETIMEDOUT && !sockets_own) { /* SO_RCVTIMEO on a blocking socket */
      fail();
      return (int64_t)b->len;
    }
    if (!would_block(code) || (flags & MSG_DONTWAIT)) {
      if (b->len > 0) return (int64_t)b->len; /* reported only when no data came */
      return would_block(code) ? (int64_t)0 : fail();
    }
    if (rcvtimeo < 0 && (polysock_getopt(h, POLYSOCK_OPT_RCVTIMEO_MS, &rcvtimeo) != 0 || rcvtimeo < 0)) {
      rcvtimeo = 0;
    }
    if (rcvtimeo == 0) return (int64_t)b->len;
    if (wait_for(h, ready_events(h, POLYSOCK_POLLIN), rcvtimeo, "read") < 0) {
      return last.code == ETIMEDOUT || b->len > 0 ? (int64_t)b->len : -1;
    }
  }
}

static bool do_read(b_vm *vm, int arg_count, b_value *args, int as_bytes) {
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  int64_t len = to_i64(args[1]);
  if (len <= 0) len = 1024;
  if (len > INT32_MAX - 1) len = INT32_MAX - 1; /* a Blade string's limit */
  rbuf b;
  rbuf_init(&b, (size_t)len);
  if (b.cap < (size_t)len) RETURN_NUMBER(fail_own(ENOMEM, "read of %lld bytes", (long long)len));
  if (read_up_to(h, &b, (size_t)len, to_i32(args[2])) < 0) {
    rbuf_free(&b);
    RETURN_NUMBER(-1);
  }
  b_value v = received(vm, b.p, b.len, as_bytes);
  rbuf_free(&b);
  RETURN_VALUE(v);
}

/* read(fd, length, flags): a string of exactly length bytes (<= 0: 1024),
 * or fewer if the stream ended first, SO_RCVTIMEO ran out, or the
 * non-blocking socket without SO_RCVTIMEO had no more; -1 if an error
 * came before any data (see read_up_to). */
DECLARE_MODULE_METHOD(socket__read) {
  ENFORCE_ARG_COUNT(read, 3);
  ENFORCE_ARG_TYPE(read, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(read, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(read, 2, IS_NUMBER);
  return do_read(vm, arg_count, args, 0);
}

/* setsockopt(fd, option, value[, level]): 0 or -1. At SOL_SOCKET (the
 * default level) SO_SNDTIMEO/SO_RCVTIMEO take a number of milliseconds and
 * SO_LINGER of seconds (> 0 on, else off); every other option takes a
 * number or a bool, at any level (IPPROTO_TCP with the number of
 * TCP_NODELAY...). */
DECLARE_MODULE_METHOD(socket__setsockopt) {
  ENFORCE_ARG_RANGE(setsockopt, 3, 4);
  ENFORCE_ARG_TYPE(setsockopt, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(setsockopt, 1, IS_NUMBER);
  ENFORCE_ARG_TYPES(setsockopt, 2, IS_NUMBER, IS_BOOL);
  int32_t level = SOL_SOCKET;
  if (arg_count == 4) {
    ENFORCE_ARG_TYPE(setsockopt, 3, IS_NUMBER);
    level = to_i32(args[3]);
  }
  int32_t option = to_i32(args[1]);
  int timed = level == SOL_SOCKET && (option == SO_SNDTIMEO || option == SO_RCVTIMEO || option == SO_LINGER);
  if (timed) ENFORCE_ARG_TYPE(setsockopt, 2, IS_NUMBER); /* ms or seconds, as in the built-in */
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  int64_t value = IS_BOOL(args[2]) ? (AS_BOOL(args[2]) ? 1 : 0) : to_i64(args[2]);
  int rc;
  if (level == SOL_SOCKET && (option == SO_SNDTIMEO || option == SO_RCVTIMEO)) {
    rc = polysock_setopt(h, option == SO_SNDTIMEO ? POLYSOCK_OPT_SNDTIMEO_MS : POLYSOCK_OPT_RCVTIMEO_MS, value);
  } else if (level == SOL_SOCKET && option == SO_LINGER) {
    rc = polysock_setopt(h, POLYSOCK_OPT_LINGER, value > 0 ? value : -1);
  } else if (value < INT32_MIN || value > INT32_MAX) {
    RETURN_NUMBER(fail_own(EINVAL, "setsockopt: value %lld does not fit an int", (long long)value));
  } else {
    rc = polysock_setsockopt_int(h, level, option, (int32_t)value);
  }
  if (rc != 0) RETURN_NUMBER(fail());
  RETURN_NUMBER(0);
}

/* getsockopt(fd, option[, level]): the option's value; SO_ERROR gives nil
 * (no error) or the error's text; SO_SNDTIMEO/SO_RCVTIMEO milliseconds;
 * SO_LINGER seconds (0: off); -1 on failure. */
DECLARE_MODULE_METHOD(socket__getsockopt) {
  ENFORCE_ARG_RANGE(getsockopt, 2, 3);
  ENFORCE_ARG_TYPE(getsockopt, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(getsockopt, 1, IS_NUMBER);
  int32_t level = SOL_SOCKET;
  if (arg_count == 3) {
    ENFORCE_ARG_TYPE(getsockopt, 2, IS_NUMBER);
    level = to_i32(args[2]);
  }
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  int32_t option = to_i32(args[1]);
  if (level == SOL_SOCKET && (option == SO_SNDTIMEO || option == SO_RCVTIMEO || option == SO_LINGER)) {
    int64_t v;
    int32_t opt = option == SO_SNDTIMEO   ? POLYSOCK_OPT_SNDTIMEO_MS
                  : option == SO_RCVTIMEO ? POLYSOCK_OPT_RCVTIMEO_MS
                                          : POLYSOCK_OPT_LINGER;
    if (polysock_getopt(h, opt, &v) != 0) RETURN_NUMBER(fail());
    RETURN_NUMBER(option == SO_LINGER && v < 0 ? 0 : (double)v);
  }
  int32_t v;
  if (polysock_getsockopt_int(h, level, option, &v) != 0) RETURN_NUMBER(fail());
  if (level == SOL_SOCKET && option == SO_ERROR) {
    if (v == 0) RETURN_NIL;
    RETURN_STRING(polysock_strerror(v));
  }
  RETURN_NUMBER(v);
}

/* getsockinfo(fd): {address: IPv4 text or "", ipv6: IPv6 text or "",
 * port, family} of the local address; {nil, nil, -1, -1} on failure. */
DECLARE_MODULE_METHOD(socket__getsockinfo) {
  ENFORCE_ARG_COUNT(getsockinfo, 1);
  ENFORCE_ARG_TYPE(getsockinfo, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  polysock_addr a;
  b_obj_dict *dict = (b_obj_dict *)GC(new_dict(vm));
  if (h < 0 || polysock_getsockname(h, &a) != 0) {
    if (h >= 0) fail();
    dict_add_entry(vm, dict, GC_L_STRING("address", 7), NIL_VAL);
    dict_add_entry(vm, dict, GC_L_STRING("ipv6", 4), NIL_VAL);
    dict_add_entry(vm, dict, GC_L_STRING("port", 4), NUMBER_VAL(-1));
    dict_add_entry(vm, dict, GC_L_STRING("family", 6), NUMBER_VAL(-1));
    RETURN_OBJ(dict);
  }
  dict_add_entry(vm, dict, GC_L_STRING("address", 7), a.family == AF_INET ? GC_STRING(a.host) : GC_L_STRING("", 0));
  dict_add_entry(vm, dict, GC_L_STRING("ipv6", 4), a.family == AF_INET6 ? GC_STRING(a.host) : GC_L_STRING("", 0));
  dict_add_entry(vm, dict, GC_L_STRING("port", 4), NUMBER_VAL(is_ip(a.family) ? a.port : -1));
  dict_add_entry(vm, dict, GC_L_STRING("family", 6), NUMBER_VAL(a.family));
  RETURN_OBJ(dict);
}

/* getaddrinfo(host, service or nil ("http"), family): the first address
 * of that family as {canonical_name: text or nil, ip: text}, or nil. */
DECLARE_MODULE_METHOD(socket__getaddrinfo) {
  ENFORCE_ARG_COUNT(getaddrinfo, 3);
  ENFORCE_ARG_TYPE(getaddrinfo, 0, IS_STRING);
  ENFORCE_ARG_TYPE(getaddrinfo, 2, IS_NUMBER);
  const char *service = "http";
  if (!IS_NIL(args[1])) {
    ENFORCE_ARG_TYPE(getaddrinfo, 1, IS_STRING);
    service = AS_C_STRING(args[1]);
  }
  b_obj_string *host = AS_STRING(args[0]);
  polysock_addrinfo ai;
  size_t count = 0;
  int64_t n = polysock_getaddrinfo(host->length > 0 ? host->chars : NULL, service, to_i32(args[2]),
                                   SOCK_STREAM, 0, POLYSOCK_AI_CANONNAME, &ai, 1, &count);
  if (n < 0 || count == 0) {
    if (n < 0) fail();
    RETURN_NIL;
  }
  b_obj_dict *dict = (b_obj_dict *)GC(new_dict(vm));
  dict_add_entry(vm, dict, GC_L_STRING("canonical_name", 14),
                 ai.canonname[0] ? GC_STRING(ai.canonname) : NIL_VAL);
  dict_add_entry(vm, dict, GC_L_STRING("ip", 2), GC_STRING(ai.addr.host));
  RETURN_OBJ(dict);
}

/* close(fd): 0, or -1 (EBADF: not an open socket of this module). */
DECLARE_MODULE_METHOD(socket__close) {
  ENFORCE_ARG_COUNT(close, 1);
  ENFORCE_ARG_TYPE(close, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  RETURN_NUMBER(polysock_close(h));
}

/* shutdown(fd, how): 0 or -1. */
DECLARE_MODULE_METHOD(socket__shutdown) {
  ENFORCE_ARG_COUNT(shutdown, 2);
  ENFORCE_ARG_TYPE(shutdown, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(shutdown, 1, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (polysock_shutdown(h, to_i32(args[1])) != 0) RETURN_NUMBER(fail());
  RETURN_NUMBER(0);
}

/* setblocking(fd, blocking): true, false (the call failed), or -1 (no
 * such socket). */
DECLARE_MODULE_METHOD(socket__setblocking) {
  ENFORCE_ARG_COUNT(setblocking, 2);
  ENFORCE_ARG_TYPE(setblocking, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(setblocking, 1, IS_BOOL);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (polysock_setblocking(h, AS_BOOL(args[1]) ? 1 : 0) != 0) {
    fail();
    RETURN_FALSE;
  }
  RETURN_TRUE;
}

/* sendto(fd, data, flags, host, port, family): bytes sent or -1. The
 * family is the socket's; for AF_UNIX the host is the path. */
DECLARE_MODULE_METHOD(socket__sendto) {
  ENFORCE_ARG_COUNT(sendto, 6);
  ENFORCE_ARG_TYPE(sendto, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(sendto, 2, IS_NUMBER);
  ENFORCE_ARG_TYPE(sendto, 3, IS_STRING);
  ENFORCE_ARG_TYPE(sendto, 4, IS_NUMBER);
  ENFORCE_ARG_TYPE(sendto, 5, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  const char *p;
  size_t n;
  data_of(vm, args[1], &p, &n);
  int64_t sent = polysock_sendto(h, p, n, to_i32(args[2]), AS_C_STRING(args[3]), to_i32(args[4]));
  RETURN_NUMBER(sent < 0 ? fail() : (double)sent);
}

static bool do_recvfrom(b_vm *vm, int arg_count, b_value *args, int as_bytes) {
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  int64_t len = to_i64(args[1]);
  int32_t flags = to_i32(args[2]);
  if (len <= 0) {
    /* The whole next datagram: its length first, leaving it in place
     * (MSG_PEEK). With MSG_TRUNC a datagram socket gives the real length
     * whatever the buffer's size; a stream socket gives what is waiting,
     * up to SCRATCH. */
    len = polysock_recvfrom(h, scratch, SCRATCH, flags | MSG_PEEK | MSG_TRUNC, NULL);
    if (len < 0) RETURN_NUMBER(fail());
    if (len == 0) len = 1; /* an empty datagram, or the end of a stream */
  }
  if (len > INT32_MAX - 1) len = INT32_MAX - 1;
  rbuf b;
  rbuf_init(&b, (size_t)len);
  if (b.cap < (size_t)len) RETURN_NUMBER(fail_own(ENOMEM, "recvfrom of %lld bytes", (long long)len));
  polysock_addr from;
  int64_t n = polysock_recvfrom(h, b.p, (size_t)len, flags, &from);
  if (n < 0) {
    rbuf_free(&b);
    RETURN_NUMBER(fail());
  }
  b_obj_list *list = (b_obj_list *)GC(new_list(vm));
  write_list(vm, list, received(vm, b.p, (size_t)n, as_bytes));
  rbuf_free(&b);
  write_list(vm, list, from.family != 0 ? GC_STRING(from.host) : GC_L_STRING("", 0));
  write_list(vm, list, NUMBER_VAL(is_ip(from.family) ? from.port : 0));
  RETURN_OBJ(list);
}

/* recvfrom(fd, length, flags): [data string (its full length, NUL bytes
 * included), sender ip (the path for AF_UNIX), sender port], or -1.
 * length <= 0: the whole datagram, whatever its size (the built-in cuts it
 * to 8192 bytes and drops the rest). */
DECLARE_MODULE_METHOD(socket__recvfrom) {
  ENFORCE_ARG_COUNT(recvfrom, 3);
  ENFORCE_ARG_TYPE(recvfrom, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(recvfrom, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(recvfrom, 2, IS_NUMBER);
  return do_recvfrom(vm, arg_count, args, 0);
}

/* ------------------------------------------------------------------ */
/* What polysock adds.                                                 */

/* recv_bytes / read_bytes / recvfrom_bytes: as recv, read and recvfrom,
 * with the data as bytes. */
DECLARE_MODULE_METHOD(socket__recv_bytes) {
  ENFORCE_ARG_COUNT(recv_bytes, 3);
  ENFORCE_ARG_TYPE(recv_bytes, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(recv_bytes, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(recv_bytes, 2, IS_NUMBER);
  return do_recv(vm, arg_count, args, 1);
}

DECLARE_MODULE_METHOD(socket__read_bytes) {
  ENFORCE_ARG_COUNT(read_bytes, 3);
  ENFORCE_ARG_TYPE(read_bytes, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(read_bytes, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(read_bytes, 2, IS_NUMBER);
  return do_read(vm, arg_count, args, 1);
}

DECLARE_MODULE_METHOD(socket__recvfrom_bytes) {
  ENFORCE_ARG_COUNT(recvfrom_bytes, 3);
  ENFORCE_ARG_TYPE(recvfrom_bytes, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(recvfrom_bytes, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(recvfrom_bytes, 2, IS_NUMBER);
  return do_recvfrom(vm, arg_count, args, 1);
}

/* settimeout(fd, ms): 0 or -1. -1 blocks, 0 is non-blocking, > 0 bounds
 * every blocking call (connect, accept, send, recv, read...), which then
 * fails with ETIMEDOUT. */
DECLARE_MODULE_METHOD(socket__settimeout) {
  ENFORCE_ARG_COUNT(settimeout, 2);
  ENFORCE_ARG_TYPE(settimeout, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(settimeout, 1, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (polysock_settimeout(h, to_i64(args[1])) != 0) RETURN_NUMBER(fail());
  RETURN_NUMBER(0);
}

/* gettimeout(fd): the socket's timeout in ms (-1: blocks), or nil. */
DECLARE_MODULE_METHOD(socket__gettimeout) {
  ENFORCE_ARG_COUNT(gettimeout, 1);
  ENFORCE_ARG_TYPE(gettimeout, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  int64_t ms;
  if (h < 0 || polysock_gettimeout(h, &ms) != 0) {
    if (h >= 0) fail();
    RETURN_NIL;
  }
  RETURN_NUMBER((double)ms);
}

static bool return_addr(b_vm *vm, b_value *args, const polysock_addr *a) {
  b_obj_dict *dict = (b_obj_dict *)GC(new_dict(vm));
  dict_add_entry(vm, dict, GC_L_STRING("family", 6), NUMBER_VAL(a->family));
  dict_add_entry(vm, dict, GC_L_STRING("host", 4), GC_STRING(a->host));
  dict_add_entry(vm, dict, GC_L_STRING("port", 4), NUMBER_VAL(a->port));
  RETURN_OBJ(dict);
}

/* getsockname(fd) / getpeername(fd): {family, host (the path for
 * AF_UNIX), port}, or nil. */
DECLARE_MODULE_METHOD(socket__getsockname) {
  ENFORCE_ARG_COUNT(getsockname, 1);
  ENFORCE_ARG_TYPE(getsockname, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  polysock_addr a;
  if (h < 0 || polysock_getsockname(h, &a) != 0) {
    if (h >= 0) fail();
    RETURN_NIL;
  }
  return return_addr(vm, args, &a);
}

DECLARE_MODULE_METHOD(socket__getpeername) {
  ENFORCE_ARG_COUNT(getpeername, 1);
  ENFORCE_ARG_TYPE(getpeername, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  polysock_addr a;
  if (h < 0 || polysock_getpeername(h, &a) != 0) {
    if (h >= 0) fail();
    RETURN_NIL;
  }
  return return_addr(vm, args, &a);
}

/* getaddrinfo_all(host, service or nil, family[, type[, flags]]): every
 * result as {family, type, protocol, canonical_name, ip, port}, in the
 * resolver's order; -1 when the name does not resolve (the resolver's
 * error for _socket.error(-1)). */
DECLARE_MODULE_METHOD(socket__getaddrinfo_all) {
  ENFORCE_ARG_RANGE(getaddrinfo_all, 3, 5);
  ENFORCE_ARG_TYPE(getaddrinfo_all, 0, IS_STRING);
  ENFORCE_ARG_TYPE(getaddrinfo_all, 2, IS_NUMBER);
  const char *service = NULL;
  if (!IS_NIL(args[1])) {
    ENFORCE_ARG_TYPE(getaddrinfo_all, 1, IS_STRING);
    service = AS_C_STRING(args[1]);
  }
  int32_t type = 0, flags = 0;
  if (arg_count > 3) {
    ENFORCE_ARG_TYPE(getaddrinfo_all, 3, IS_NUMBER);
    type = to_i32(args[3]);
  }
  if (arg_count > 4) {
    ENFORCE_ARG_TYPE(getaddrinfo_all, 4, IS_NUMBER);
    flags = to_i32(args[4]);
  }
  b_obj_string *host = AS_STRING(args[0]);
  const char *name = host->length > 0 ? host->chars : NULL;
  int32_t family = to_i32(args[2]);
  polysock_addrinfo first[16], *ai = first;
  size_t count = 0;
  int64_t total = polysock_getaddrinfo(name, service, family, type, 0, flags, ai, 16, &count);
  if (total > 16) {
    ai = malloc((size_t)total * sizeof *ai);
    if (!ai) RETURN_NUMBER(fail_own(ENOMEM, "getaddrinfo"));
    total = polysock_getaddrinfo(name, service, family, type, 0, flags, ai, (size_t)total, &count);
  }
  if (total < 0) {
    if (ai != first) free(ai);
    RETURN_NUMBER(fail());
  }
  b_obj_list *list = (b_obj_list *)GC(new_list(vm));
  for (size_t i = 0; i < count; i++) {
    b_obj_dict *d = (b_obj_dict *)GC(new_dict(vm));
    dict_add_entry(vm, d, GC_L_STRING("family", 6), NUMBER_VAL(ai[i].family));
    dict_add_entry(vm, d, GC_L_STRING("type", 4), NUMBER_VAL(ai[i].socktype));
    dict_add_entry(vm, d, GC_L_STRING("protocol", 8), NUMBER_VAL(ai[i].protocol));
    dict_add_entry(vm, d, GC_L_STRING("canonical_name", 14),
                   ai[i].canonname[0] ? GC_STRING(ai[i].canonname) : NIL_VAL);
    dict_add_entry(vm, d, GC_L_STRING("ip", 2), GC_STRING(ai[i].addr.host));
    dict_add_entry(vm, d, GC_L_STRING("port", 4), NUMBER_VAL(ai[i].addr.port));
    write_list(vm, list, OBJ_VAL(d));
  }
  if (ai != first) free(ai);
  RETURN_OBJ(list);
}

/* poll(fds, events, timeout_ms): waits until one of the sockets is ready
 * (or the timeout, -1 for none, passes) and returns a list of the
 * returned events, one per fd (0: not ready), or -1. `events` is one
 * number for all fds or a list of numbers, of the module's POLLIN,
 * POLLPRI and POLLOUT; revents may add POLLERR, POLLHUP and POLLNVAL. */
DECLARE_MODULE_METHOD(socket__poll) {
  ENFORCE_ARG_COUNT(poll, 3);
  ENFORCE_ARG_TYPE(poll, 0, IS_LIST);
  ENFORCE_ARG_TYPES(poll, 1, IS_NUMBER, IS_LIST);
  ENFORCE_ARG_TYPE(poll, 2, IS_NUMBER);
  b_obj_list *fds = AS_LIST(args[0]);
  int n = fds->items.count;
  if (IS_LIST(args[1]) && AS_LIST(args[1])->items.count != n) {
    RETURN_ARGUMENT_ERROR("poll() expects one events value per socket (%d sockets, %d events)", n,
                          AS_LIST(args[1])->items.count);
  }
  polysock_pollfd *p = calloc((size_t)(n ? n : 1), sizeof *p);
  if (!p) RETURN_NUMBER(fail_own(ENOMEM, "poll"));
  for (int i = 0; i < n; i++) {
    b_value fd = fds->items.values[i];
    b_value ev = IS_LIST(args[1]) ? AS_LIST(args[1])->items.values[i] : args[1];
    if (!IS_NUMBER(fd) || !IS_NUMBER(ev)) {
      free(p);
      RETURN_TYPE_ERROR("poll() expects numbers for fds and events, %s given",
                        value_type(IS_NUMBER(fd) ? ev : fd));
    }
    p[i].handle = polysock_handle_of_fd(to_i32(fd));
    if (p[i].handle < 0) {
      free(p);
      RETURN_NUMBER(fail());
    }
    p[i].events = to_i32(ev);
  }
  if (polysock_poll(p, (size_t)n, to_i64(args[2])) < 0) {
    free(p);
    RETURN_NUMBER(fail());
  }
  b_obj_list *out = (b_obj_list *)GC(new_list(vm));
  for (int i = 0; i < n; i++) write_list(vm, out, NUMBER_VAL(p[i].revents));
  free(p);
  RETURN_OBJ(out);
}

/* sendfile(fd, path or file[, offset[, count]]): sends count bytes of the
 * file from offset (count 0 or omitted: to its end), streamed by polysock
 * (sendfile(2) where it can), never read into Blade; returns the bytes
 * sent, or -1. The socket's timeout covers the whole call. */
DECLARE_MODULE_METHOD(socket__sendfile) {
  ENFORCE_ARG_RANGE(sendfile, 2, 4);
  ENFORCE_ARG_TYPE(sendfile, 0, IS_NUMBER);
  ENFORCE_ARG_TYPES(sendfile, 1, IS_STRING, IS_FILE);
  int64_t offset = 0, count = 0;
  if (arg_count > 2) {
    ENFORCE_ARG_TYPE(sendfile, 2, IS_NUMBER);
    offset = to_i64(args[2]);
  }
  if (arg_count > 3) {
    ENFORCE_ARG_TYPE(sendfile, 3, IS_NUMBER);
    count = to_i64(args[3]);
    if (count < 0) RETURN_NUMBER(fail_own(EINVAL, "sendfile: count %lld is negative", (long long)count));
  }
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  const char *path = IS_FILE(args[1]) ? AS_FILE(args[1])->path->chars : AS_C_STRING(args[1]);
  int64_t n = polysock_sendfile_path(h, path, offset, (size_t)count, NULL);
  RETURN_NUMBER(n < 0 ? fail() : (double)n);
}

/* last_error(): {code, name ("ECONNREFUSED"...), message} of the last
 * failure on this thread, or nil. Compare names: numbers differ between
 * platforms. */
DECLARE_MODULE_METHOD(socket__last_error) {
  ENFORCE_ARG_COUNT(last_error, 0);
  if (last.code == 0) RETURN_NIL;
  b_obj_dict *d = (b_obj_dict *)GC(new_dict(vm));
  dict_add_entry(vm, d, GC_L_STRING("code", 4), NUMBER_VAL(last.code));
  dict_add_entry(vm, d, GC_L_STRING("name", 4), GC_STRING(polysock_errname(last.code)));
  dict_add_entry(vm, d, GC_L_STRING("message", 7), GC_STRING(last_message()));
  RETURN_OBJ(d);
}

/* strerror(code) / errname(code): the text and the name of any code. */
DECLARE_MODULE_METHOD(socket__strerror) {
  ENFORCE_ARG_COUNT(strerror, 1);
  ENFORCE_ARG_TYPE(strerror, 0, IS_NUMBER);
  RETURN_STRING(polysock_strerror(to_i32(args[0])));
}

DECLARE_MODULE_METHOD(socket__errname) {
  ENFORCE_ARG_COUNT(errname, 1);
  ENFORCE_ARG_TYPE(errname, 0, IS_NUMBER);
  RETURN_STRING(polysock_errname(to_i32(args[0])));
}

/* constant(name): any of polysock's constants ("TCP_NODELAY",
 * "ECONNREFUSED"...), or nil where the platform lacks it. */
DECLARE_MODULE_METHOD(socket__constant) {
  ENFORCE_ARG_COUNT(constant, 1);
  ENFORCE_ARG_TYPE(constant, 0, IS_STRING);
  int64_t v;
  if (polysock_constant_lookup(AS_C_STRING(args[0]), &v) != 0) RETURN_NIL;
  RETURN_NUMBER((double)v);
}

/* version(): polysock's version. */
DECLARE_MODULE_METHOD(socket__version) {
  ENFORCE_ARG_COUNT(version, 0);
  RETURN_STRING(polysock_version());
}

/* ------------------------------------------------------------------ */
/* The 75 constant fields, from polysock's constants table (-1 where the
 * platform lacks one, as in the built-in module).                     */

static double constant(const char *name, const char *fallback) {
  int64_t v;
  if (polysock_constant_lookup(name, &v) == 0) return (double)v;
  if (fallback && polysock_constant_lookup(fallback, &v) == 0) return (double)v;
  return -1;
}

#define BLADE_CONSTANTS(X)                                                                    \
  X(SOCK_STREAM, NULL) X(SOCK_DGRAM, NULL) X(SOCK_RAW, NULL) X(SOCK_RDM, NULL)                \
  X(SOCK_SEQPACKET, NULL) X(SO_DEBUG, NULL) X(SO_ACCEPTCONN, NULL) X(SO_REUSEADDR, NULL)      \
  X(SO_KEEPALIVE, NULL) X(SO_DONTROUTE, NULL) X(SO_BROADCAST, NULL) X(SO_USELOOPBACK, NULL)   \
  X(SO_LINGER, NULL) X(SO_OOBINLINE, NULL) X(SO_REUSEPORT, NULL) X(SO_TIMESTAMP, NULL)        \
  X(SO_SNDBUF, NULL) X(SO_RCVBUF, NULL) X(SO_SNDLOWAT, NULL) X(SO_RCVLOWAT, NULL)             \
  X(SO_SNDTIMEO, NULL) X(SO_RCVTIMEO, NULL) X(SO_ERROR, NULL) X(SO_TYPE, NULL)                \
  X(SOL_SOCKET, NULL) X(AF_UNSPEC, NULL) X(AF_UNIX, NULL) X(AF_LOCAL, "AF_UNIX")              \
  X(AF_INET, NULL) X(AF_IMPLINK, NULL) X(AF_PUP, NULL) X(AF_CHAOS, NULL) X(AF_NS, NULL)       \
  X(AF_ISO, NULL) X(AF_OSI, NULL) X(AF_ECMA, NULL) X(AF_DATAKIT, NULL) X(AF_CCITT, NULL)      \
  X(AF_SNA, NULL) X(AF_DECnet, NULL) X(AF_DLI, NULL) X(AF_LAT, NULL) X(AF_HYLINK, NULL)       \
  X(AF_APPLETALK, NULL) X(AF_INET6, NULL) X(IPPROTO_IP, NULL) X(IPPROTO_ICMP, NULL)           \
  X(IPPROTO_IGMP, NULL) X(IPPROTO_IPIP, "IPPROTO_IPV4") X(IPPROTO_TCP, NULL)                  \
  X(IPPROTO_EGP, NULL) X(IPPROTO_PUP, NULL) X(IPPROTO_UDP, NULL) X(IPPROTO_IDP, NULL)         \
  X(IPPROTO_TP, NULL) X(IPPROTO_DCCP, NULL) X(IPPROTO_IPV6, NULL) X(IPPROTO_RSVP, NULL)       \
  X(IPPROTO_GRE, NULL) X(IPPROTO_ESP, NULL) X(IPPROTO_AH, NULL) X(IPPROTO_MTP, NULL)          \
  X(IPPROTO_BEETPH, NULL) X(IPPROTO_ENCAP, NULL) X(IPPROTO_PIM, NULL) X(IPPROTO_COMP, NULL)   \
  X(IPPROTO_SCTP, NULL) X(IPPROTO_UDPLITE, NULL) X(IPPROTO_MPLS, NULL) X(IPPROTO_RAW, NULL)   \
  X(IPPROTO_MAX, NULL) X(SHUT_RD, NULL) X(SHUT_WR, NULL) X(SHUT_RDWR, NULL) X(SOMAXCONN, NULL)

#define FIELD_GETTER(name, fallback) \
  static b_value field_##name(b_vm *vm) { (void)vm; return NUMBER_VAL(constant(#name, fallback)); }
BLADE_CONSTANTS(FIELD_GETTER)

#define FIELD_REG(name, fallback) {#name, true, field_##name},

/* Extra fields: polysock's poll bits, for poll(). */
#define POLL_BITS(X) X(POLLIN) X(POLLPRI) X(POLLOUT) X(POLLERR) X(POLLHUP) X(POLLNVAL)
#define POLL_GETTER(name) \
  static b_value field_##name(b_vm *vm) { (void)vm; return NUMBER_VAL(POLYSOCK_##name); }
POLL_BITS(POLL_GETTER)
#define POLL_REG(name) {#name, true, field_##name},

/* And polysock's TLS constants, for the TLS natives (tls.c). */
#define TLS_GETTER(name) \
  static b_value field_##name(b_vm *vm) { (void)vm; return NUMBER_VAL(POLYSOCK_##name); }
TLS_FIELDS(TLS_GETTER)
#define TLS_REG(name) {#name, true, field_##name},

#define FN(name) {#name, false, GET_MODULE_METHOD(socket__##name)}

__attribute__((visibility("default"))) CREATE_MODULE_LOADER(_socket) {
  static b_func_reg functions[] = {
      /* The built-in module's 18. */
      FN(create), FN(connect), FN(send), FN(recv), FN(read), FN(setsockopt), FN(getsockopt),
      FN(bind), FN(listen), FN(accept), FN(error), FN(close), FN(shutdown), FN(getsockinfo),
      FN(getaddrinfo), FN(setblocking), FN(sendto), FN(recvfrom),
      /* What polysock adds. */
      FN(recv_bytes), FN(read_bytes), FN(recvfrom_bytes), FN(settimeout), FN(gettimeout),
      FN(getsockname), FN(getpeername), FN(getaddrinfo_all), FN(poll), FN(sendfile),
      FN(last_error), FN(strerror), FN(errname), FN(constant), FN(version),
      /* TLS (tls.c). */
#define TLS_FN(name) FN(name),
      TLS_FUNCTIONS(TLS_FN)
      {NULL, false, NULL},
  };
  static b_field_reg fields[] = {
      BLADE_CONSTANTS(FIELD_REG) POLL_BITS(POLL_REG) TLS_FIELDS(TLS_REG){NULL, false, NULL}};
  /* No preloader: the built-in one ignores SIGPIPE for the whole process;
   * polysock sends with MSG_NOSIGNAL instead. */
  static b_module_reg module = {
      .name = "_socket",
      .fields = fields,
      .functions = functions,
      .classes = NULL,
      .preloader = NULL,
      .unloader = NULL,
  };
  (void)vm;
  return &module;
}
