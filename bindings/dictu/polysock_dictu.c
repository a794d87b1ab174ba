/* polysock for Dictu: a Dictu FFI module (FFI.load) that reproduces Dictu's
 * built-in Socket module on top of polysock, then adds what polysock offers
 * (IPv6, Unix sockets, UDP, timeouts, every socket constant, TLS: see
 * polysock_dictu_tls.c, included below).
 *
 * This file only converts Dictu values to polysock's C ABI and back: every
 * socket operation is polysock's, and so is every error message except for
 * the few checks a conversion needs (whole numbers, NUL bytes in strings,
 * bind()'s "an address, not a name"). It is compiled
 * against dictu_ffi_include.h from the user's Dictu checkout (DICTU_SRC, see
 * the Makefile) and linked statically with libpolysock.a; only Dictu's FFI
 * entry points are exported.
 *
 * Conventions, as in Dictu's built-in module (src/optionals/socket.c):
 * - a wrong argument count or type is a runtime error, with the built-in's
 *   message where the built-in has the method;
 * - everything that can fail at run time returns a Result; its error text is
 *   polysock's message with context ("connect 127.0.0.1:4000: Connection
 *   refused"), and Socket.errno is set to the code;
 * - close() returns nil, as the built-in's.
 */

#include <dictu_ffi_include.h> /* defines the VM function pointers: one .c file only */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h> /* inet_pton: only to tell an address literal from a name in bind() */
#include <sys/socket.h> /* SHUT_WR */

#include "polysock.h"

/* A Dictu Socket: an ObjAbstract whose data is this. The handle is
 * polysock's int64 handle, kept as an integer (never a double). */
typedef struct {
    polysock_t handle;
    int32_t family;
    int32_t type;
} SocketData;

/* The FFI instance's table (what socket.du exports as Socket): errno lives
 * there, updated on every failure, like the built-in modules' errno was. */
static Table *moduleTable = NULL;
static int32_t lastCode = 0;
/* Platform values, from polysock's constants table. */
static int64_t afUnix = -1;
static int64_t somaxconn = 128;
static int64_t sockStream = -1;

static void freeSocket(DictuVM *vm, ObjAbstract *abstract);

/* ------------------------------------------------------------------------
 * Errors
 * --------------------------------------------------------------------- */

static void setErrno(DictuVM *vm, int32_t code) {
    lastCode = code;
    if (moduleTable != NULL) {
        defineNativeProperty(vm, moduleTable, "errno", NUMBER_VAL((double)code));
    }
}

/* The Result for polysock's last failure on this thread. */
static Value failed(DictuVM *vm) {
    setErrno(vm, polysock_errno());
    return newResultError(vm, (char *)polysock_last_error());
}

/* A Result error for input the shim rejects before calling polysock, in
 * polysock's message style: "context: description". */
static Value failWith(DictuVM *vm, int32_t code, const char *fmt, ...) {
    char msg[MAX_ERROR_LEN + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
        msg[0] = '\0';
    }
    if ((size_t)n < sizeof msg) {
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", polysock_strerror(code));
    }
    setErrno(vm, code);
    return newResultError(vm, msg);
}

/* A Dictu number as a C int: it must be a whole number in range. */
static bool toInt32(double d, int32_t *out) {
    if (!(d >= (double)INT32_MIN && d <= (double)INT32_MAX) || d != floor(d)) {
        return false;
    }
    *out = (int32_t)d;
    return true;
}

static bool toInt64(double d, int64_t *out) {
    /* 2^53: every integer below is exact in a double. */
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != floor(d)) {
        return false;
    }
    *out = (int64_t)d;
    return true;
}

static Value badNumber(DictuVM *vm, const char *op, const char *what, double d) {
    if (isfinite(d) && d == floor(d)) {
        /* polysock's own wording for the ports it sees. */
        return failWith(vm, EINVAL, "%s: %s %.0f is out of range%s", op, what, d,
                        strcmp(what, "port") == 0 ? " 0..65535" : "");
    }
    return failWith(vm, EINVAL, "%s: %s %g is not a whole number", op, what, d);
}

/* Converts Dictu number `v` to an int32 `var`, or returns a Result error. */
#define INT_ARG(var, v, op, what)                                              \
    int32_t var;                                                               \
    if (!toInt32(AS_NUMBER(v), &var))                                          \
        return badNumber(vm, op, what, AS_NUMBER(v))

/* A Dictu string that crosses as a C string must not hide a NUL. */
#define NO_NUL(s, op, what)                                                    \
    if (memchr((s)->chars, '\0', (size_t)(s)->length) != NULL)                 \
        return failWith(vm, EINVAL, "%s: %s contains a NUL byte", op, what)

/* ------------------------------------------------------------------------
 * Socket objects
 * --------------------------------------------------------------------- */

static SocketData *selfSocket(Value v) {
    if (!IS_ABSTRACT(v) || AS_ABSTRACT(v)->func != freeSocket || AS_ABSTRACT(v)->data == NULL) {
        return NULL;
    }
    return (SocketData *)AS_ABSTRACT(v)->data;
}

/* Every method starts with this: args[0] is the socket itself when called
 * as s.method(...). A method value called on its own (f = s.recv; f(1))
 * passes its first argument there instead; the built-in trusts args[0]. */
#define SELF(name)                                                             \
    SocketData *sock = selfSocket(args[0]);                                    \
    if (sock == NULL) {                                                        \
        runtimeError(vm, name "() must be called on a Socket");                \
        return EMPTY_VAL;                                                      \
    }

/* A socket dropped without close() is closed when the GC collects it.
 * polysock_close is harmless on a handle that is already closed, and a
 * closed handle never reaches a socket that reused its fd number. */
static void freeSocket(DictuVM *vm, ObjAbstract *abstract) {
    SocketData *sock = (SocketData *)abstract->data;
    if (sock != NULL) {
        polysock_close(sock->handle);
        FREE(vm, SocketData, sock);
        abstract->data = NULL;
    }
}

static char *socketToString(ObjAbstract *abstract) {
    UNUSED(abstract);
    char *s = malloc(9);
    if (s != NULL) {
        memcpy(s, "<Socket>", 9);
    }
    return s;
}

static ObjAbstract *newSocket(DictuVM *vm, polysock_t handle, int32_t family, int32_t type);

/* ---- the built-in's methods ---- */

static Value bindSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("bind");
    if (argCount != 2) {
        runtimeError(vm, "bind() takes 2 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[1])) {
        runtimeError(vm, "host passed to bind() must be a string");
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[2])) {
        runtimeError(vm, "port passed to bind() must be a number");
        return EMPTY_VAL;
    }
    ObjString *host = AS_STRING(args[1]);
    NO_NUL(host, "bind", "host");
    INT_ARG(port, args[2], "bind", "port");
    if (sock->family != afUnix && host->length > 0) {
        /* bind() takes an address, never a name: the built-in took IPv4
         * literals only, and a bind must not wait on a DNS query. polysock
         * parses the literal; this only tells literals from names. */
        char text[POLYSOCK_ADDR_HOST_LEN];
        unsigned char scratch[16];
        bool literal = false;
        if ((size_t)host->length < sizeof text) {
            const char *s = host->chars;
            size_t n = (size_t)host->length;
            if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
                s++;
                n -= 2;
            }
            memcpy(text, s, n);
            text[n] = '\0';
            char *scope = strchr(text, '%');
            if (inet_pton(AF_INET, text, scratch) == 1) {
                literal = s == host->chars; /* no brackets around IPv4 */
            } else {
                if (scope != NULL) {
                    *scope = '\0';
                }
                literal = inet_pton(AF_INET6, text, scratch) == 1;
            }
        }
        if (!literal) {
            return failWith(vm, EINVAL,
                            "bind %s: not an IP address (bind takes an IPv4 or IPv6 address, "
                            "or \"\" for any; names are not resolved)",
                            host->chars);
        }
    }
    if (polysock_bind(sock->handle, host->chars, port) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

static Value listenSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("listen");
    if (argCount > 1) {
        runtimeError(vm, "listen() takes 0 or 1 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    int32_t backlog = (int32_t)somaxconn;
    if (argCount == 1) {
        if (!IS_NUMBER(args[1])) {
            runtimeError(vm, "listen() argument must be a number");
            return EMPTY_VAL;
        }
        INT_ARG(b, args[1], "listen", "backlog");
        backlog = b;
    }
    if (polysock_listen(sock->handle, backlog) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

static Value acceptSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("accept");
    if (argCount != 0) {
        runtimeError(vm, "accept() takes no arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    polysock_addr peer;
    polysock_t h = polysock_accept(sock->handle, &peer);
    if (h < 0) {
        return failed(vm);
    }
    ObjList *list = newList(vm);
    push(vm, OBJ_VAL(list));
    ObjAbstract *client = newSocket(vm, h, sock->family, sock->type);
    push(vm, OBJ_VAL(client));
    writeValueArray(vm, &list->values, OBJ_VAL(client));
    pop(vm);
    ObjString *ip = copyString(vm, peer.host, (int)strlen(peer.host));
    push(vm, OBJ_VAL(ip));
    writeValueArray(vm, &list->values, OBJ_VAL(ip));
    pop(vm);
    pop(vm);
    return newResultSuccess(vm, OBJ_VAL(list));
}

static Value writeSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("write");
    if (argCount != 1) {
        runtimeError(vm, "write() takes 1 argument (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[1])) {
        runtimeError(vm, "write() argument must be a string");
        return EMPTY_VAL;
    }
    ObjString *data = AS_STRING(args[1]);
    int64_t n = polysock_send(sock->handle, data->chars, (size_t)data->length, 0);
    if (n < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NUMBER_VAL((double)n));
}

/* The largest single receive: recv(n) returns at most n bytes, so a larger
 * n only caps what one call can return (it never blocks for more). */
#define RECV_MAX (16 * 1024 * 1024)
#define RECV_STACK 65536

/* recv()'s and recvfrom()'s size argument, checked as the built-in does
 * (n + 1 < 1 is a runtime error); 0 reaches polysock, which refuses it. */
static bool recvSize(DictuVM *vm, const char *name, int argCount, Value *args, Value *err,
                     size_t *size) {
    if (argCount != 1) {
        runtimeError(vm, "%s() takes 1 argument (%d given)", name, argCount);
        *err = EMPTY_VAL;
        return false;
    }
    if (!IS_NUMBER(args[1])) {
        runtimeError(vm, "%s() argument must be a number", name);
        *err = EMPTY_VAL;
        return false;
    }
    double n = AS_NUMBER(args[1]);
    if (!(n + 1 >= 1)) {
        runtimeError(vm, "%s() argument must be greater than 1", name);
        *err = EMPTY_VAL;
        return false;
    }
    if (n != floor(n) || isinf(n)) {
        *err = failWith(vm, EINVAL, "%s: size %g is not a whole number", name, n);
        return false;
    }
    *size = n > RECV_MAX ? RECV_MAX : (size_t)n;
    return true;
}

static Value recvSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("recv");
    size_t size;
    Value err;
    if (!recvSize(vm, "recv", argCount, args, &err, &size)) {
        return err;
    }
    char stackBuf[RECV_STACK];
    char *buf = size <= sizeof stackBuf ? stackBuf : ALLOCATE(vm, char, size);
    int64_t n = polysock_recv(sock->handle, buf, size, 0);
    Value result;
    if (n < 0) {
        result = failed(vm);
    } else {
        ObjString *s = copyString(vm, buf, (int)n);
        result = newResultSuccess(vm, OBJ_VAL(s));
    }
    if (buf != stackBuf) {
        FREE_ARRAY(vm, char, buf, size);
    }
    return result;
}

/* readline([max]) -> Result<String>: one line with its "\n" ("" at the end
 * of the stream; the last line may lack its "\n"), at most `max` bytes
 * (default 64 KiB): a longer line is an EMSGSIZE error and stays unread. */
static Value readlineSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("readline");
    if (argCount > 1) {
        runtimeError(vm, "readline() takes 0 or 1 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (argCount == 1 && !IS_NUMBER(args[1])) {
        runtimeError(vm, "readline() argument must be a number");
        return EMPTY_VAL;
    }
    size_t size = RECV_STACK;
    if (argCount == 1) {
        INT_ARG(max, args[1], "readline", "size");
        if (max < 1) {
            return failWith(vm, EINVAL, "readline: size %d is not positive", (int)max);
        }
        size = max > RECV_MAX ? RECV_MAX : (size_t)max;
    }
    char stackBuf[RECV_STACK];
    char *buf = size <= sizeof stackBuf ? stackBuf : ALLOCATE(vm, char, size);
    size_t n;
    Value result;
    if (polysock_readline(sock->handle, buf, size, &n) != 0) {
        result = failed(vm);
    } else {
        result = newResultSuccess(vm, OBJ_VAL(copyString(vm, buf, (int)n)));
    }
    if (buf != stackBuf) {
        FREE_ARRAY(vm, char, buf, size);
    }
    return result;
}

static Value connectSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("connect");
    if (argCount != 2) {
        runtimeError(vm, "connect() takes two arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    /* The built-in's messages, word for word (they say bind()). */
    if (!IS_STRING(args[1])) {
        runtimeError(vm, "host passed to bind() must be a string");
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[2])) {
        runtimeError(vm, "port passed to bind() must be a number");
        return EMPTY_VAL;
    }
    ObjString *host = AS_STRING(args[1]);
    NO_NUL(host, "connect", "host");
    INT_ARG(port, args[2], "connect", "port");
    if (polysock_connect(sock->handle, host->chars, port) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

static Value closeSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("close");
    if (argCount != 0) {
        runtimeError(vm, "close() takes no arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    /* Closing twice does nothing: the handle stays dead even when the OS
     * hands its fd number to a new socket. */
    /* A TLS session ends with close_notify (best effort, within the
     * timeout; also after the peer's), so the peer can tell the end from a
     * cut. */
    int32_t tls = polysock_tls_state(sock->handle);
    if (tls == POLYSOCK_TLS_STATE_OPEN || tls == POLYSOCK_TLS_STATE_CLOSED) {
        (void)polysock_shutdown(sock->handle, SHUT_WR);
    }
    polysock_close(sock->handle);
    return NIL_VAL;
}

/* setsockopt(level, option) sets the option to 1, as the built-in does;
 * setsockopt(level, option, value) sets an int (a bool is 0/1). */
static Value setSocketOpt(DictuVM *vm, int argCount, Value *args) {
    SELF("setsockopt");
    if (argCount != 2 && argCount != 3) {
        runtimeError(vm, "setsocketopt() takes 2 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[1]) || !IS_NUMBER(args[2]) ||
        (argCount == 3 && !IS_NUMBER(args[3]) && !IS_BOOL(args[3]))) {
        runtimeError(vm, "setsocketopt() arguments must be numbers");
        return EMPTY_VAL;
    }
    INT_ARG(level, args[1], "setsockopt", "level");
    INT_ARG(option, args[2], "setsockopt", "option");
    int32_t value = 1;
    if (argCount == 3) {
        if (IS_BOOL(args[3])) {
            value = AS_BOOL(args[3]) ? 1 : 0;
        } else {
            INT_ARG(v, args[3], "setsockopt", "value");
            value = v;
        }
    }
    if (polysock_setsockopt_int(sock->handle, level, option, value) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

/* ---- what polysock adds ---- */

static Value getSocketOpt(DictuVM *vm, int argCount, Value *args) {
    SELF("getsockopt");
    if (argCount != 2) {
        runtimeError(vm, "getsockopt() takes 2 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[1]) || !IS_NUMBER(args[2])) {
        runtimeError(vm, "getsockopt() arguments must be numbers");
        return EMPTY_VAL;
    }
    INT_ARG(level, args[1], "getsockopt", "level");
    INT_ARG(option, args[2], "getsockopt", "option");
    int32_t value;
    if (polysock_getsockopt_int(sock->handle, level, option, &value) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NUMBER_VAL((double)value));
}

static Value sendallSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("sendall");
    if (argCount != 1) {
        runtimeError(vm, "sendall() takes 1 argument (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[1])) {
        runtimeError(vm, "sendall() argument must be a string");
        return EMPTY_VAL;
    }
    ObjString *data = AS_STRING(args[1]);
    int64_t n = polysock_sendall(sock->handle, data->chars, (size_t)data->length, 0, NULL);
    if (n < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NUMBER_VAL((double)n));
}

static Value sendtoSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("sendto");
    if (argCount != 3) {
        runtimeError(vm, "sendto() takes 3 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[1])) {
        runtimeError(vm, "sendto() data must be a string");
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[2])) {
        runtimeError(vm, "host passed to sendto() must be a string");
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[3])) {
        runtimeError(vm, "port passed to sendto() must be a number");
        return EMPTY_VAL;
    }
    ObjString *data = AS_STRING(args[1]);
    ObjString *host = AS_STRING(args[2]);
    NO_NUL(host, "sendto", "host");
    INT_ARG(port, args[3], "sendto", "port");
    int64_t n = polysock_sendto(sock->handle, data->chars, (size_t)data->length, 0, host->chars, port);
    if (n < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NUMBER_VAL((double)n));
}

/* [host, port] as a Dictu list. */
static Value addrList(DictuVM *vm, const polysock_addr *addr) {
    ObjList *list = newList(vm);
    push(vm, OBJ_VAL(list));
    ObjString *host = copyString(vm, addr->host, (int)strlen(addr->host));
    push(vm, OBJ_VAL(host));
    writeValueArray(vm, &list->values, OBJ_VAL(host));
    pop(vm);
    writeValueArray(vm, &list->values, NUMBER_VAL((double)addr->port));
    pop(vm);
    return OBJ_VAL(list);
}

/* recvfrom(n) -> Result<[data, host, port]> */
static Value recvfromSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("recvfrom");
    size_t size;
    Value err;
    if (!recvSize(vm, "recvfrom", argCount, args, &err, &size)) {
        return err;
    }
    char stackBuf[RECV_STACK];
    char *buf = size <= sizeof stackBuf ? stackBuf : ALLOCATE(vm, char, size);
    polysock_addr from;
    int64_t n = polysock_recvfrom(sock->handle, buf, size, 0, &from);
    Value result;
    if (n < 0) {
        result = failed(vm);
    } else {
        ObjList *list = newList(vm);
        push(vm, OBJ_VAL(list));
        ObjString *data = copyString(vm, buf, (int)n);
        push(vm, OBJ_VAL(data));
        writeValueArray(vm, &list->values, OBJ_VAL(data));
        pop(vm);
        ObjString *host = copyString(vm, from.host, (int)strlen(from.host));
        push(vm, OBJ_VAL(host));
        writeValueArray(vm, &list->values, OBJ_VAL(host));
        pop(vm);
        writeValueArray(vm, &list->values, NUMBER_VAL((double)from.port));
        result = newResultSuccess(vm, OBJ_VAL(list));
        pop(vm);
    }
    if (buf != stackBuf) {
        FREE_ARRAY(vm, char, buf, size);
    }
    return result;
}

static Value shutdownSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("shutdown");
    if (argCount != 1) {
        runtimeError(vm, "shutdown() takes 1 argument (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[1])) {
        runtimeError(vm, "shutdown() argument must be a number");
        return EMPTY_VAL;
    }
    INT_ARG(how, args[1], "shutdown", "how");
    if (polysock_shutdown(sock->handle, how) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

/* settimeout(ms): -1 (or nil) blocks, 0 is non-blocking, > 0 bounds every
 * blocking call, which then fails with ETIMEDOUT. */
static Value settimeoutSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("settimeout");
    if (argCount != 1) {
        runtimeError(vm, "settimeout() takes 1 argument (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[1]) && !IS_NIL(args[1])) {
        runtimeError(vm, "settimeout() argument must be a number or nil");
        return EMPTY_VAL;
    }
    int64_t ms = -1;
    if (IS_NUMBER(args[1]) && !toInt64(AS_NUMBER(args[1]), &ms)) {
        return badNumber(vm, "settimeout", "timeout", AS_NUMBER(args[1]));
    }
    if (polysock_settimeout(sock->handle, ms) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

static Value gettimeoutSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("gettimeout");
    if (argCount != 0) {
        runtimeError(vm, "gettimeout() takes no arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    int64_t ms;
    if (polysock_gettimeout(sock->handle, &ms) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NUMBER_VAL((double)ms));
}

static Value setblockingSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("setblocking");
    if (argCount != 1) {
        runtimeError(vm, "setblocking() takes 1 argument (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_BOOL(args[1])) {
        runtimeError(vm, "setblocking() argument must be a boolean");
        return EMPTY_VAL;
    }
    if (polysock_setblocking(sock->handle, AS_BOOL(args[1]) ? 1 : 0) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

static Value nameOf(DictuVM *vm, int argCount, Value *args, const char *name,
                    int32_t (*get)(polysock_t, polysock_addr *)) {
    SocketData *sock = selfSocket(args[0]);
    if (sock == NULL) {
        runtimeError(vm, "%s() must be called on a Socket", name);
        return EMPTY_VAL;
    }
    if (argCount != 0) {
        runtimeError(vm, "%s() takes no arguments (%d given)", name, argCount);
        return EMPTY_VAL;
    }
    polysock_addr addr;
    if (get(sock->handle, &addr) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, addrList(vm, &addr));
}

static Value getsocknameSocket(DictuVM *vm, int argCount, Value *args) {
    return nameOf(vm, argCount, args, "getsockname", polysock_getsockname);
}

static Value getpeernameSocket(DictuVM *vm, int argCount, Value *args) {
    return nameOf(vm, argCount, args, "getpeername", polysock_getpeername);
}

static Value filenoSocket(DictuVM *vm, int argCount, Value *args) {
    SELF("fileno");
    if (argCount != 0) {
        runtimeError(vm, "fileno() takes no arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    int32_t fd = polysock_fileno(sock->handle);
    if (fd < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NUMBER_VAL((double)fd));
}

/* dict[key] = value, keeping both reachable while the other is made. */
static void dictPut(DictuVM *vm, ObjDict *dict, const char *key, Value value) {
    push(vm, value);
    Value k = OBJ_VAL(copyString(vm, key, (int)strlen(key)));
    push(vm, k);
    dictSet(vm, dict, k, value);
    pop(vm);
    pop(vm);
}

static void dictPutString(DictuVM *vm, ObjDict *dict, const char *key, const char *text) {
    dictPut(vm, dict, key, OBJ_VAL(copyString(vm, text, (int)strlen(text))));
}

#include "polysock_dictu_tls.c"

static const struct {
    const char *name;
    NativeFn fn;
} socketMethods[] = {
    /* the built-in's */
    {"bind", bindSocket},
    {"listen", listenSocket},
    {"accept", acceptSocket},
    {"write", writeSocket},
    {"recv", recvSocket},
    {"connect", connectSocket},
    {"close", closeSocket},
    {"setsockopt", setSocketOpt},
    /* polysock's */
    {"getsockopt", getSocketOpt},
    {"sendall", sendallSocket},
    {"sendto", sendtoSocket},
    {"recvfrom", recvfromSocket},
    {"shutdown", shutdownSocket},
    {"settimeout", settimeoutSocket},
    {"gettimeout", gettimeoutSocket},
    {"setblocking", setblockingSocket},
    {"getsockname", getsocknameSocket},
    {"getpeername", getpeernameSocket},
    {"fileno", filenoSocket},
    {"readline", readlineSocket},
    /* TLS (polysock_dictu_tls.c) */
    {"tls_handshake", tlsHandshakeSocket},
    {"tls_wants", tlsWantsSocket},
    {"tls_version", tlsVersionSocket},
    {"tls_cipher", tlsCipherSocket},
    {"tls_alpn", tlsAlpnSocket},
    {"tls_server_name", tlsServerNameSocket},
    {"tls_resumed", tlsResumedSocket},
    {"tls_peer_certificate", tlsPeerCertificateSocket},
};

#define METHOD_COUNT (sizeof socketMethods / sizeof socketMethods[0])

/* The methods, made once: a socket's table starts as a copy of this one's.
 * It is kept alive by the module table under a key no script can spell. */
static ObjAbstract *methodTemplate = NULL;

static void freeTemplate(DictuVM *vm, ObjAbstract *abstract) {
    UNUSED(vm);
    UNUSED(abstract);
    methodTemplate = NULL;
}

static char *templateToString(ObjAbstract *abstract) {
    UNUSED(abstract);
    char *s = malloc(17);
    if (s != NULL) {
        memcpy(s, "<Socket methods>", 17);
    }
    return s;
}

static void makeMethodTemplate(DictuVM *vm, Table *moduleTable) {
    ObjAbstract *t = newAbstract(vm, freeTemplate, templateToString);
    push(vm, OBJ_VAL(t));
    for (size_t i = 0; i < METHOD_COUNT; i++) {
        defineNative(vm, &t->values, socketMethods[i].name, socketMethods[i].fn);
    }
    defineNativeProperty(vm, moduleTable, "<socket methods>", OBJ_VAL(t));
    pop(vm);
    /* Copying the table needs what freeTable assumes: `capacity` entries,
     * all methods present. Otherwise every socket defines its own. */
    int found = 0;
    for (int i = 0; i < t->values.capacity; i++) {
        found += t->values.entries[i].key != NULL;
    }
    if (t->values.count == (int)METHOD_COUNT && found == (int)METHOD_COUNT) {
        methodTemplate = t;
    }
}

static ObjAbstract *newSocket(DictuVM *vm, polysock_t handle, int32_t family, int32_t type) {
    ObjAbstract *abstract = newAbstract(vm, freeSocket, socketToString);
    push(vm, OBJ_VAL(abstract));
    SocketData *sock = ALLOCATE(vm, SocketData, 1);
    sock->handle = handle;
    sock->family = family;
    sock->type = type;
    abstract->data = sock;
    if (methodTemplate != NULL) {
        /* One allocation instead of a native object and a table insert per
         * method: creating sockets (accept) costs what the built-in's do. */
        Table *from = &methodTemplate->values;
        Entry *entries = ALLOCATE(vm, Entry, from->capacity);
        memcpy(entries, from->entries, sizeof(Entry) * (size_t)from->capacity);
        abstract->values.entries = entries;
        abstract->values.capacity = from->capacity;
        abstract->values.count = from->count;
    } else {
        for (size_t i = 0; i < METHOD_COUNT; i++) {
            defineNative(vm, &abstract->values, socketMethods[i].name, socketMethods[i].fn);
        }
    }
    pop(vm);
    return abstract;
}

/* ------------------------------------------------------------------------
 * Module functions
 * --------------------------------------------------------------------- */

static Value createSocket(DictuVM *vm, int argCount, Value *args) {
    if (argCount != 2) {
        runtimeError(vm, "create() takes 2 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[0]) || !IS_NUMBER(args[1])) {
        runtimeError(vm, "create() arguments must be a numbers");
        return EMPTY_VAL;
    }
    INT_ARG(family, args[0], "create", "family");
    INT_ARG(type, args[1], "create", "type");
    polysock_t h = polysock_socket(family, type, 0);
    if (h < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, OBJ_VAL(newSocket(vm, h, family, type)));
}

/* socketpair([type]) -> Result<[Socket, Socket]>: two connected AF_UNIX
 * sockets (SOCK_STREAM unless a type is given). */
static Value socketpairNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount > 1) {
        runtimeError(vm, "socketpair() takes 0 or 1 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (argCount == 1 && !IS_NUMBER(args[0])) {
        runtimeError(vm, "socketpair() argument must be a number");
        return EMPTY_VAL;
    }
    int32_t type = (int32_t)sockStream;
    if (argCount == 1) {
        INT_ARG(t, args[0], "socketpair", "type");
        type = t;
    }
    polysock_t pair[2];
    if (polysock_socketpair((int32_t)afUnix, type, 0, pair) != 0) {
        return failed(vm);
    }
    ObjList *list = newList(vm);
    push(vm, OBJ_VAL(list));
    for (int i = 0; i < 2; i++) {
        ObjAbstract *s = newSocket(vm, pair[i], (int32_t)afUnix, type);
        push(vm, OBJ_VAL(s));
        writeValueArray(vm, &list->values, OBJ_VAL(s));
        pop(vm);
    }
    pop(vm);
    return newResultSuccess(vm, OBJ_VAL(list));
}

/* strerror([code]): the text for `code`, or for Socket.errno. */
static Value strerrorNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount > 1) {
        runtimeError(vm, "strerror() takes either 0 or 1 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    int32_t code = lastCode;
    if (argCount == 1) {
        if (!IS_NUMBER(args[0])) {
            runtimeError(vm, "strerror() argument must be a number");
            return EMPTY_VAL;
        }
        if (!toInt32(AS_NUMBER(args[0]), &code)) {
            code = -1; /* no such code: "Unknown error" */
        }
    }
    const char *text = polysock_strerror(code);
    return OBJ_VAL(copyString(vm, text, (int)strlen(text)));
}

/* errname([code]): the symbolic name ("ECONNREFUSED") of `code`, or of
 * Socket.errno. Names, unlike numbers, are the same on every platform. */
static Value errnameNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount > 1) {
        runtimeError(vm, "errname() takes either 0 or 1 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    int32_t code = lastCode;
    if (argCount == 1) {
        if (!IS_NUMBER(args[0])) {
            runtimeError(vm, "errname() argument must be a number");
            return EMPTY_VAL;
        }
        if (!toInt32(AS_NUMBER(args[0]), &code)) {
            code = -1;
        }
    }
    const char *text = polysock_errname(code);
    return OBJ_VAL(copyString(vm, text, (int)strlen(text)));
}

static Value setdefaulttimeoutNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount != 1) {
        runtimeError(vm, "setdefaulttimeout() takes 1 argument (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[0]) && !IS_NIL(args[0])) {
        runtimeError(vm, "setdefaulttimeout() argument must be a number or nil");
        return EMPTY_VAL;
    }
    int64_t ms = -1;
    if (IS_NUMBER(args[0]) && !toInt64(AS_NUMBER(args[0]), &ms)) {
        return badNumber(vm, "setdefaulttimeout", "timeout", AS_NUMBER(args[0]));
    }
    if (polysock_setdefaulttimeout(ms) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

static Value getdefaulttimeoutNative(DictuVM *vm, int argCount, Value *args) {
    UNUSED(args);
    if (argCount != 0) {
        runtimeError(vm, "getdefaulttimeout() takes no arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    return NUMBER_VAL((double)polysock_getdefaulttimeout());
}

/* ---- resolver, connections, poll ---- */

/* A socket object for a handle polysock made (create_connection...),
 * with the family and type the kernel reports. */
static Value socketFor(DictuVM *vm, polysock_t h) {
    polysock_socket_info info;
    int32_t family = 0, type = 0;
    if (polysock_info(h, &info) == 0) {
        family = info.family;
        type = info.socktype;
    }
    return OBJ_VAL(newSocket(vm, h, family, type));
}

#define ADDRINFO_STACK 16

/* getaddrinfo(host, service[, family[, type[, protocol[, flags]]]])
 *   -> Result<[{"family", "type", "protocol", "host", "port", "canonname"}...]>
 * host: a string or nil; service: a port number, a service name or nil. */
static Value getaddrinfoNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount < 2 || argCount > 6) {
        runtimeError(vm, "getaddrinfo() takes 2 to 6 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[0]) && !IS_NIL(args[0])) {
        runtimeError(vm, "host passed to getaddrinfo() must be a string or nil");
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[1]) && !IS_NUMBER(args[1]) && !IS_NIL(args[1])) {
        runtimeError(vm, "service passed to getaddrinfo() must be a string, a number or nil");
        return EMPTY_VAL;
    }
    for (int i = 2; i < argCount; i++) {
        if (!IS_NUMBER(args[i])) {
            runtimeError(vm, "getaddrinfo() family, type, protocol and flags must be numbers");
            return EMPTY_VAL;
        }
    }
    const char *host = NULL;
    if (IS_STRING(args[0])) {
        NO_NUL(AS_STRING(args[0]), "getaddrinfo", "host");
        host = AS_CSTRING(args[0]);
    }
    const char *service = NULL;
    char port[16];
    if (IS_STRING(args[1])) {
        NO_NUL(AS_STRING(args[1]), "getaddrinfo", "service");
        service = AS_CSTRING(args[1]);
    } else if (IS_NUMBER(args[1])) {
        INT_ARG(p, args[1], "getaddrinfo", "port");
        if (p < 0 || p > 65535) {
            /* As a service string the C library would wrap it (70000 -> 4464). */
            return failWith(vm, EINVAL, "getaddrinfo: port %d is out of range 0..65535", (int)p);
        }
        snprintf(port, sizeof port, "%d", (int)p);
        service = port;
    }
    int32_t hints[4] = {0, 0, 0, 0}; /* family, type, protocol, flags */
    static const char *const hintNames[4] = {"family", "type", "protocol", "flags"};
    for (int i = 2; i < argCount; i++) {
        if (!toInt32(AS_NUMBER(args[i]), &hints[i - 2])) {
            return badNumber(vm, "getaddrinfo", hintNames[i - 2], AS_NUMBER(args[i]));
        }
    }

    polysock_addrinfo stackList[ADDRINFO_STACK];
    polysock_addrinfo *list = stackList;
    size_t capacity = ADDRINFO_STACK, count = 0;
    int64_t total = polysock_getaddrinfo(host, service, hints[0], hints[1], hints[2], hints[3],
                                         list, capacity, &count);
    if (total > (int64_t)capacity) {
        /* More than fit: ask again with room for all of them. */
        capacity = (size_t)total;
        list = ALLOCATE(vm, polysock_addrinfo, capacity);
        total = polysock_getaddrinfo(host, service, hints[0], hints[1], hints[2], hints[3],
                                     list, capacity, &count);
    }
    Value result;
    if (total < 0) {
        result = failed(vm);
    } else {
        ObjList *out = newList(vm);
        push(vm, OBJ_VAL(out));
        for (size_t i = 0; i < count; i++) {
            ObjDict *d = newDict(vm);
            push(vm, OBJ_VAL(d));
            dictPut(vm, d, "family", NUMBER_VAL((double)list[i].family));
            dictPut(vm, d, "type", NUMBER_VAL((double)list[i].socktype));
            dictPut(vm, d, "protocol", NUMBER_VAL((double)list[i].protocol));
            dictPutString(vm, d, "host", list[i].addr.host);
            dictPut(vm, d, "port", NUMBER_VAL((double)list[i].addr.port));
            dictPutString(vm, d, "canonname", list[i].canonname);
            writeValueArray(vm, &out->values, OBJ_VAL(d));
            pop(vm);
        }
        result = newResultSuccess(vm, OBJ_VAL(out));
        pop(vm);
    }
    if (list != stackList) {
        FREE_ARRAY(vm, polysock_addrinfo, list, capacity);
    }
    return result;
}

/* create_connection(host, port[, timeout_ms[, source_host[, source_port]]])
 *   -> Result<Socket>: every address of host tried (Happy Eyeballs), within
 * one deadline (nil or -1: none). */
static Value createConnectionNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount < 2 || argCount > 5) {
        runtimeError(vm, "create_connection() takes 2 to 5 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[0])) {
        runtimeError(vm, "host passed to create_connection() must be a string");
        return EMPTY_VAL;
    }
    if (!IS_NUMBER(args[1])) {
        runtimeError(vm, "port passed to create_connection() must be a number");
        return EMPTY_VAL;
    }
    if (argCount > 2 && !IS_NUMBER(args[2]) && !IS_NIL(args[2])) {
        runtimeError(vm, "timeout passed to create_connection() must be a number or nil");
        return EMPTY_VAL;
    }
    if (argCount > 3 && !IS_STRING(args[3]) && !IS_NIL(args[3])) {
        runtimeError(vm, "source host passed to create_connection() must be a string or nil");
        return EMPTY_VAL;
    }
    if (argCount > 4 && !IS_NUMBER(args[4])) {
        runtimeError(vm, "source port passed to create_connection() must be a number");
        return EMPTY_VAL;
    }
    NO_NUL(AS_STRING(args[0]), "create_connection", "host");
    INT_ARG(port, args[1], "create_connection", "port");
    int64_t timeout = -1;
    if (argCount > 2 && IS_NUMBER(args[2]) && !toInt64(AS_NUMBER(args[2]), &timeout)) {
        return badNumber(vm, "create_connection", "timeout", AS_NUMBER(args[2]));
    }
    const char *sourceHost = NULL;
    if (argCount > 3 && IS_STRING(args[3])) {
        NO_NUL(AS_STRING(args[3]), "create_connection", "source host");
        sourceHost = AS_CSTRING(args[3]);
    }
    int32_t sourcePort = 0;
    if (argCount > 4) {
        INT_ARG(sp, args[4], "create_connection", "source port");
        sourcePort = sp;
    }
    polysock_t h = polysock_create_connection(AS_CSTRING(args[0]), port, timeout, sourceHost, sourcePort);
    if (h < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, socketFor(vm, h));
}

/* create_server(host, port[, family[, backlog[, flags]]]) -> Result<Socket>:
 * a listening TCP socket with SO_REUSEADDR (host nil or "": any address). */
static Value createServerNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount < 2 || argCount > 5) {
        runtimeError(vm, "create_server() takes 2 to 5 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (!IS_STRING(args[0]) && !IS_NIL(args[0])) {
        runtimeError(vm, "host passed to create_server() must be a string or nil");
        return EMPTY_VAL;
    }
    for (int i = 1; i < argCount; i++) {
        if (!IS_NUMBER(args[i])) {
            runtimeError(vm, "create_server() port, family, backlog and flags must be numbers");
            return EMPTY_VAL;
        }
    }
    const char *host = NULL;
    if (IS_STRING(args[0])) {
        NO_NUL(AS_STRING(args[0]), "create_server", "host");
        host = AS_CSTRING(args[0]);
    }
    INT_ARG(port, args[1], "create_server", "port");
    int32_t family = 0, backlog = -1, flags = 0;
    if (argCount > 2) {
        INT_ARG(f, args[2], "create_server", "family");
        family = f;
    }
    if (argCount > 3) {
        INT_ARG(b, args[3], "create_server", "backlog");
        backlog = b;
    }
    if (argCount > 4) {
        INT_ARG(fl, args[4], "create_server", "flags");
        flags = fl;
    }
    polysock_t h = polysock_create_server(host, port, family, backlog, flags);
    if (h < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, socketFor(vm, h));
}

#define POLL_STACK 64

/* poll(entries[, timeout_ms]) -> Result<[[Socket, revents]...]>: waits until
 * one of entries ([Socket, events] lists; events POLLIN|POLLOUT|POLLPRI) is
 * ready or timeout_ms passes (nil or -1: no limit; 0: only looks). Gives
 * the ready entries with what is ready (plus POLLERR/POLLHUP/POLLNVAL). */
static Value pollNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount != 1 && argCount != 2) {
        runtimeError(vm, "poll() takes 1 or 2 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    bool ok = IS_LIST(args[0]);
    ObjList *entries = ok ? AS_LIST(args[0]) : NULL;
    for (int i = 0; ok && i < entries->values.count; i++) {
        Value e = entries->values.values[i];
        ok = IS_LIST(e) && AS_LIST(e)->values.count == 2 &&
             selfSocket(AS_LIST(e)->values.values[0]) != NULL &&
             IS_NUMBER(AS_LIST(e)->values.values[1]);
    }
    if (!ok) {
        runtimeError(vm, "poll() entries must be a list of [Socket, events] lists");
        return EMPTY_VAL;
    }
    if (argCount == 2 && !IS_NUMBER(args[1]) && !IS_NIL(args[1])) {
        runtimeError(vm, "poll() timeout must be a number or nil");
        return EMPTY_VAL;
    }
    int64_t timeout = -1;
    if (argCount == 2 && IS_NUMBER(args[1]) && !toInt64(AS_NUMBER(args[1]), &timeout)) {
        return badNumber(vm, "poll", "timeout", AS_NUMBER(args[1]));
    }
    size_t n = (size_t)entries->values.count;
    polysock_pollfd stackFds[POLL_STACK];
    polysock_pollfd *fds = n <= POLL_STACK ? stackFds : ALLOCATE(vm, polysock_pollfd, n);
    for (size_t i = 0; i < n; i++) {
        ValueArray *pair = &AS_LIST(entries->values.values[i])->values;
        fds[i].handle = selfSocket(pair->values[0])->handle;
        fds[i].revents = 0;
        if (!toInt32(AS_NUMBER(pair->values[1]), &fds[i].events)) {
            if (fds != stackFds) {
                FREE_ARRAY(vm, polysock_pollfd, fds, n);
            }
            return badNumber(vm, "poll", "events", AS_NUMBER(pair->values[1]));
        }
    }
    Value result;
    if (polysock_poll(fds, n, timeout) < 0) {
        result = failed(vm);
    } else {
        ObjList *ready = newList(vm);
        push(vm, OBJ_VAL(ready));
        for (size_t i = 0; i < n; i++) {
            if (fds[i].revents == 0) {
                continue;
            }
            ObjList *pair = newList(vm);
            push(vm, OBJ_VAL(pair));
            /* The socket object is the caller's: reachable from entries. */
            writeValueArray(vm, &pair->values, AS_LIST(entries->values.values[i])->values.values[0]);
            writeValueArray(vm, &pair->values, NUMBER_VAL((double)fds[i].revents));
            writeValueArray(vm, &ready->values, OBJ_VAL(pair));
            pop(vm);
        }
        result = newResultSuccess(vm, OBJ_VAL(ready));
        pop(vm);
    }
    if (fds != stackFds) {
        FREE_ARRAY(vm, polysock_pollfd, fds, n);
    }
    return result;
}

static Value gethostnameNative(DictuVM *vm, int argCount, Value *args) {
    UNUSED(args);
    if (argCount != 0) {
        runtimeError(vm, "gethostname() takes no arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    char name[256];
    if (polysock_gethostname(name, sizeof name) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, OBJ_VAL(copyString(vm, name, (int)strlen(name))));
}

/* ------------------------------------------------------------------------
 * Entry point
 * --------------------------------------------------------------------- */

int dictu_ffi_init(DictuVM *vm, Table *method_table) {
    moduleTable = method_table;
    makeMethodTemplate(vm, method_table);

    /* Every constant polysock knows for this platform: AF_*, SOCK_*, SO_*,
     * IPPROTO_*, MSG_*, SHUT_*, E* codes, EAI_*, OPT_*... */
    int64_t count = polysock_constant_count();
    for (int64_t i = 0; i < count; i++) {
        const char *name;
        int64_t value;
        if (polysock_constant_at(i, &name, &value) == 0) {
            defineNativeProperty(vm, method_table, name, NUMBER_VAL((double)value));
        }
    }
    if (polysock_constant_lookup("AF_UNIX", &afUnix) != 0 ||
        polysock_constant_lookup("SOCK_STREAM", &sockStream) != 0) {
        return 1;
    }
    (void)polysock_constant_lookup("SOMAXCONN", &somaxconn);

    /* create_server's flags (polysock's own values, not in the table). */
    defineNativeProperty(vm, method_table, "POLYSOCK_SERVER_REUSEPORT",
                         NUMBER_VAL(POLYSOCK_SERVER_REUSEPORT));
    defineNativeProperty(vm, method_table, "POLYSOCK_SERVER_DUALSTACK",
                         NUMBER_VAL(POLYSOCK_SERVER_DUALSTACK));
    defineNativeProperty(vm, method_table, "errno", NUMBER_VAL(0));
    const char *version = polysock_version();
    defineNativeProperty(vm, method_table, "version",
                         OBJ_VAL(copyString(vm, version, (int)strlen(version))));

    defineNative(vm, method_table, "create", createSocket);
    defineNative(vm, method_table, "socketpair", socketpairNative);
    defineNative(vm, method_table, "strerror", strerrorNative);
    defineNative(vm, method_table, "errname", errnameNative);
    defineNative(vm, method_table, "setdefaulttimeout", setdefaulttimeoutNative);
    defineNative(vm, method_table, "getdefaulttimeout", getdefaulttimeoutNative);
    defineNative(vm, method_table, "getaddrinfo", getaddrinfoNative);
    defineNative(vm, method_table, "create_connection", createConnectionNative);
    defineNative(vm, method_table, "create_server", createServerNative);
    defineNative(vm, method_table, "poll", pollNative);
    defineNative(vm, method_table, "gethostname", gethostnameNative);
    defineNative(vm, method_table, "tls_context", tlsContextNative);
    return 0;
}
