// polysock for MicroPython: a user C module (USER_C_MODULES) offering
// Zerynth's socket API on polysock's C ABI. Thin: it converts MicroPython
// values to the ABI and back and raises OSError (IOError) / TimeoutError
// from polysock_errno() and polysock_last_error(); no socket logic here.

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "py/runtime.h"
#include "py/objarray.h"
#include "py/objexcept.h"
#include "py/mperrno.h"
#include "py/mpthread.h"
#include "py/stream.h"

#include "polysock.h"

// The guard around every polysock call: where MicroPython raises
// KeyboardInterrupt straight from its SIGINT handler (MICROPY_ASYNC_KBD_INTR:
// the unix port), SIGINT is held off for the thread so that the handler's
// longjmp never crosses polysock's Rust frames; a Ctrl-C during the call is
// delivered as soon as it returns.
#if MICROPY_ASYNC_KBD_INTR
#include <pthread.h>
#include <signal.h>
typedef sigset_t ps_held_t;
static inline void ps_mask(ps_held_t *old) {
    sigset_t intr;
    sigemptyset(&intr);
    sigaddset(&intr, SIGINT);
    pthread_sigmask(SIG_BLOCK, &intr, old);
}
static inline void ps_unmask(const ps_held_t *old) {
    pthread_sigmask(SIG_SETMASK, old, NULL);
}
#else
typedef int ps_held_t;
static inline void ps_mask(ps_held_t *old) {
    (void)old;
}
static inline void ps_unmask(const ps_held_t *old) {
    (void)old;
}
#endif

// Around a call that may block: the guard, and the GIL released.
static inline void ps_hold(ps_held_t *old) {
    ps_mask(old);
    MP_THREAD_GIL_EXIT();
}
static inline void ps_release(const ps_held_t *old) {
    MP_THREAD_GIL_ENTER();
    ps_unmask(old);
}

// PS(call): a quick polysock call under the guard alone (the GIL kept: it
// also runs from the collector, closing a lost socket). Its arguments must
// be plain C values computed beforehand (nothing that can raise).
#define PS(call) __extension__({ \
        ps_held_t ps_held_; \
        ps_mask(&ps_held_); \
        __typeof__(call) ps_r_ = (call); \
        ps_unmask(&ps_held_); \
        ps_r_; \
    })

// A timeout is its own OSError subclass, as Zerynth raises it; MicroPython
// has no built-in TimeoutError.
MP_DEFINE_EXCEPTION(TimeoutError, OSError)

// The last failure of this thread as OSError(code, "detailed message"), or
// TimeoutError for ETIMEDOUT. Read inside the same native call.
static MP_NORETURN void ps_raise(void) {
    int32_t code = PS(polysock_errno());
    const char *msg = PS(polysock_last_error());
    if (msg == NULL || msg[0] == '\0') {
        msg = PS(polysock_strerror(code));
    }
    mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(code), mp_obj_new_str(msg, strlen(msg)) };
    mp_obj_t exc = mp_obj_new_exception_args(code == ETIMEDOUT ? &mp_type_TimeoutError : &mp_type_OSError, 2, args);
    // A KeyboardInterrupt scheduled during the call (ports that do not raise
    // it from their SIGINT handler: those with a GIL) comes first: raised
    // only after this error, it would escape the script's `except` for it.
    mp_handle_pending(true);
    nlr_raise(exc);
}

typedef struct {
    mp_obj_base_t base;
    polysock_t h;
    int32_t family;
} ps_socket_t;

static const mp_obj_type_t ps_socket_type;

static ps_socket_t *ps_new(polysock_t h, int32_t family) {
    ps_socket_t *s = mp_obj_malloc_with_finaliser(ps_socket_t, &ps_socket_type);
    s->h = h;
    s->family = family;
    return s;
}

static ps_socket_t *ps_self(mp_obj_t o) {
    return MP_OBJ_TO_PTR(o);
}

// The C string of str `o`; a str holding a NUL is refused (ValueError),
// never cut short into another name.
static const char *ps_cstr(mp_obj_t o) {
    size_t len;
    const char *p = mp_obj_str_get_data(o, &len);
    if (memchr(p, 0, len) != NULL) {
        mp_raise_ValueError(MP_ERROR_TEXT("embedded NUL character"));
    }
    return p;
}

// ---- addresses: (host, port) for AF_INET, (host, port[, flowinfo,
// scope_id]) for AF_INET6 (host may carry %scope), a path string for
// AF_UNIX ("@name" for an abstract name).

static mp_obj_t ps_addr_to_obj(const polysock_addr *a) {
    mp_obj_t host = mp_obj_new_str(a->host, strlen(a->host));
    if (a->family == AF_UNIX || a->family == 0) {
        return host;
    }
    if (a->family == AF_INET6) {
        mp_obj_t t[4] = { host, MP_OBJ_NEW_SMALL_INT(a->port), mp_obj_new_int_from_uint(a->flowinfo),
                          mp_obj_new_int_from_uint(a->scope_id) };
        return mp_obj_new_tuple(4, t);
    }
    mp_obj_t t[2] = { host, MP_OBJ_NEW_SMALL_INT(a->port) };
    return mp_obj_new_tuple(2, t);
}

// The host text and port of `addr`. AF_UNIX takes a str path (port 0);
// IP families take a tuple whose host is a str without NUL and whose port
// is an int (range checked by polysock: EINVAL).
static const char *ps_addr_from_obj(int32_t family, mp_obj_t addr, mp_int_t *port) {
    if (family == AF_UNIX) {
        if (!mp_obj_is_str(addr)) {
            mp_raise_TypeError(MP_ERROR_TEXT("AF_UNIX address must be a str path"));
        }
        *port = 0;
        return ps_cstr(addr);
    }
    size_t n;
    mp_obj_t *items;
    if (!mp_obj_is_type(addr, &mp_type_tuple)) {
        mp_raise_TypeError(MP_ERROR_TEXT("address must be a tuple (host, port)"));
    }
    mp_obj_tuple_get(addr, &n, &items);
    if (n < 2 || n > (family == AF_INET6 ? 4 : 2)) {
        mp_raise_TypeError(family == AF_INET6 ? MP_ERROR_TEXT("AF_INET6 address must be (host, port[, flowinfo, scope_id])")
                                              : MP_ERROR_TEXT("address must be a tuple (host, port)"));
    }
    if (!mp_obj_is_str(items[0])) {
        mp_raise_TypeError(MP_ERROR_TEXT("host must be a str"));
    }
    if (!mp_obj_is_int(items[1])) {
        mp_raise_TypeError(MP_ERROR_TEXT("port must be an int"));
    }
    *port = mp_obj_get_int(items[1]);
    if (*port < 0 || *port > 65535) {
        mp_raise_msg(&mp_type_OverflowError, MP_ERROR_TEXT("port must be 0-65535"));
    }
    return ps_cstr(items[0]);
}

// ---- the socket class

// socket(family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, fileno=None).
// proto left out means the type's own protocol (TCP for SOCK_STREAM over
// IP), so socket(type=SOCK_DGRAM) and AF_UNIX sockets work as on Zerynth.
static mp_obj_t ps_socket_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    enum { ARG_family, ARG_type, ARG_proto, ARG_fileno };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_family, MP_ARG_INT, {.u_int = AF_INET} },
        { MP_QSTR_type, MP_ARG_INT, {.u_int = SOCK_STREAM} },
        { MP_QSTR_proto, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_fileno, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t v[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, args, MP_ARRAY_SIZE(allowed), allowed, v);
    polysock_t h;
    if (v[ARG_fileno].u_obj != mp_const_none) {
        // Takes the fd over, as CPython's socket(fileno=fd): family and
        // type come from the kernel.
        mp_int_t fd = mp_obj_get_int(v[ARG_fileno].u_obj);
        h = PS(polysock_adopt_fd(fd));
        if (h < 0) {
            ps_raise();
        }
        polysock_socket_info info;
        if (PS(polysock_info(h, &info)) != 0) {
            ps_raise();
        }
        return MP_OBJ_FROM_PTR(ps_new(h, info.family));
    }
    mp_int_t proto = v[ARG_proto].u_obj == mp_const_none ? 0 : mp_obj_get_int(v[ARG_proto].u_obj);
    h = PS(polysock_socket(v[ARG_family].u_int, v[ARG_type].u_int, proto));
    if (h < 0) {
        ps_raise();
    }
    return MP_OBJ_FROM_PTR(ps_new(h, v[ARG_family].u_int));
}

static void ps_socket_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    ps_socket_t *s = ps_self(self_in);
    mp_printf(print, "<socket fileno=%d>", (int)PS(polysock_fileno(s->h)));
}

static mp_obj_t ps_fileno(mp_obj_t self_in) {
    int32_t fd = PS(polysock_fileno(ps_self(self_in)->h));
    if (fd < 0) {
        ps_raise();
    }
    return MP_OBJ_NEW_SMALL_INT(fd);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_fileno_obj, ps_fileno);

static mp_obj_t ps_connect(mp_obj_t self_in, mp_obj_t addr) {
    ps_socket_t *s = ps_self(self_in);
    mp_int_t port;
    const char *host = ps_addr_from_obj(s->family, addr, &port);
    ps_held_t held;
    ps_hold(&held);
    int32_t r = polysock_connect(s->h, host, port);
    ps_release(&held);
    if (r != 0) {
        ps_raise();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ps_connect_obj, ps_connect);

static mp_obj_t ps_bind(mp_obj_t self_in, mp_obj_t addr) {
    ps_socket_t *s = ps_self(self_in);
    mp_int_t port;
    const char *host = ps_addr_from_obj(s->family, addr, &port);
    if (PS(polysock_bind(s->h, host, port)) != 0) {
        ps_raise();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ps_bind_obj, ps_bind);

static mp_obj_t ps_listen(size_t n_args, const mp_obj_t *args) {
    mp_int_t backlog = n_args > 1 ? mp_obj_get_int(args[1]) : 128;
    if (PS(polysock_listen(ps_self(args[0])->h, backlog)) != 0) {
        ps_raise();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_listen_obj, 1, 2, ps_listen);

// accept() -> (socket, address)
static mp_obj_t ps_accept(mp_obj_t self_in) {
    ps_socket_t *s = ps_self(self_in);
    polysock_addr peer;
    ps_held_t held;
    ps_hold(&held);
    polysock_t c = polysock_accept(s->h, &peer);
    ps_release(&held);
    if (c < 0) {
        ps_raise();
    }
    // (A Ctrl-C delivered right here leaves the accepted connection open,
    // unowned: MicroPython objects cannot be made with the guard held.)
    mp_obj_t t[2] = { MP_OBJ_FROM_PTR(ps_new(c, s->family)), ps_addr_to_obj(&peer) };
    return mp_obj_new_tuple(2, t);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_accept_obj, ps_accept);

static mp_obj_t ps_close(mp_obj_t self_in) {
    // Closing twice is harmless (polysock gives EBADF, ignored here).
    PS(polysock_close(ps_self(self_in)->h));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_close_obj, ps_close);

static mp_obj_t ps_exit(size_t n_args, const mp_obj_t *args) {
    return ps_close(args[0]);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_exit_obj, 4, 4, ps_exit);

static mp_int_t ps_flags(size_t n_args, const mp_obj_t *args, size_t at) {
    return n_args > at ? mp_obj_get_int(args[at]) : 0;
}

// A new bytearray of n bytes to receive into; ps_shrink cuts it to what came.
static mp_obj_array_t *ps_bytearray(mp_int_t n) {
    if (n <= 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("bufsize must be positive"));
    }
    return MP_OBJ_TO_PTR(mp_obj_new_bytearray_by_ref(n, m_new(byte, n)));
}

static mp_obj_t ps_shrink(mp_obj_array_t *a, size_t len) {
    a->free += a->len - len;
    a->len = len;
    return MP_OBJ_FROM_PTR(a);
}

// recv_exact into buf: the bytes stored (short only at end of stream), or
// raises (TimeoutError on ETIMEDOUT).
static size_t ps_recv_exact(ps_socket_t *s, void *buf, size_t len, mp_int_t flags) {
    size_t got = 0;
    ps_held_t held;
    ps_hold(&held);
    int64_t r = polysock_recv_exact(s->h, buf, len, flags, &got);
    ps_release(&held);
    if (r < 0 && PS(polysock_errno()) != POLYSOCK_EEOF) {
        ps_raise();
    }
    return got;
}

// recv(bufsize, flags=0): a bytearray of exactly bufsize bytes, shorter
// only when the stream ended first (empty at end of stream).
static mp_obj_t ps_recv(size_t n_args, const mp_obj_t *args) {
    ps_socket_t *s = ps_self(args[0]);
    mp_obj_array_t *out = ps_bytearray(mp_obj_get_int(args[1]));
    return ps_shrink(out, ps_recv_exact(s, out->items, out->len, ps_flags(n_args, args, 2)));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_recv_obj, 2, 3, ps_recv);

// recv_into(buffer, bufsize=-1, flags=0): fills bufsize bytes (-1: all of
// buffer), the count returned.
static mp_obj_t ps_recv_into(size_t n_args, const mp_obj_t *args) {
    ps_socket_t *s = ps_self(args[0]);
    mp_buffer_info_t b;
    mp_get_buffer_raise(args[1], &b, MP_BUFFER_WRITE);
    mp_int_t n = n_args > 2 ? mp_obj_get_int(args[2]) : -1;
    if (n == -1) {
        n = b.len;
    }
    if (n < 0 || (size_t)n > b.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("bufsize must be -1 or 0 to len(buffer)"));
    }
    if (n == 0) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    return MP_OBJ_NEW_SMALL_INT(ps_recv_exact(s, b.buf, n, ps_flags(n_args, args, 3)));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_recv_into_obj, 2, 4, ps_recv_into);

// recvfrom(bufsize, flags=0) -> (bytearray, address): one datagram, cut to
// bufsize.
static mp_obj_t ps_recvfrom(size_t n_args, const mp_obj_t *args) {
    ps_socket_t *s = ps_self(args[0]);
    mp_obj_array_t *out = ps_bytearray(mp_obj_get_int(args[1]));
    mp_int_t flags = ps_flags(n_args, args, 2);
    polysock_addr from;
    ps_held_t held;
    ps_hold(&held);
    int64_t r = polysock_recvfrom(s->h, out->items, out->len, flags, &from);
    ps_release(&held);
    if (r < 0) {
        ps_raise();
    }
    mp_obj_t t[2] = { ps_shrink(out, r), ps_addr_to_obj(&from) };
    return mp_obj_new_tuple(2, t);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_recvfrom_obj, 2, 3, ps_recvfrom);

// send(buffer, flags=0) -> bytes sent, or with `all` sendall(buffer,
// flags=0) -> None. buffer: str or any bytes-like.
static mp_obj_t ps_send_or_all(size_t n_args, const mp_obj_t *args, bool all) {
    ps_socket_t *s = ps_self(args[0]);
    mp_buffer_info_t b;
    mp_get_buffer_raise(args[1], &b, MP_BUFFER_READ);
    mp_int_t flags = ps_flags(n_args, args, 2);
    ps_held_t held;
    ps_hold(&held);
    int64_t r = all ? polysock_sendall(s->h, b.buf, b.len, flags, NULL) : polysock_send(s->h, b.buf, b.len, flags);
    ps_release(&held);
    if (r < 0) {
        ps_raise();
    }
    return all ? mp_const_none : mp_obj_new_int_from_ll(r);
}

static mp_obj_t ps_send(size_t n_args, const mp_obj_t *args) {
    return ps_send_or_all(n_args, args, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_send_obj, 2, 3, ps_send);

static mp_obj_t ps_sendall(size_t n_args, const mp_obj_t *args) {
    return ps_send_or_all(n_args, args, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_sendall_obj, 2, 3, ps_sendall);

// sendto(buffer, address, flags=0) -> bytes sent
static mp_obj_t ps_sendto(size_t n_args, const mp_obj_t *args) {
    ps_socket_t *s = ps_self(args[0]);
    mp_buffer_info_t b;
    mp_get_buffer_raise(args[1], &b, MP_BUFFER_READ);
    mp_int_t port;
    const char *host = ps_addr_from_obj(s->family, args[2], &port);
    mp_int_t flags = ps_flags(n_args, args, 3);
    ps_held_t held;
    ps_hold(&held);
    int64_t r = polysock_sendto(s->h, b.buf, b.len, flags, host, port);
    ps_release(&held);
    if (r < 0) {
        ps_raise();
    }
    return mp_obj_new_int_from_ll(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_sendto_obj, 3, 4, ps_sendto);

// settimeout(timeout): milliseconds as a nonnegative int (0: non-blocking),
// or None (blocking).
static mp_obj_t ps_settimeout(mp_obj_t self_in, mp_obj_t t) {
    int64_t ms = -1;
    if (t != mp_const_none) {
        if (!mp_obj_is_int(t)) {
            mp_raise_TypeError(MP_ERROR_TEXT("timeout must be an int (milliseconds) or None"));
        }
        ms = mp_obj_get_int(t);
        if (ms < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("timeout must be nonnegative"));
        }
    }
    if (PS(polysock_settimeout(ps_self(self_in)->h, ms)) != 0) {
        ps_raise();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ps_settimeout_obj, ps_settimeout);

// gettimeout() -> milliseconds, or None when blocking
static mp_obj_t ps_gettimeout(mp_obj_t self_in) {
    int64_t ms;
    if (PS(polysock_gettimeout(ps_self(self_in)->h, &ms)) != 0) {
        ps_raise();
    }
    return ms < 0 ? mp_const_none : mp_obj_new_int_from_ll(ms);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_gettimeout_obj, ps_gettimeout);

static mp_obj_t ps_setblocking(mp_obj_t self_in, mp_obj_t flag) {
    int32_t blocking = mp_obj_is_true(flag);
    if (PS(polysock_setblocking(ps_self(self_in)->h, blocking)) != 0) {
        ps_raise();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ps_setblocking_obj, ps_setblocking);

static mp_obj_t ps_shutdown(mp_obj_t self_in, mp_obj_t how) {
    mp_int_t h = mp_obj_get_int(how);
    if (PS(polysock_shutdown(ps_self(self_in)->h, h)) != 0) {
        ps_raise();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ps_shutdown_obj, ps_shutdown);

static mp_obj_t ps_name(mp_obj_t self_in, int32_t (*get)(polysock_t, polysock_addr *)) {
    polysock_addr a;
    if (PS(get(ps_self(self_in)->h, &a)) != 0) {
        ps_raise();
    }
    return ps_addr_to_obj(&a);
}
static mp_obj_t ps_getsockname(mp_obj_t self_in) {
    return ps_name(self_in, polysock_getsockname);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_getsockname_obj, ps_getsockname);
static mp_obj_t ps_getpeername(mp_obj_t self_in) {
    return ps_name(self_in, polysock_getpeername);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_getpeername_obj, ps_getpeername);

// setsockopt(level, option, value): value an int or a bytes-like
static mp_obj_t ps_setsockopt(size_t n_args, const mp_obj_t *args) {
    polysock_t h = ps_self(args[0])->h;
    mp_int_t level = mp_obj_get_int(args[1]), opt = mp_obj_get_int(args[2]);
    int32_t r;
    if (mp_obj_is_int(args[3]) || mp_obj_is_bool(args[3])) {
        mp_int_t value = mp_obj_get_int(args[3]);
        r = PS(polysock_setsockopt_int(h, level, opt, value));
    } else {
        mp_buffer_info_t b;
        mp_get_buffer_raise(args[3], &b, MP_BUFFER_READ);
        r = PS(polysock_setsockopt_bytes(h, level, opt, b.buf, b.len));
    }
    if (r != 0) {
        ps_raise();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_setsockopt_obj, 4, 4, ps_setsockopt);

// getsockopt(level, option) -> int
static mp_obj_t ps_getsockopt(mp_obj_t self_in, mp_obj_t level, mp_obj_t opt) {
    int32_t v;
    mp_int_t lv = mp_obj_get_int(level), op = mp_obj_get_int(opt);
    if (PS(polysock_getsockopt_int(ps_self(self_in)->h, lv, op, &v)) != 0) {
        ps_raise();
    }
    return mp_obj_new_int(v);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ps_getsockopt_obj, ps_getsockopt);

static const mp_rom_map_elem_t ps_socket_locals[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&ps_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&mp_identity_obj) },
    { MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&ps_exit_obj) },
    { MP_ROM_QSTR(MP_QSTR_fileno), MP_ROM_PTR(&ps_fileno_obj) },
    { MP_ROM_QSTR(MP_QSTR_connect), MP_ROM_PTR(&ps_connect_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&ps_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_recv), MP_ROM_PTR(&ps_recv_obj) },
    { MP_ROM_QSTR(MP_QSTR_recv_into), MP_ROM_PTR(&ps_recv_into_obj) },
    { MP_ROM_QSTR(MP_QSTR_recvfrom), MP_ROM_PTR(&ps_recvfrom_obj) },
    { MP_ROM_QSTR(MP_QSTR_send), MP_ROM_PTR(&ps_send_obj) },
    { MP_ROM_QSTR(MP_QSTR_sendall), MP_ROM_PTR(&ps_sendall_obj) },
    { MP_ROM_QSTR(MP_QSTR_sendto), MP_ROM_PTR(&ps_sendto_obj) },
    { MP_ROM_QSTR(MP_QSTR_settimeout), MP_ROM_PTR(&ps_settimeout_obj) },
    // What polysock adds.
    { MP_ROM_QSTR(MP_QSTR_bind), MP_ROM_PTR(&ps_bind_obj) },
    { MP_ROM_QSTR(MP_QSTR_listen), MP_ROM_PTR(&ps_listen_obj) },
    { MP_ROM_QSTR(MP_QSTR_accept), MP_ROM_PTR(&ps_accept_obj) },
    { MP_ROM_QSTR(MP_QSTR_gettimeout), MP_ROM_PTR(&ps_gettimeout_obj) },
    { MP_ROM_QSTR(MP_QSTR_setblocking), MP_ROM_PTR(&ps_setblocking_obj) },
    { MP_ROM_QSTR(MP_QSTR_shutdown), MP_ROM_PTR(&ps_shutdown_obj) },
    { MP_ROM_QSTR(MP_QSTR_getsockname), MP_ROM_PTR(&ps_getsockname_obj) },
    { MP_ROM_QSTR(MP_QSTR_getpeername), MP_ROM_PTR(&ps_getpeername_obj) },
    { MP_ROM_QSTR(MP_QSTR_setsockopt), MP_ROM_PTR(&ps_setsockopt_obj) },
    { MP_ROM_QSTR(MP_QSTR_getsockopt), MP_ROM_PTR(&ps_getsockopt_obj) },
};
static MP_DEFINE_CONST_DICT(ps_socket_locals_dict, ps_socket_locals);

static MP_DEFINE_CONST_OBJ_TYPE(
    ps_socket_type, MP_QSTR_socket, MP_TYPE_FLAG_NONE,
    make_new, ps_socket_make_new,
    print, ps_socket_print,
    locals_dict, &ps_socket_locals_dict);

// ---- module functions

// getaddrinfo(host, port, family=0, type=0, proto=0, flags=0) ->
// [(family, type, proto, canonname, address), ...]. host and port may be
// None; port an int or a service name.
static mp_obj_t ps_getaddrinfo(size_t n_args, const mp_obj_t *args) {
    const char *host = args[0] == mp_const_none ? NULL : ps_cstr(args[0]);
    char portbuf[24];
    const char *service = NULL;
    if (mp_obj_is_int(args[1])) {
        snprintf(portbuf, sizeof portbuf, "%ld", (long)mp_obj_get_int(args[1]));
        service = portbuf;
    } else if (args[1] != mp_const_none) {
        service = ps_cstr(args[1]);
    }
    mp_int_t v[4] = { 0, 0, 0, 0 };
    for (size_t i = 2; i < n_args; i++) {
        v[i - 2] = mp_obj_get_int(args[i]);
    }
    polysock_addrinfo res[16];
    size_t count = 0;
    ps_held_t held;
    ps_hold(&held);
    int64_t r = polysock_getaddrinfo(host, service, v[0], v[1], v[2], v[3], res, MP_ARRAY_SIZE(res), &count);
    ps_release(&held);
    if (r < 0) {
        ps_raise();
    }
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < count; i++) {
        mp_obj_t t[5] = { MP_OBJ_NEW_SMALL_INT(res[i].family), MP_OBJ_NEW_SMALL_INT(res[i].socktype),
                          MP_OBJ_NEW_SMALL_INT(res[i].protocol), mp_obj_new_str(res[i].canonname, strlen(res[i].canonname)),
                          ps_addr_to_obj(&res[i].addr) };
        mp_obj_list_append(list, mp_obj_new_tuple(5, t));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_getaddrinfo_obj, 2, 6, ps_getaddrinfo);

// gethostbyname(name) -> the first IPv4 address, as text
static mp_obj_t ps_gethostbyname(mp_obj_t name) {
    if (!mp_obj_is_str(name)) {
        mp_raise_TypeError(MP_ERROR_TEXT("name must be a str"));
    }
    const char *n = ps_cstr(name);
    char out[64];
    ps_held_t held;
    ps_hold(&held);
    int32_t r = polysock_gethostbyname(n, out, sizeof out);
    ps_release(&held);
    if (r != 0) {
        ps_raise();
    }
    return mp_obj_new_str(out, strlen(out));
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_gethostbyname_obj, ps_gethostbyname);

// poll([(socket, events), ...], timeout=-1) -> [(socket, revents), ...] for
// the ready ones; timeout in milliseconds (-1: forever).
static mp_obj_t ps_poll(size_t n_args, const mp_obj_t *args) {
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(args[0], &n, &items);
    int64_t timeout = n_args > 1 && args[1] != mp_const_none ? mp_obj_get_int(args[1]) : -1;
    polysock_pollfd *fds = m_new(polysock_pollfd, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        size_t m;
        mp_obj_t *pair;
        mp_obj_get_array(items[i], &m, &pair);
        if (m != 2 || !mp_obj_is_type(pair[0], &ps_socket_type)) {
            mp_raise_TypeError(MP_ERROR_TEXT("poll entries must be (socket, events)"));
        }
        fds[i].handle = ps_self(pair[0])->h;
        fds[i].events = mp_obj_get_int(pair[1]);
        fds[i].revents = 0;
    }
    ps_held_t held;
    ps_hold(&held);
    int64_t r = polysock_poll(fds, n, timeout);
    ps_release(&held);
    if (r < 0) {
        ps_raise();
    }
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < n; i++) {
        if (fds[i].revents != 0) {
            size_t m;
            mp_obj_t *entry;
            mp_obj_get_array(items[i], &m, &entry);
            mp_obj_t pair[2] = { entry[0], MP_OBJ_NEW_SMALL_INT(fds[i].revents) };
            mp_obj_list_append(list, mp_obj_new_tuple(2, pair));
        }
    }
    m_del(polysock_pollfd, fds, n ? n : 1);
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ps_poll_obj, 1, 2, ps_poll);

// constants() -> {name: value} of every constant the platform has (AF_*,
// SOCK_*, SO_*, IPPROTO_*, MSG_*, E*, ...), from polysock's table.
static mp_obj_t ps_constants(void) {
    int64_t n = PS(polysock_constant_count());
    mp_obj_t d = mp_obj_new_dict(n);
    for (int64_t i = 0; i < n; i++) {
        const char *name;
        int64_t value;
        if (PS(polysock_constant_at(i, &name, &value)) == 0) {
            mp_obj_dict_store(d, mp_obj_new_str(name, strlen(name)), mp_obj_new_int_from_ll(value));
        }
    }
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_POLLIN), MP_OBJ_NEW_SMALL_INT(POLYSOCK_POLLIN));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_POLLPRI), MP_OBJ_NEW_SMALL_INT(POLYSOCK_POLLPRI));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_POLLOUT), MP_OBJ_NEW_SMALL_INT(POLYSOCK_POLLOUT));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_POLLERR), MP_OBJ_NEW_SMALL_INT(POLYSOCK_POLLERR));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_POLLHUP), MP_OBJ_NEW_SMALL_INT(POLYSOCK_POLLHUP));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_POLLNVAL), MP_OBJ_NEW_SMALL_INT(POLYSOCK_POLLNVAL));
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_0(ps_constants_obj, ps_constants);

// Module attributes not in the table below: a constant of polysock's table
// (socket.AF_INET6, socket.SO_REUSEADDR, ...) or AttributeError.
static mp_obj_t ps_module_getattr(mp_obj_t attr) {
    const char *name = qstr_str(mp_obj_str_get_qstr(attr));
    int64_t value;
    if (PS(polysock_constant_lookup(name, &value)) == 0) {
        return mp_obj_new_int_from_ll(value);
    }
    return MP_OBJ_NULL;
}
static MP_DEFINE_CONST_FUN_OBJ_1(ps_module_getattr_obj, ps_module_getattr);

static mp_obj_t ps_version(void) {
    const char *v = PS(polysock_version());
    return mp_obj_new_str(v, strlen(v));
}
static MP_DEFINE_CONST_FUN_OBJ_0(ps_version_obj, ps_version);

static const mp_rom_map_elem_t ps_module_globals[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_polysock) },
    { MP_ROM_QSTR(MP_QSTR___getattr__), MP_ROM_PTR(&ps_module_getattr_obj) },
    { MP_ROM_QSTR(MP_QSTR_socket), MP_ROM_PTR(&ps_socket_type) },
    // Zerynth's names for the errors: IOError is OSError, as in CPython.
    { MP_ROM_QSTR(MP_QSTR_IOError), MP_ROM_PTR(&mp_type_OSError) },
    { MP_ROM_QSTR(MP_QSTR_TimeoutError), MP_ROM_PTR(&mp_type_TimeoutError) },
    { MP_ROM_QSTR(MP_QSTR_getaddrinfo), MP_ROM_PTR(&ps_getaddrinfo_obj) },
    { MP_ROM_QSTR(MP_QSTR_gethostbyname), MP_ROM_PTR(&ps_gethostbyname_obj) },
    { MP_ROM_QSTR(MP_QSTR_poll), MP_ROM_PTR(&ps_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_constants), MP_ROM_PTR(&ps_constants_obj) },
    { MP_ROM_QSTR(MP_QSTR_version), MP_ROM_PTR(&ps_version_obj) },
    // The seed's constants, present in every build (the rest through
    // __getattr__ and constants()).
    { MP_ROM_QSTR(MP_QSTR_AF_INET), MP_ROM_INT(AF_INET) },
    { MP_ROM_QSTR(MP_QSTR_AF_INET6), MP_ROM_INT(AF_INET6) },
    { MP_ROM_QSTR(MP_QSTR_AF_UNIX), MP_ROM_INT(AF_UNIX) },
    { MP_ROM_QSTR(MP_QSTR_SOCK_STREAM), MP_ROM_INT(SOCK_STREAM) },
    { MP_ROM_QSTR(MP_QSTR_SOCK_DGRAM), MP_ROM_INT(SOCK_DGRAM) },
    { MP_ROM_QSTR(MP_QSTR_SOCK_RAW), MP_ROM_INT(SOCK_RAW) },
    { MP_ROM_QSTR(MP_QSTR_IPPROTO_TCP), MP_ROM_INT(IPPROTO_TCP) },
    { MP_ROM_QSTR(MP_QSTR_IPPROTO_UDP), MP_ROM_INT(IPPROTO_UDP) },
};
static MP_DEFINE_CONST_DICT(ps_module_globals_dict, ps_module_globals);

const mp_obj_module_t polysock_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&ps_module_globals_dict,
};

MP_REGISTER_MODULE(MP_QSTR_polysock, polysock_user_cmodule);
