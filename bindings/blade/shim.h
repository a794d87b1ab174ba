/* What the module's two files share: polysock_blade.c (the built-in
 * module's surface and what polysock adds) and tls.c (the TLS natives
 * the Blade package ssl/ is written on). Everything here has hidden
 * visibility (the Makefile's -fvisibility=hidden): only the loader is
 * exported. */
#ifndef POLYSOCK_BLADE_SHIM_H
#define POLYSOCK_BLADE_SHIM_H

#include <blade.h>
#include <polysock.h>

#include <stddef.h>
#include <stdint.h>

/* The last failure, per thread (polysock_blade.c). Each returns -1. */
int fail(void);
int fail_own(int code, const char *fmt, ...);
const char *last_message(void);
int last_code(void);
int would_block(int code);

/* Value conversion. */
int32_t to_i32(b_value v);
int64_t to_i64(b_value v);
polysock_t handle_of(b_value fd);
void data_of(b_vm *vm, b_value v, const char **p, size_t *n);
b_value received(b_vm *vm, const char *p, size_t n, int as_bytes);

/* A growable receive buffer: a per-thread scratch area, then the heap. */
#define SCRATCH 65536
/* A receive of "all that is waiting" returns up to this much per call. */
#define DRAIN_MAX (4 * 1024 * 1024)
typedef struct {
  char *p;
  size_t len, cap;
} rbuf;
void rbuf_init(rbuf *b, size_t want);
int rbuf_reserve(rbuf *b, size_t more);
void rbuf_free(rbuf *b);

/* Waiting. */
int wait_for(polysock_t h, int32_t events, int64_t ms, const char *op);
int32_t ready_events(polysock_t h, int32_t plain);

/* A `wait` of send_all/recv_available: Blade's own rule for the call. */
#define WAIT_BLADE (-2)
/* recv_available: the wait ran out before any byte came. */
#define TIMED_OUT (-2)
int64_t send_all(polysock_t h, const char *p, size_t n, const char *path, int32_t flags, int64_t wait);
int64_t recv_available(polysock_t h, int64_t want, int32_t flags, int64_t wait, rbuf *b);

/* tls.c: the TLS natives and their constant fields, for the loader. */
#define TLS_FUNCTIONS(X)                                                                      \
  X(tls_config_new) X(tls_config_free) X(tls_config_system_roots) X(tls_config_add_ca_file)   \
  X(tls_config_add_ca_pem) X(tls_config_cert_file) X(tls_config_cert_pem)                     \
  X(tls_config_add_alpn) X(tls_config_versions) X(tls_config_sni) X(tls_config_client_auth)   \
  X(tls_config_skip_verify) X(tls_config_skip_hostname_check) X(tls_wrap) X(tls_wrap_server)  \
  X(tls_handshake) X(tls_wants) X(tls_state) X(tls_info) X(tls_peer_certificate)              \
  X(recv_within) X(send_within)
#define TLS_DECLARE(name) DECLARE_MODULE_METHOD(socket__##name);
TLS_FUNCTIONS(TLS_DECLARE)

#define TLS_FIELDS(X)                                                                         \
  X(TLS_CLIENT) X(TLS_SERVER) X(TLS_1_2) X(TLS_1_3) X(TLS_CLIENT_AUTH_NONE)                   \
  X(TLS_CLIENT_AUTH_OPTIONAL) X(TLS_CLIENT_AUTH_REQUIRED) X(TLS_STATE_NONE)                   \
  X(TLS_STATE_HANDSHAKE) X(TLS_STATE_OPEN) X(TLS_STATE_CLOSED) X(TLS_STATE_FAILED)

#endif
