/* polysock for Blade: the TLS natives of `_socket`, on polysock_tls_*.
 * The Blade package ssl/ (Blade's ssl API: SSLContext, TLSSocket) is
 * written on them. A configuration is polysock's id (a number); a socket
 * is its fd, as everywhere in this module, and a wrapped socket keeps its
 * fd: send, recv, read, poll and close of this module speak TLS on it.
 *
 * As in polysock_blade.c, a failing call returns -1 (nil for the calls
 * that return a dictionary) and leaves its error for error(-1) and
 * last_error(); only wrong argument types and counts raise. */

#include "shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A string argument as C text, or NULL (EINVAL recorded) when it holds a
 * NUL byte, which C would silently cut it at. */
static const char *c_text(b_value v, const char *op) {
  b_obj_string *s = AS_STRING(v);
  if (strlen(s->chars) != (size_t)s->length) {
    fail_own(EINVAL, "%s: the text holds a NUL byte", op);
    return NULL;
  }
  return s->chars;
}

/* Returns r, or -1 with polysock's failure recorded. */
#define RETURN_RESULT(r)                        \
  do {                                          \
    int64_t r_ = (r);                           \
    RETURN_NUMBER(r_ < 0 ? fail() : (double)r_); \
  } while (0)

/* ------------------------------------------------------------------ */
/* Configurations.                                                     */

/* tls_config_new(side): a configuration id (TLS_CLIENT or TLS_SERVER). */
DECLARE_MODULE_METHOD(socket__tls_config_new) {
  ENFORCE_ARG_COUNT(tls_config_new, 1);
  ENFORCE_ARG_TYPE(tls_config_new, 0, IS_NUMBER);
  RETURN_RESULT(polysock_tls_config_new(to_i32(args[0])));
}

/* tls_config_free(cfg): 0; sockets wrapped with it keep working. */
DECLARE_MODULE_METHOD(socket__tls_config_free) {
  ENFORCE_ARG_COUNT(tls_config_free, 1);
  ENFORCE_ARG_TYPE(tls_config_free, 0, IS_NUMBER);
  RETURN_RESULT(polysock_tls_config_free(to_i64(args[0])));
}

/* tls_config_system_roots(cfg, bool): trust the OS's store or not. */
DECLARE_MODULE_METHOD(socket__tls_config_system_roots) {
  ENFORCE_ARG_COUNT(tls_config_system_roots, 2);
  ENFORCE_ARG_TYPE(tls_config_system_roots, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_system_roots, 1, IS_BOOL);
  RETURN_RESULT(polysock_tls_config_system_roots(to_i64(args[0]), AS_BOOL(args[1])));
}

/* tls_config_add_ca_file(cfg, path): the number of CA certificates added. */
DECLARE_MODULE_METHOD(socket__tls_config_add_ca_file) {
  ENFORCE_ARG_COUNT(tls_config_add_ca_file, 2);
  ENFORCE_ARG_TYPE(tls_config_add_ca_file, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_add_ca_file, 1, IS_STRING);
  const char *path = c_text(args[1], "tls_config_add_ca_file");
  if (!path) RETURN_NUMBER(-1);
  RETURN_RESULT(polysock_tls_config_add_ca_file(to_i64(args[0]), path));
}

/* tls_config_add_ca_pem(cfg, pem): as add_ca_file, PEM text (string or
 * bytes) in memory. */
DECLARE_MODULE_METHOD(socket__tls_config_add_ca_pem) {
  ENFORCE_ARG_COUNT(tls_config_add_ca_pem, 2);
  ENFORCE_ARG_TYPE(tls_config_add_ca_pem, 0, IS_NUMBER);
  ENFORCE_ARG_TYPES(tls_config_add_ca_pem, 1, IS_STRING, IS_BYTES);
  const char *p;
  size_t n;
  data_of(vm, args[1], &p, &n);
  RETURN_RESULT(polysock_tls_config_add_ca_pem(to_i64(args[0]), p, n));
}

/* tls_config_cert_file(cfg, chain_path, key_path): the certificate this
 * side presents. */
DECLARE_MODULE_METHOD(socket__tls_config_cert_file) {
  ENFORCE_ARG_COUNT(tls_config_cert_file, 3);
  ENFORCE_ARG_TYPE(tls_config_cert_file, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_cert_file, 1, IS_STRING);
  ENFORCE_ARG_TYPE(tls_config_cert_file, 2, IS_STRING);
  const char *chain = c_text(args[1], "tls_config_cert_file");
  const char *key = chain ? c_text(args[2], "tls_config_cert_file") : NULL;
  if (!key) RETURN_NUMBER(-1);
  RETURN_RESULT(polysock_tls_config_cert_file(to_i64(args[0]), chain, key));
}

/* tls_config_cert_pem(cfg, chain, key): as cert_file, PEM in memory. */
DECLARE_MODULE_METHOD(socket__tls_config_cert_pem) {
  ENFORCE_ARG_COUNT(tls_config_cert_pem, 3);
  ENFORCE_ARG_TYPE(tls_config_cert_pem, 0, IS_NUMBER);
  ENFORCE_ARG_TYPES(tls_config_cert_pem, 1, IS_STRING, IS_BYTES);
  ENFORCE_ARG_TYPES(tls_config_cert_pem, 2, IS_STRING, IS_BYTES);
  const char *chain, *key;
  size_t chain_len, key_len;
  data_of(vm, args[1], &chain, &chain_len);
  data_of(vm, args[2], &key, &key_len);
  RETURN_RESULT(polysock_tls_config_cert_pem(to_i64(args[0]), chain, chain_len, key, key_len));
}

/* tls_config_add_alpn(cfg, protocol). */
DECLARE_MODULE_METHOD(socket__tls_config_add_alpn) {
  ENFORCE_ARG_COUNT(tls_config_add_alpn, 2);
  ENFORCE_ARG_TYPE(tls_config_add_alpn, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_add_alpn, 1, IS_STRING);
  const char *protocol = c_text(args[1], "tls_config_add_alpn");
  if (!protocol) RETURN_NUMBER(-1);
  RETURN_RESULT(polysock_tls_config_add_alpn(to_i64(args[0]), protocol));
}

/* tls_config_versions(cfg, min, max): TLS_1_2, TLS_1_3 or 0 (no limit). */
DECLARE_MODULE_METHOD(socket__tls_config_versions) {
  ENFORCE_ARG_COUNT(tls_config_versions, 3);
  ENFORCE_ARG_TYPE(tls_config_versions, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_versions, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_versions, 2, IS_NUMBER);
  RETURN_RESULT(polysock_tls_config_versions(to_i64(args[0]), to_i32(args[1]), to_i32(args[2])));
}

/* tls_config_sni(cfg, bool): whether a client sends the server name. */
DECLARE_MODULE_METHOD(socket__tls_config_sni) {
  ENFORCE_ARG_COUNT(tls_config_sni, 2);
  ENFORCE_ARG_TYPE(tls_config_sni, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_sni, 1, IS_BOOL);
  RETURN_RESULT(polysock_tls_config_sni(to_i64(args[0]), AS_BOOL(args[1])));
}

/* tls_config_client_auth(cfg, mode): TLS_CLIENT_AUTH_NONE, _OPTIONAL or
 * _REQUIRED (a server configuration). */
DECLARE_MODULE_METHOD(socket__tls_config_client_auth) {
  ENFORCE_ARG_COUNT(tls_config_client_auth, 2);
  ENFORCE_ARG_TYPE(tls_config_client_auth, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_config_client_auth, 1, IS_NUMBER);
  RETURN_RESULT(polysock_tls_config_client_auth(to_i64(args[0]), to_i32(args[1])));
}

/* tls_config_skip_verify(cfg): INSECURE, a client accepts any certificate. */
DECLARE_MODULE_METHOD(socket__tls_config_skip_verify) {
  ENFORCE_ARG_COUNT(tls_config_skip_verify, 1);
  ENFORCE_ARG_TYPE(tls_config_skip_verify, 0, IS_NUMBER);
  RETURN_RESULT(polysock_tls_config_insecure_skip_verify(to_i64(args[0])));
}

/* tls_config_skip_hostname_check(cfg): INSECURE, a client accepts a valid
 * certificate made out to any name. */
DECLARE_MODULE_METHOD(socket__tls_config_skip_hostname_check) {
  ENFORCE_ARG_COUNT(tls_config_skip_hostname_check, 1);
  ENFORCE_ARG_TYPE(tls_config_skip_hostname_check, 0, IS_NUMBER);
  RETURN_RESULT(polysock_tls_config_insecure_skip_hostname_check(to_i64(args[0])));
}

/* ------------------------------------------------------------------ */
/* Sessions.                                                           */

/* tls_wrap(fd, cfg, server_name or nil): 0; the connected socket is the
 * client side of a TLS session from now on (the handshake runs in
 * tls_handshake or the first send or receive). */
DECLARE_MODULE_METHOD(socket__tls_wrap) {
  ENFORCE_ARG_COUNT(tls_wrap, 3);
  ENFORCE_ARG_TYPE(tls_wrap, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_wrap, 1, IS_NUMBER);
  if (!IS_NIL(args[2])) ENFORCE_ARG_TYPE(tls_wrap, 2, IS_STRING);
  const char *name = NULL;
  if (IS_STRING(args[2]) && !(name = c_text(args[2], "tls_wrap"))) RETURN_NUMBER(-1);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  RETURN_RESULT(polysock_tls_wrap(h, to_i64(args[1]), name));
}

/* tls_wrap_server(fd, cfg): 0; the accepted socket is the server side. */
DECLARE_MODULE_METHOD(socket__tls_wrap_server) {
  ENFORCE_ARG_COUNT(tls_wrap_server, 2);
  ENFORCE_ARG_TYPE(tls_wrap_server, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(tls_wrap_server, 1, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  RETURN_RESULT(polysock_tls_wrap_server(h, to_i64(args[1])));
}

/* tls_handshake(fd[, wait_ms]): 0 once the handshake is done, or -1.
 * Without wait_ms the socket's own mode applies: a non-blocking socket
 * does what it can and fails with EAGAIN, and tls_wants(fd) says what to
 * poll for before calling again. With wait_ms the whole handshake is
 * bounded by it (-1: no limit; ETIMEDOUT), whatever the socket's mode,
 * which is then restored. */
DECLARE_MODULE_METHOD(socket__tls_handshake) {
  ENFORCE_ARG_RANGE(tls_handshake, 1, 2);
  ENFORCE_ARG_TYPE(tls_handshake, 0, IS_NUMBER);
  if (arg_count > 1) ENFORCE_ARG_TYPE(tls_handshake, 1, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (arg_count == 1) RETURN_RESULT(polysock_tls_handshake(h));
  int64_t wait = to_i64(args[1]), mode;
  if (wait < -1) RETURN_NUMBER(fail_own(EINVAL, "tls_handshake: wait %lld ms", (long long)wait));
  if (polysock_gettimeout(h, &mode) != 0 || polysock_settimeout(h, wait) != 0) RETURN_NUMBER(fail());
  int rc = polysock_tls_handshake(h);
  if (rc != 0) fail();
  polysock_settimeout(h, mode);
  RETURN_NUMBER(rc);
}

/* tls_wants(fd): POLLIN, POLLOUT or both, what the session waits for
 * after EAGAIN (0: nothing pending); -1 for a socket that is not TLS. */
DECLARE_MODULE_METHOD(socket__tls_wants) {
  ENFORCE_ARG_COUNT(tls_wants, 1);
  ENFORCE_ARG_TYPE(tls_wants, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  RETURN_RESULT(polysock_tls_wants(h));
}

/* tls_state(fd): TLS_STATE_NONE (plain), _HANDSHAKE, _OPEN, _CLOSED,
 * _FAILED. */
DECLARE_MODULE_METHOD(socket__tls_state) {
  ENFORCE_ARG_COUNT(tls_state, 1);
  ENFORCE_ARG_TYPE(tls_state, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  RETURN_RESULT(polysock_tls_state(h));
}

/* Text that polysock writes into a buffer, grown while it says ERANGE;
 * nil (failure recorded) otherwise. */
static b_value text_of(b_vm *vm, polysock_t h, int32_t (*get)(polysock_t, char *, size_t)) {
  for (size_t len = 256; len <= 1 << 20; len *= 4) {
    char *buf = malloc(len);
    if (!buf) break;
    int32_t rc = get(h, buf, len);
    if (rc == 0) {
      b_value v = GC_STRING(buf);
      free(buf);
      return v;
    }
    free(buf);
    if (polysock_errno() != ERANGE) {
      fail();
      return NIL_VAL;
    }
  }
  fail_own(ENOMEM, "tls text");
  return NIL_VAL;
}

static void put(b_vm *vm, b_obj_dict *d, const char *key, b_value v) {
  dict_add_entry(vm, d, GC_STRING(key), v);
}

/* tls_info(fd): {version ('TLSv1.2' or 'TLSv1.3'), cipher, alpn ('' when
 * none), server_name, resumed}, or nil (ENOTCONN before the handshake
 * completed). */
DECLARE_MODULE_METHOD(socket__tls_info) {
  ENFORCE_ARG_COUNT(tls_info, 1);
  ENFORCE_ARG_TYPE(tls_info, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NIL;
  int32_t version = polysock_tls_version(h);
  int32_t resumed = version < 0 ? -1 : polysock_tls_resumed(h);
  if (resumed < 0) {
    fail();
    RETURN_NIL;
  }
  b_value cipher = text_of(vm, h, polysock_tls_cipher);
  b_value alpn = IS_NIL(cipher) ? NIL_VAL : text_of(vm, h, polysock_tls_alpn);
  b_value name = IS_NIL(alpn) ? NIL_VAL : text_of(vm, h, polysock_tls_server_name);
  if (IS_NIL(name)) RETURN_NIL;
  b_obj_dict *d = (b_obj_dict *)GC(new_dict(vm));
  put(vm, d, "version", GC_STRING(version == POLYSOCK_TLS_1_3 ? "TLSv1.3" : "TLSv1.2"));
  put(vm, d, "cipher", cipher);
  put(vm, d, "alpn", alpn);
  put(vm, d, "server_name", name);
  put(vm, d, "resumed", BOOL_VAL(resumed == 1));
  RETURN_OBJ(d);
}

/* The peer certificate's subjectAltName entries as a list of strings
 * (polysock writes them NUL-separated, ending with an empty one). */
static b_value san_list(b_vm *vm, polysock_t h) {
  size_t len = 1 << 16;
  char *buf = malloc(len);
  if (!buf || polysock_tls_peer_san(h, buf, len) != 0) {
    if (buf) fail();
    else fail_own(ENOMEM, "tls_peer_certificate");
    free(buf);
    return NIL_VAL;
  }
  b_obj_list *list = (b_obj_list *)GC(new_list(vm));
  for (char *p = buf; *p; p += strlen(p) + 1) write_list(vm, list, GC_STRING(p));
  free(buf);
  return OBJ_VAL(list);
}

/* tls_peer_certificate(fd): the certificate the peer sent, {subject_name,
 * issuer_name (RFC 4514 text), san (list: 'DNS:a.test', 'IP:127.0.0.1'),
 * not_before, not_after (seconds since 1970), der (bytes), chain_length},
 * or nil: ENOENT when the peer sent none, ENOTCONN before the handshake. */
DECLARE_MODULE_METHOD(socket__tls_peer_certificate) {
  ENFORCE_ARG_COUNT(tls_peer_certificate, 1);
  ENFORCE_ARG_TYPE(tls_peer_certificate, 0, IS_NUMBER);
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NIL;
  int64_t count = polysock_tls_peer_cert_count(h), before, after;
  int64_t size = count < 0 ? -1 : polysock_tls_peer_cert(h, 0, NULL, 0);
  if (size < 0 || polysock_tls_peer_validity(h, &before, &after) != 0) {
    fail();
    RETURN_NIL;
  }
  unsigned char *der = malloc((size_t)size);
  if (!der) {
    fail_own(ENOMEM, "tls_peer_certificate");
    RETURN_NIL;
  }
  if (polysock_tls_peer_cert(h, 0, der, (size_t)size) != size) {
    free(der);
    fail();
    RETURN_NIL;
  }
  b_value der_v = OBJ_VAL(GC(copy_bytes(vm, der, (int)size)));
  free(der);
  b_value subject = text_of(vm, h, polysock_tls_peer_subject);
  b_value issuer = IS_NIL(subject) ? NIL_VAL : text_of(vm, h, polysock_tls_peer_issuer);
  b_value san = IS_NIL(issuer) ? NIL_VAL : san_list(vm, h);
  if (IS_NIL(san)) RETURN_NIL;
  b_obj_dict *d = (b_obj_dict *)GC(new_dict(vm));
  put(vm, d, "subject_name", subject);
  put(vm, d, "issuer_name", issuer);
  put(vm, d, "san", san);
  put(vm, d, "not_before", NUMBER_VAL((double)before));
  put(vm, d, "not_after", NUMBER_VAL((double)after));
  put(vm, d, "der", der_v);
  put(vm, d, "chain_length", NUMBER_VAL((double)count));
  RETURN_OBJ(d);
}

/* ------------------------------------------------------------------ */
/* Data with a wait of the caller's choosing (TLSSocket's rules).      */

/* recv_within(fd, length, wait_ms[, exact]): a string of what arrived
 * after waiting up to wait_ms (-1: no limit) for what the socket needs
 * (a TLS session's wants): up to length bytes (-1: all that is waiting),
 * or, exact, until length bytes came, each dry spell waiting up to
 * wait_ms. '' when nothing came in time, nil at the end of the stream
 * (close_notify on TLS), -1 on an error before any data. Any stream
 * socket, TLS or not. */
DECLARE_MODULE_METHOD(socket__recv_within) {
  ENFORCE_ARG_RANGE(recv_within, 3, 4);
  ENFORCE_ARG_TYPE(recv_within, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(recv_within, 1, IS_NUMBER);
  ENFORCE_ARG_TYPE(recv_within, 2, IS_NUMBER);
  if (arg_count > 3) ENFORCE_ARG_TYPE(recv_within, 3, IS_BOOL);
  int exact = arg_count > 3 && AS_BOOL(args[3]);
  int64_t want = to_i64(args[1]), wait = to_i64(args[2]);
  if (wait < -1) RETURN_NUMBER(fail_own(EINVAL, "recv_within: wait %lld ms", (long long)wait));
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  if (want == 0) RETURN_VALUE(received(vm, "", 0, 0));
  rbuf b;
  int eof = 0;
  if (!exact || want < 0) {
    int64_t n = recv_available(h, want < 0 ? -1 : want, 0, wait, &b);
    if (n < 0) {
      rbuf_free(&b);
      if (n == TIMED_OUT) RETURN_VALUE(received(vm, "", 0, 0));
      RETURN_NUMBER(-1);
    }
    eof = n == 0;
  } else {
    size_t len = want > INT32_MAX - 1 ? INT32_MAX - 1 : (size_t)want;
    rbuf_init(&b, len);
    if (b.cap < len) RETURN_NUMBER(fail_own(ENOMEM, "recv_within of %lld bytes", (long long)want));
    while (b.len < len) {
      int64_t n = polysock_recv(h, b.p + b.len, len - b.len, MSG_DONTWAIT);
      if (n > 0) {
        b.len += (size_t)n;
        continue;
      }
      if (n == 0) {
        eof = 1;
        break;
      }
      int failed = polysock_errno() != EAGAIN ? fail()
                   : wait_for(h, ready_events(h, POLYSOCK_POLLIN), wait, "recv") < 0 ? -1 : 0;
      if (!failed) continue;
      /* What came is the result; an error is reported when nothing did. */
      if (b.len == 0 && last_code() != ETIMEDOUT) {
        rbuf_free(&b);
        RETURN_NUMBER(-1);
      }
      break;
    }
  }
  if (b.len == 0 && eof) {
    rbuf_free(&b);
    RETURN_NIL;
  }
  b_value v = received(vm, b.p, b.len, 0);
  rbuf_free(&b);
  RETURN_VALUE(v);
}

/* send_within(fd, data, wait_ms): sends all of data (string, bytes or
 * any value's to_string) in the socket's mode, each stall waiting up to
 * wait_ms (-1: no limit, 0: EAGAIN at once) for what the socket needs.
 * The bytes sent, or -1. */
DECLARE_MODULE_METHOD(socket__send_within) {
  ENFORCE_ARG_COUNT(send_within, 3);
  ENFORCE_ARG_TYPE(send_within, 0, IS_NUMBER);
  ENFORCE_ARG_TYPE(send_within, 2, IS_NUMBER);
  int64_t wait = to_i64(args[2]);
  if (wait < -1) RETURN_NUMBER(fail_own(EINVAL, "send_within: wait %lld ms", (long long)wait));
  polysock_t h = handle_of(args[0]);
  if (h < 0) RETURN_NUMBER(-1);
  const char *p;
  size_t n;
  data_of(vm, args[1], &p, &n);
  RETURN_RESULT(send_all(h, p, n, NULL, 0, wait));
}
