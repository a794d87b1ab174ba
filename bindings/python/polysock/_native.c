/* polysock._native: the surface of CPython's `_socket` module over
 * polysock's C ABI, as a CPython extension (one of the two backends of the
 * polysock package; polysock._ctypes_socket is the other, and
 * bindings/python/BACKEND.md is the contract both follow).
 *
 * This file only converts Python values to the C ABI and back and raises
 * Python's exceptions: every socket operation, timeout and retry is
 * polysock's. It is linked statically with libpolysock.a (setup.py), and
 * only PyInit__native is exported.
 *
 * - No copy the standard module does not make: recv() receives into a bytes
 *   object allocated once and shrunk in place, recv_into() into the caller's
 *   buffer, send()/sendall() straight from the caller's buffer.
 * - The GIL is released around every call that can block, and the error
 *   code is read on the same OS thread (polysock records it per thread).
 * - Signals: polysock resumes a wait interrupted by a signal with the time
 *   that remains, so a blocked call returns only with data, end of stream,
 *   an error or its timeout. A call that fails runs the pending signal
 *   handlers first and raises a handler's exception (Ctrl-C's
 *   KeyboardInterrupt) instead of its own, as CPython's module does; after
 *   a call that succeeds Python runs them as usual. A socket with a
 *   timeout therefore stays bounded by it; one without waits for its peer.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "polysock.h"

/* The full C API, not the limited one (abi3): the limited API cannot
 * shrink a bytes object in place, and recv() would copy (README, Speed). */
#define BYTES_DATA(o) PyBytes_AS_STRING(o)

typedef struct {
    PyObject_HEAD
    polysock_t handle; /* -1 once closed or detached */
    int kind_known;    /* family/type/proto below are set (see sock_kind) */
    int family;
    int type;
    int proto;
    int64_t closed_ms; /* the timeout when closed: still readable, as CPython's */
} Sock;

static PyTypeObject *SockType;

/* polysock._errors, for the failures that are not plain errno values. */
static PyObject *errors_module;

/* ------------------------------------------------------------------ errors */

/* Raises the exception for polysock code `code` and message `msg`: an errno
 * value becomes OSError(code, msg), which Python turns into its subclass
 * (ConnectionRefusedError, TimeoutError...); polysock's own codes go through
 * polysock._errors.exception_for. */
static PyObject *raise_code(int code, const char *msg)
{
    if (msg == NULL || msg[0] == '\0') {
        msg = polysock_strerror(code);
    }
    if (code < POLYSOCK_ERR_BASE) {
        PyObject *args = Py_BuildValue("(is)", code, msg);
        if (args != NULL) {
            PyErr_SetObject(PyExc_OSError, args);
            Py_DECREF(args);
        }
        return NULL;
    }
    if (errors_module == NULL) {
        errors_module = PyImport_ImportModule("polysock._errors");
        if (errors_module == NULL) {
            return NULL;
        }
    }
    PyObject *exc = PyObject_CallMethod(errors_module, "exception_for", "is", code, msg);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* The exception for the last failed polysock call on this OS thread, whose
 * code the caller read (possibly with the GIL released); but when a signal
 * arrived during the call and its Python handler raises, the handler's
 * exception, as CPython's module ends an interrupted call (PEP 475). */
static PyObject *raise_last(int code)
{
    /* A call interrupt_hook ended: the handler's exception is set. */
    if (code == EINTR && PyErr_Occurred()) {
        return NULL;
    }
    if (PyErr_CheckSignals() < 0) {
        return NULL;
    }
    return raise_code(code, polysock_last_error());
}

/* polysock calls this in the interrupted thread when a signal interrupts a
 * blocking call (EINTR), usually with the GIL released. CPython runs signal
 * handlers only in the main thread, so this runs them there, as CPython's
 * module does in a blocking call (PEP 475): nonzero (a handler raised; its
 * exception stays set for raise_last) ends the call with EINTR, zero
 * resumes it with the time that remains. In other threads
 * PyErr_CheckSignals does nothing and the call resumes. */
static int32_t interrupt_hook(void *ctx)
{
    (void)ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int32_t raised = PyErr_CheckSignals() < 0;
    PyGILState_Release(g);
    return raised;
}

/* --------------------------------------------------------------- arguments */

/* Raises `exc` with `fmt`, whose one %U is the name of `obj`'s type. */
static PyObject *type_error(PyObject *exc, const char *fmt, const char *op, PyObject *obj)
{
    PyObject *name = PyObject_GetAttrString((PyObject *)Py_TYPE(obj), "__name__");
    if (name != NULL) {
        PyErr_Format(exc, fmt, op, name);
        Py_DECREF(name);
    }
    return NULL;
}

/* An int argument as CPython's "i" format takes it (__index__, C int range). */
static int arg_int(PyObject *o, int *out)
{
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v > INT_MAX || v < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError,
                        v > INT_MAX ? "signed integer is greater than maximum"
                                    : "signed integer is less than minimum");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* A size argument as CPython's "n" format takes it. */
static int arg_size(PyObject *o, Py_ssize_t *out)
{
    Py_ssize_t v = PyNumber_AsSsize_t(o, PyExc_OverflowError);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = v;
    return 0;
}

static int arg_count(const char *name, Py_ssize_t nargs, Py_ssize_t min, Py_ssize_t max)
{
    if (nargs >= min && nargs <= max) {
        return 0;
    }
    if (min == max) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd argument%s (%zd given)", name,
                     min, min == 1 ? "" : "s", nargs);
    } else if (nargs < min) {
        PyErr_Format(PyExc_TypeError, "%s() takes at least %zd argument%s (%zd given)", name,
                     min, min == 1 ? "" : "s", nargs);
    } else {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd argument%s (%zd given)", name,
                     max, max == 1 ? "" : "s", nargs);
    }
    return -1;
}

/* Fills `out[0..n)` from positional and keyword arguments named `names`
 * (NULL for a slot not given); `min` of them are required. */
static int arg_slots(const char *fname, const char *const *names, Py_ssize_t n, Py_ssize_t min,
                     PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **out)
{
    if (nargs > n) {
        return arg_count(fname, nargs, min, n);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = i < nargs ? args[i] : NULL;
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_Size(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GetItem(kwnames, k);
        const char *kname = PyUnicode_AsUTF8AndSize(key, NULL);
        if (kname == NULL) {
            return -1;
        }
        Py_ssize_t i = 0;
        while (i < n && strcmp(names[i], kname) != 0) {
            i++;
        }
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'",
                         fname, kname);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "argument for %s() given by name ('%s') and position",
                         fname, kname);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < min; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname,
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* A view of a bytes-like argument (writable when `flags` asks), raising
 * TypeError as CPython's "y*" and "w*" formats do for anything else. */
static int get_buffer(PyObject *obj, Py_buffer *view, int flags, const char *fname)
{
    if (PyObject_GetBuffer(obj, view, flags) == 0) {
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_BufferError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        type_error(PyExc_TypeError,
                   flags & PyBUF_WRITABLE
                       ? "%s() argument 1 must be read-write bytes-like object, not %U"
                       : "%s() argument 1 must be a bytes-like object, not %U",
                   fname, obj);
    }
    return -1;
}

/* --------------------------------------------------------------- addresses */

/* A host as CPython takes it: str (ASCII as is, else IDNA-encoded), bytes or
 * bytearray; "<broadcast>" is the broadcast address. Returns a new bytes
 * object holding NUL-free text. */
static PyObject *host_text(PyObject *host)
{
    PyObject *data;
    if (PyUnicode_Check(host)) {
        data = PyUnicode_AsASCIIString(host);
        if (data == NULL) {
            PyErr_Clear();
            data = PyUnicode_AsEncodedString(host, "idna", NULL);
        } else if (strcmp(PyBytes_AsString(data), "<broadcast>") == 0) {
            Py_DECREF(data);
            data = PyBytes_FromString("255.255.255.255");
        }
    } else if (PyBytes_Check(host)) {
        Py_INCREF(host);
        data = host;
    } else if (PyByteArray_Check(host)) {
        data = PyBytes_FromStringAndSize(PyByteArray_AsString(host), PyByteArray_Size(host));
    } else {
        return type_error(PyExc_TypeError, "%sstr, bytes or bytearray expected, not %U", "",
                          host);
    }
    if (data != NULL && (Py_ssize_t)strlen(PyBytes_AsString(data)) != PyBytes_Size(data)) {
        Py_DECREF(data);
        PyErr_SetString(PyExc_TypeError, "host name must not contain null character");
        return NULL;
    }
    return data;
}

static int port_arg(PyObject *o, const char *op, int *port)
{
    if (arg_int(o, port) < 0) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            *port = -1;
        } else {
            return -1;
        }
    }
    if (*port < 0 || *port > 0xffff) {
        PyErr_Format(PyExc_OverflowError, "%s: port must be 0-65535.", op);
        return -1;
    }
    return 0;
}

static int uint_arg(PyObject *o, unsigned long max, const char *what, const char *op,
                    unsigned long *out)
{
    unsigned long v = PyLong_AsUnsignedLong(o);
    if (v == (unsigned long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        v = max + 1;
    }
    if (v > max) {
        PyErr_Format(PyExc_OverflowError, "%s: %s must be 0-%lu.", op, what, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* A Unix socket address as the kernel takes it (a new bytes object, for
 * the polysock_*_unix calls): str or path-like (file system encoding) or a
 * bytes-like object; a leading NUL is Linux's abstract namespace, where
 * NULs may follow; a path has none. */
static PyObject *unix_name(PyObject *addr)
{
    PyObject *data;
    if (PyByteArray_Check(addr) || PyMemoryView_Check(addr)) {
        data = PyBytes_FromObject(addr);
    } else {
        PyObject *path = PyOS_FSPath(addr); /* str or bytes, path-likes too */
        if (path == NULL) {
            return NULL;
        }
        if (PyUnicode_Check(path)) {
            data = PyUnicode_EncodeFSDefault(path);
            Py_DECREF(path);
        } else {
            data = path;
        }
    }
    if (data == NULL) {
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if ((len == 0 || p[0] != '\0') && (Py_ssize_t)strlen(p) != len) {
        Py_DECREF(data);
        PyErr_SetString(PyExc_ValueError, "AF_UNIX path contains a null character");
        return NULL;
    }
    return data;
}

/* unix_name in polysock's text form, "@name" for an abstract name (which
 * then cannot hold a NUL), for sendmsg's address. */
static PyObject *unix_text(PyObject *addr)
{
    PyObject *data = unix_name(addr);
    if (data == NULL) {
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (len > 0 && p[0] == '\0') {
        PyObject *named = PyBytes_FromFormat("@%s", p + 1);
        if (named != NULL && PyBytes_Size(named) != len) {
            Py_DECREF(named);
            named = NULL;
            PyErr_SetString(PyExc_ValueError,
                            "AF_UNIX abstract name contains a null character");
        }
        Py_DECREF(data);
        return named;
    }
    return data;
}

/* A Python address for a socket of `family` as polysock's host text (a new
 * bytes object) and port; for AF_UNIX the name as unix_name gives it.
 * `op` names the call in messages. */
static PyObject *addr_in(int family, PyObject *addr, const char *op, int *port)
{
    *port = 0;
    if (family == POLYSOCK_AF_UNIX) {
        return unix_name(addr);
    }
    if (family != POLYSOCK_AF_INET && family != POLYSOCK_AF_INET6) {
        PyErr_Format(PyExc_OSError, "%s: bad family", op);
        return NULL;
    }
    if (!PyTuple_Check(addr)) {
        return type_error(PyExc_TypeError,
                          family == POLYSOCK_AF_INET
                              ? "%s(): AF_INET address must be tuple, not %U"
                              : "%s(): AF_INET6 address must be tuple, not %U",
                          op, addr);
    }
    Py_ssize_t n = PyTuple_Size(addr);
    if (family == POLYSOCK_AF_INET ? n != 2 : (n < 2 || n > 4)) {
        PyErr_Format(PyExc_TypeError,
                     family == POLYSOCK_AF_INET
                         ? "%s(): AF_INET address must be a pair (host, port)"
                         : "%s(): AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])",
                     op);
        return NULL;
    }
    if (port_arg(PyTuple_GetItem(addr, 1), op, port) < 0) {
        return NULL;
    }
    unsigned long flowinfo = 0, scope_id = 0;
    if (n > 2 && uint_arg(PyTuple_GetItem(addr, 2), 0xfffff, "flowinfo", op, &flowinfo) < 0) {
        return NULL;
    }
    if (n > 3 && uint_arg(PyTuple_GetItem(addr, 3), 0xffffffffUL, "scope_id", op, &scope_id) < 0) {
        return NULL;
    }
    PyObject *host = host_text(PyTuple_GetItem(addr, 0));
    if (host != NULL && scope_id != 0 && strchr(PyBytes_AsString(host), '%') == NULL) {
        /* polysock takes the scope in the text (it has no flow label). */
        PyObject *scoped = PyBytes_FromFormat("%s%%%lu", PyBytes_AsString(host), scope_id);
        Py_DECREF(host);
        host = scoped;
    }
    return host;
}

/* The Python address of a polysock_addr: (host, port) for AF_INET, (host,
 * port, flowinfo, scope_id) for AF_INET6, str or abstract bytes for
 * AF_UNIX, None for none. */
static PyObject *addr_out(const polysock_addr *a)
{
    switch (a->family) {
    case 0:
        Py_RETURN_NONE;
    case POLYSOCK_AF_INET:
        return Py_BuildValue("(si)", a->host, a->port);
    case POLYSOCK_AF_INET6:
        /* As CPython since 3.7: the scope is scope_id, not a "%scope"
         * suffix of the host text. */
        return Py_BuildValue("(s#iII)", a->host, (Py_ssize_t)strcspn(a->host, "%"), a->port,
                             (unsigned)a->flowinfo, (unsigned)a->scope_id);
    case POLYSOCK_AF_UNIX:
        if (a->host[0] == '@') {
            size_t len = strlen(a->host);
            PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
            if (b != NULL) {
                char *p = BYTES_DATA(b);
                p[0] = '\0';
                memcpy(p + 1, a->host + 1, len - 1);
            }
            return b;
        }
        return PyUnicode_DecodeFSDefault(a->host);
    default:
        return Py_BuildValue("(si)", a->host, a->port);
    }
}

/* The Python form of an AF_UNIX name of `len` bytes as the kernel gives it
 * (polysock_*_unix), as CPython's: an abstract name (a leading NUL) is
 * bytes, a path str (file system encoding, surrogateescape), unnamed "". */
static PyObject *unix_out(const char *name, size_t len)
{
    if (len > POLYSOCK_UNIX_NAME_MAX) {
        len = POLYSOCK_UNIX_NAME_MAX; /* cut: more than sun_path holds */
    }
    if (len > 0 && name[0] == '\0') {
        return PyBytes_FromStringAndSize(name, (Py_ssize_t)len);
    }
    return PyUnicode_DecodeFSDefaultAndSize(name, (Py_ssize_t)strnlen(name, len));
}

/* A sender, as recvfrom and accept give it: polysock's address, or for an
 * AF_UNIX socket (`is_unix`) the name itself. */
typedef struct {
    int is_unix;
    int accepted; /* accept's peer, not a datagram's sender */
    size_t unix_len;
    char unix_name[POLYSOCK_UNIX_NAME_MAX];
    polysock_addr addr;
} Sender;

/* An unnamed AF_UNIX datagram sender is None, as CPython's recvfrom gives
 * it; an unnamed connecting peer (accept) "". */
static PyObject *sender_out(const Sender *from)
{
    if (!from->is_unix) {
        return addr_out(&from->addr);
    }
    if (from->unix_len == 0 && !from->accepted) {
        Py_RETURN_NONE;
    }
    return unix_out(from->unix_name, from->unix_len);
}

/* ----------------------------------------------------------------- sockets */

/* Fills in family/type/proto from polysock_info the first time one is
 * needed, for a socket made from a handle whose kind was not given: reading
 * them at creation would cost every connection two system calls
 * (getsockname, getpeername) that CPython's module does not make. Returns 0,
 * or polysock's code (no exception set). Closing fills them in first, so a
 * closed socket still reports them, as CPython's. */
static int kind_code(Sock *s)
{
    if (s->kind_known) {
        return 0;
    }
    polysock_socket_info info;
    if (polysock_info(s->handle, &info) < 0) {
        return polysock_errno();
    }
    s->family = info.family;
    s->type = info.socktype;
    s->proto = info.protocol;
    s->kind_known = 1;
    return 0;
}

/* kind_code, raising its failure: 0, or -1 with an exception set. */
static int sock_kind(Sock *s)
{
    int code = kind_code(s);
    if (code != 0) {
        raise_last(code);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- shared handles */

/* Handles that several socket objects share (socket(fileno=) of an fd an
 * object already owns, as CPython lets two objects use one fd): handle ->
 * how many objects hold it. NULL until sharing first happens, so close and
 * detach of an unshared socket pay one pointer test; send/recv never look.
 * The GIL guards it. */
static PyObject *shared;

/* The count for `h` (0: not shared), or -1 with an exception set. */
static Py_ssize_t shared_count(polysock_t h)
{
    if (shared == NULL || PyDict_GET_SIZE(shared) == 0) {
        return 0;
    }
    PyObject *key = PyLong_FromLongLong(h);
    if (key == NULL) {
        return -1;
    }
    PyObject *n = PyDict_GetItemWithError(shared, key);
    Py_DECREF(key);
    if (n == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return PyLong_AsSsize_t(n);
}

/* Sets the count for `h` (0 removes it): 0, or -1 with an exception set. */
static int shared_set(polysock_t h, Py_ssize_t n)
{
    if (shared == NULL && (shared = PyDict_New()) == NULL) {
        return -1;
    }
    PyObject *key = PyLong_FromLongLong(h);
    PyObject *value = key == NULL ? NULL : PyLong_FromSsize_t(n);
    int rc = value == NULL ? -1 : n > 0 ? PyDict_SetItem(shared, key, value)
                                        : PyDict_DelItem(shared, key);
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
}

/* One object less on `h`: how many are left (0 included), or -2 when `h`
 * was not shared. A failure of the table (no memory) is unraisable here:
 * the object lets the handle go all the same. */
static Py_ssize_t shared_drop(polysock_t h)
{
    Py_ssize_t n = shared_count(h);
    if (n > 0 && shared_set(h, n - 1) == 0) {
        return n - 1;
    }
    if (n != 0) {
        PyErr_WriteUnraisable(NULL);
    }
    return -2;
}

/* A new `type` object owning handle `h`, with the kind of `like` (the
 * listening or duplicated socket, as CPython's accept and dup take it) or,
 * when `like` is NULL, the kernel's, read when first needed. */
static Sock *sock_new_handle(PyTypeObject *type, polysock_t h, Sock *like)
{
    Sock *s = (Sock *)PyType_GenericAlloc(type, 0);
    if (s == NULL) {
        return NULL;
    }
    s->handle = h;
    s->closed_ms = -1;
    if (like != NULL && like->kind_known) {
        s->family = like->family;
        s->type = like->type;
        s->proto = like->proto;
        s->kind_known = 1;
    }
    return s;
}

static PyObject *sock_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    Sock *s = (Sock *)PyType_GenericAlloc(type, 0);
    if (s != NULL) {
        s->handle = -1;
        s->closed_ms = -1;
        s->kind_known = 1;
        s->family = POLYSOCK_AF_INET;
        s->type = POLYSOCK_SOCK_STREAM;
        s->proto = 0;
    }
    return (PyObject *)s;
}

static PyObject *sock_close(PyObject *self, PyObject *unused);

/* Closes the socket's old handle when __init__ is called again: 0, or -1
 * with close()'s exception set. */
static int sock_release(Sock *s)
{
    if (s->handle < 0) {
        return 0;
    }
    PyObject *r = sock_close((PyObject *)s, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* socket(fileno=fd) of an fd another object owns: this object uses that
 * object's handle (shared, counted); its kind is read now, while the fd is
 * surely open. 0, or -1 with an exception set. */
static int sock_share(Sock *s, int fd)
{
    polysock_t h = polysock_handle_of_fd(fd);
    if (h < 0) {
        raise_last(polysock_errno());
        return -1;
    }
    Py_ssize_t n = shared_count(h);
    if (n < 0 || sock_release(s) < 0) {
        return -1;
    }
    Sock probe = {.handle = h};
    if (sock_kind(&probe) < 0 || shared_set(h, (n == 0 ? 1 : n) + 1) < 0) {
        return -1;
    }
    s->handle = h;
    s->family = probe.family;
    s->type = probe.type;
    s->proto = probe.proto;
    s->kind_known = 1;
    return 0;
}

/* socket(family=-1, type=-1, proto=-1, fileno=None) */
static int sock_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"family", "type", "proto", "fileno", NULL};
    Sock *s = (Sock *)self;
    int family = -1, type = -1, proto = -1;
    PyObject *fileno = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|iiiO:socket", kwlist, &family, &type,
                                     &proto, &fileno)) {
        return -1;
    }
    polysock_t h;
    if (fileno == Py_None) {
        family = family == -1 ? POLYSOCK_AF_INET : family;
        type = type == -1 ? POLYSOCK_SOCK_STREAM : type;
        proto = proto == -1 ? 0 : proto;
        Py_BEGIN_ALLOW_THREADS
        h = polysock_socket(family, type, proto);
        Py_END_ALLOW_THREADS
    } else {
        if (PyFloat_Check(fileno)) {
            PyErr_SetString(PyExc_TypeError, "socket fileno must be an integer");
            return -1;
        }
        int fd;
        if (arg_int(fileno, &fd) < 0) {
            return -1;
        }
        if (fd < 0) {
            PyErr_SetString(PyExc_ValueError, "negative file descriptor");
            return -1;
        }
        h = polysock_adopt_fd(fd);
        if (h < 0 && polysock_errno() == EEXIST) {
            return sock_share(s, fd);
        }
    }
    if (h < 0) {
        raise_last(polysock_errno());
        return -1;
    }
    if (sock_release(s) < 0) { /* __init__ called again */
        polysock_close(h);
        return -1;
    }
    s->handle = h;
    /* A new socket is what was asked for, as CPython reports it (the type
     * without its creation flags); an adopted fd's kind is the kernel's. */
    s->kind_known = fileno == Py_None;
    s->family = family;
    s->type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    s->proto = proto;
    return 0;
}

static PyObject *sock_repr(PyObject *self)
{
    Sock *s = (Sock *)self;
    if (sock_kind(s) < 0) {
        return NULL;
    }
    long fd = s->handle < 0 ? -1 : (long)polysock_fileno(s->handle);
    return PyUnicode_FromFormat("<socket object, fd=%ld, family=%d, type=%d, proto=%d>", fd,
                                s->family, s->type, s->proto);
}

/* An unclosed socket warns (ResourceWarning) and is closed, as CPython's. */
static void sock_finalize(PyObject *self)
{
    Sock *s = (Sock *)self;
    if (s->handle < 0) {
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (PyErr_ResourceWarning(self, 1, "unclosed %R", self)) {
        /* A warning turned into an error cannot propagate from here. */
        if (PyErr_ExceptionMatches(PyExc_Warning)) {
            PyErr_WriteUnraisable(self);
        }
        PyErr_Clear();
    }
    if (shared != NULL) {
        shared_drop(s->handle);
    }
    polysock_close(s->handle);
    s->handle = -1;
    PyErr_Restore(type, value, tb);
}

static void sock_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (PyObject_CallFinalizerFromDealloc(self) < 0) {
        return; /* resurrected */
    }
    freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    tp_free(self);
    Py_DECREF(tp);
}

/* Gets a writable view of `obj` and the byte count to receive into it:
 * `nbytes` (0: the whole buffer). */
static int recv_target(PyObject *obj, PyObject *nbytes_obj, const char *op, Py_buffer *view,
                       Py_ssize_t *nbytes)
{
    Py_ssize_t n = 0;
    if (nbytes_obj != NULL && arg_size(nbytes_obj, &n) < 0) {
        return -1;
    }
    if (get_buffer(obj, view, PyBUF_WRITABLE, op) < 0) {
        return -1;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "negative buffersize in %s", op);
    } else if (n > view->len) {
        PyErr_Format(PyExc_ValueError, "buffer too small for requested bytes");
    } else {
        *nbytes = n == 0 ? view->len : n;
        return 0;
    }
    PyBuffer_Release(view);
    return -1;
}

static const char *const recv_into_names[] = {"buffer", "nbytes", "flags"};

/* Whether a socket of `type` keeps message boundaries (a zero-length
 * receive then consumes a message, as the system call does). */
static int is_datagram(int type)
{
    return (type & 0xf) != POLYSOCK_SOCK_STREAM;
}

/* One receive with the GIL released: polysock_recv, or polysock_recvfrom
 * when `from` wants the sender. polysock refuses a zero-length receive: on
 * a stream it only checks that the socket is open, as the system call
 * would; on a datagram socket it consumes the next datagram into a 1-byte
 * scratch buffer. */
static int64_t receive(Sock *s, void *buf, Py_ssize_t n, int flags, Sender *from, int *code)
{
    polysock_t h = s->handle;
    char scratch[1];
    int zero = n == 0;
    if ((zero || from != NULL) && (*code = kind_code(s)) != 0) {
        return -1;
    }
    if (from != NULL) {
        /* A stream's sender is None (the kernel names none), as CPython's. */
        from->is_unix = s->family == POLYSOCK_AF_UNIX && is_datagram(s->type);
        from->unix_len = 0;
        from->accepted = 0;
    }
    if (zero && is_datagram(s->type)) {
        buf = scratch;
        n = 1;
    }
    int64_t got;
    Py_BEGIN_ALLOW_THREADS
    if (n == 0) {
        got = polysock_fileno(h) < 0 ? -1 : 0;
        if (from != NULL) {
            from->addr.family = 0;
        }
    } else if (from != NULL && from->is_unix) {
        got = polysock_recvfrom_unix(h, buf, (size_t)n, flags, from->unix_name,
                                     sizeof from->unix_name, &from->unix_len);
    } else if (from != NULL) {
        got = polysock_recvfrom(h, buf, (size_t)n, flags, &from->addr);
    } else {
        got = polysock_recv(h, buf, (size_t)n, flags);
    }
    if (got < 0) {
        *code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    if (zero && got > 0 && !(flags & POLYSOCK_MSG_TRUNC)) {
        got = 0;
    }
    return got;
}

/* Shrinks the new bytes object *buf of `n` bytes in place to the `got`
 * that arrived (never grown: with MSG_TRUNC `got` may be a datagram's
 * real length). */
static void bytes_cut(PyObject **buf, Py_ssize_t n, int64_t got)
{
    if (got >= n) {
        return;
    }
    _PyBytes_Resize(buf, (Py_ssize_t)got);
}

/* recv(bufsize[, flags]) -> bytes; recvfrom(bufsize[, flags]) -> (bytes,
 * address). The bytes object is allocated once, received into, and shrunk
 * in place to what arrived. */
static PyObject *recv_bytes(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                            Sender *from, const char *name)
{
    Py_ssize_t n;
    int flags = 0;
    if (arg_count(name, nargs, 1, 2) < 0 || arg_size(args[0], &n) < 0 ||
        (nargs > 1 && arg_int(args[1], &flags) < 0)) {
        return NULL;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "negative buffersize in %s", name);
        return NULL;
    }
    PyObject *buf = PyBytes_FromStringAndSize(NULL, n);
    if (buf == NULL) {
        return NULL;
    }
    char *data = BYTES_DATA(buf);
    int code = 0;
    int64_t got = receive((Sock *)self, data, n, flags, from, &code);
    if (got < 0) {
        Py_DECREF(buf);
        return raise_last(code);
    }
    bytes_cut(&buf, n, got);
    return buf;
}

static PyObject *sock_recv(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return recv_bytes(self, args, nargs, NULL, "recv");
}

static PyObject *sock_recvfrom(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Sender from;
    PyObject *data = recv_bytes(self, args, nargs, &from, "recvfrom");
    return data == NULL ? NULL : Py_BuildValue("(NN)", data, sender_out(&from));
}

/* recv_into(buffer[, nbytes[, flags]]) -> nbytes received, and
 * recvfrom_into, straight into the caller's buffer: the count received, or
 * -1 with an exception set. */
static int64_t recv_buffer(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames, Sender *from, const char *name)
{
    PyObject *a[3];
    int flags = 0;
    if (arg_slots(name, recv_into_names, 3, 1, args, nargs, kwnames, a) < 0 ||
        (a[2] != NULL && arg_int(a[2], &flags) < 0)) {
        return -1;
    }
    Py_buffer view;
    Py_ssize_t n;
    if (recv_target(a[0], a[1], name, &view, &n) < 0) {
        return -1;
    }
    int code = 0;
    int64_t got = receive((Sock *)self, view.buf, n, flags, from, &code);
    PyBuffer_Release(&view);
    if (got < 0) {
        raise_last(code);
    }
    return got;
}

static PyObject *sock_recv_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    int64_t got = recv_buffer(self, args, nargs, kwnames, NULL, "recv_into");
    return got < 0 ? NULL : PyLong_FromLongLong(got);
}

static PyObject *sock_recvfrom_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    Sender from;
    int64_t got = recv_buffer(self, args, nargs, kwnames, &from, "recvfrom_into");
    return got < 0 ? NULL : Py_BuildValue("(LN)", (long long)got, sender_out(&from));
}

/* send(data[, flags]) -> bytes sent; sendall(data[, flags]) -> None */
static PyObject *send_common(PyObject *self, PyObject *const *args, Py_ssize_t nargs, int all)
{
    Sock *s = (Sock *)self;
    int flags = 0;
    if (arg_count(all ? "sendall" : "send", nargs, 1, 2) < 0 ||
        (nargs > 1 && arg_int(args[1], &flags) < 0)) {
        return NULL;
    }
    Py_buffer view;
    if (get_buffer(args[0], &view, PyBUF_SIMPLE, all ? "sendall" : "send") < 0) {
        return NULL;
    }
    polysock_t h = s->handle;
    int64_t n;
    int code = 0;
    Py_BEGIN_ALLOW_THREADS
    n = all ? polysock_sendall(h, view.buf, (size_t)view.len, flags, NULL)
            : polysock_send(h, view.buf, (size_t)view.len, flags);
    if (n < 0) {
        code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (n < 0) {
        return raise_last(code);
    }
    if (all) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(n);
}

static PyObject *sock_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return send_common(self, args, nargs, 0);
}

static PyObject *sock_sendall(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return send_common(self, args, nargs, 1);
}

/* sendto(data[, flags], address) -> bytes sent */
static PyObject *sock_sendto(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Sock *s = (Sock *)self;
    int flags = 0;
    if (nargs < 2 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "sendto() takes 2 or 3 arguments (%zd given)", nargs);
        return NULL;
    }
    /* In CPython's order (data, flags, address), and with the buffer
     * protocol's own TypeError for data, as CPython's sendto raises. */
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    int port;
    PyObject *host = NULL;
    if (nargs == 3 && arg_int(args[1], &flags) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    host = sock_kind(s) < 0 ? NULL : addr_in(s->family, args[nargs - 1], "sendto", &port);
    if (host == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    polysock_t h = s->handle;
    const char *text = PyBytes_AS_STRING(host);
    size_t text_len = (size_t)PyBytes_GET_SIZE(host);
    int is_unix = s->family == POLYSOCK_AF_UNIX;
    int64_t n;
    int code = 0;
    Py_BEGIN_ALLOW_THREADS
    n = is_unix ? polysock_sendto_unix(h, view.buf, (size_t)view.len, flags, text, text_len)
             : polysock_sendto(h, view.buf, (size_t)view.len, flags, text, port);
    if (n < 0) {
        code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    Py_DECREF(host);
    if (n < 0) {
        return raise_last(code);
    }
    return PyLong_FromLongLong(n);
}

/* ---------------------------------------------------------------- messages */

/* Buffers as many as fit here need no allocation (CPython allocates its
 * iovecs for every sendmsg/recvmsg). */
#define MSG_INLINE 8

/* The views of an iterable of buffers (sendmsg's, recvmsg_into's) and the
 * iovecs over them, straight into the caller's memory. */
typedef struct {
    Py_ssize_t count; /* views held */
    Py_ssize_t total; /* bytes in them */
    Py_buffer *views;
    polysock_iovec *iov;
    Py_buffer views_inline[MSG_INLINE];
    polysock_iovec iov_inline[MSG_INLINE];
} Bufs;

static void bufs_release(Bufs *b)
{
    for (Py_ssize_t i = 0; i < b->count; i++) {
        PyBuffer_Release(&b->views[i]);
    }
    if (b->views != b->views_inline) {
        PyMem_Free(b->views);
        PyMem_Free(b->iov);
    }
    b->count = 0;
    b->views = b->views_inline;
    b->iov = b->iov_inline;
}

/* Fills `b` from `obj`, an iterable of bytes-like objects (writable ones
 * when `writable`), with CPython's TypeErrors; more than IOV_MAX buffers is
 * EMSGSIZE, as the kernel says. */
static int bufs_get(PyObject *obj, int writable, const char *fname, Bufs *b)
{
    b->count = 0;
    b->total = 0;
    b->views = b->views_inline;
    b->iov = b->iov_inline;
    /* The message is a constant: formatting it per call costs more than
     * the rest of this function. */
    PyObject *seq = PySequence_Fast(obj, writable ? "recvmsg_into() argument 1 must be an iterable"
                                                  : "sendmsg() argument 1 must be an iterable");
    if (seq == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > POLYSOCK_IOV_MAX) {
        Py_DECREF(seq);
        char what[80];
        PyOS_snprintf(what, sizeof what, "%s: more than %d buffers", fname, POLYSOCK_IOV_MAX);
        raise_code(EMSGSIZE, what);
        return -1;
    }
    if (n > MSG_INLINE) {
        b->views = PyMem_New(Py_buffer, n);
        b->iov = PyMem_New(polysock_iovec, n);
        if (b->views == NULL || b->iov == NULL) {
            bufs_release(b);
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer *v = &b->views[i];
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, i), v,
                               writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) {
            if (PyErr_ExceptionMatches(PyExc_BufferError) ||
                PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Format(PyExc_TypeError,
                             writable ? "%s() argument 1 must be an iterable of single-segment "
                                        "read-write buffers"
                                      : "%s() argument 1 must be an iterable of bytes-like objects",
                             fname);
            }
            break;
        }
        b->count = i + 1;
        if (v->len > PY_SSIZE_T_MAX - b->total) {
            PyErr_Format(PyExc_OverflowError, "%s() argument 1 is too long", fname);
            break;
        }
        b->iov[i].base = v->buf;
        b->iov[i].len = (size_t)v->len;
        b->total += v->len;
    }
    Py_DECREF(seq);
    if (PyErr_Occurred()) {
        bufs_release(b);
        return -1;
    }
    return 0;
}

/* sendmsg's ancillary data and recvmsg's room for it: the kernel's cmsghdr
 * layout in `inline_buf` when it fits (CPython allocates it for every
 * call), else on the heap. */
#define CONTROL_INLINE 256

typedef struct {
    void *buf;  /* NULL: none */
    size_t len; /* sendmsg: bytes laid out; recvmsg: the kernel's msg_controllen */
    union {
        struct cmsghdr align;
        char bytes[CONTROL_INLINE];
    } inline_buf;
} Control;

static int control_alloc(Control *c, size_t size)
{
    c->len = 0;
    c->buf = size <= CONTROL_INLINE ? c->inline_buf.bytes : PyMem_Malloc(size);
    if (c->buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void control_release(Control *c)
{
    if (c->buf != NULL && c->buf != (void *)c->inline_buf.bytes) {
        PyMem_Free(c->buf);
    }
    c->buf = NULL;
    c->len = 0;
}

/* One item of sendmsg's ancillary data, held until it is laid out. */
typedef struct {
    int level;
    int type;
    Py_buffer data;
} AncItem;

#define ANC_INLINE 4

/* An item as CPython's "(iiy*)" takes it: a sequence of 3 (not bytes),
 * two C ints and a bytes-like object. */
static int anc_item(PyObject *item, AncItem *a)
{
    static const char what[] = "[sendmsg() ancillary data items]() argument";
    if (!PySequence_Check(item) || PyBytes_Check(item) || PyByteArray_Check(item)) {
        type_error(PyExc_TypeError, "%s must be 3-item sequence, not %U", what, item);
        return -1;
    }
    Py_ssize_t n = PySequence_Size(item);
    if (n < 0) {
        return -1;
    }
    if (n != 3) {
        PyErr_Format(PyExc_TypeError, "%s must be sequence of length 3, not %zd", what, n);
        return -1;
    }
    PyObject *t = PySequence_Tuple(item);
    if (t == NULL) {
        return -1;
    }
    int rc = -1;
    if (arg_int(PyTuple_GET_ITEM(t, 0), &a->level) == 0 &&
        arg_int(PyTuple_GET_ITEM(t, 1), &a->type) == 0) {
        rc = PyObject_GetBuffer(PyTuple_GET_ITEM(t, 2), &a->data, PyBUF_SIMPLE);
    }
    Py_DECREF(t);
    return rc;
}

/* Lays out `ancdata`, CPython's [(level, type, data)], into `c` as CPython
 * does: each item CMSG_SPACE(len) bytes, its cmsg_len CMSG_LEN(len), the
 * padding zero. No items: c->buf NULL. */
static int control_out(PyObject *ancdata, Control *c)
{
    c->buf = NULL;
    c->len = 0;
    PyObject *seq = PySequence_Fast(ancdata, "sendmsg() argument 2 must be an iterable");
    if (seq == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    AncItem inline_items[ANC_INLINE];
    AncItem *items = n > ANC_INLINE ? PyMem_New(AncItem, n) : inline_items;
    if (items == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t held = 0;
    size_t space = 0;
    int rc = -1;
    for (; held < n; held++) {
        if (anc_item(PySequence_Fast_GET_ITEM(seq, held), &items[held]) < 0) {
            goto done;
        }
        size_t len = (size_t)items[held].data.len;
        if (len > (size_t)INT_MAX || CMSG_SPACE(len) > (size_t)INT_MAX - space) {
            held++;
            PyErr_SetString(PyExc_OverflowError, "too much ancillary data");
            goto done;
        }
        space += CMSG_SPACE(len);
    }
    if (n > 0) {
        if (control_alloc(c, space) < 0) {
            goto done;
        }
        memset(c->buf, 0, space);
        char *p = c->buf;
        for (Py_ssize_t i = 0; i < n; i++) {
            struct cmsghdr *h = (struct cmsghdr *)p;
            size_t len = (size_t)items[i].data.len;
            h->cmsg_len = CMSG_LEN(len);
            h->cmsg_level = items[i].level;
            h->cmsg_type = items[i].type;
            if (len > 0) {
                memcpy(CMSG_DATA(h), items[i].data.buf, len);
            }
            p += CMSG_SPACE(len);
        }
        c->len = space;
    }
    rc = 0;
done:
    for (Py_ssize_t i = 0; i < held; i++) {
        PyBuffer_Release(&items[i].data);
    }
    if (items != inline_items) {
        PyMem_Free(items);
    }
    Py_DECREF(seq);
    return rc;
}

/* sendmsg(buffers[, ancdata[, flags[, address]]]) -> bytes sent */
static PyObject *sock_sendmsg(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Sock *s = (Sock *)self;
    int flags = 0, port = 0;
    if (arg_count("sendmsg", nargs, 1, 4) < 0 || (nargs > 2 && arg_int(args[2], &flags) < 0)) {
        return NULL;
    }
    PyObject *host = NULL;
    if (nargs > 3 && args[3] != Py_None) {
        host = sock_kind(s) < 0                  ? NULL
               : s->family == POLYSOCK_AF_UNIX ? unix_text(args[3])
                                               : addr_in(s->family, args[3], "sendmsg", &port);
        if (host == NULL) {
            return NULL;
        }
    }
    Bufs b;
    if (bufs_get(args[0], 0, "sendmsg", &b) < 0) {
        Py_XDECREF(host);
        return NULL;
    }
    Control c = {NULL, 0};
    if (nargs > 1 && control_out(args[1], &c) < 0) {
        bufs_release(&b);
        Py_XDECREF(host);
        return NULL;
    }
    polysock_t h = s->handle;
    const char *text = host == NULL ? NULL : PyBytes_AS_STRING(host);
    polysock_addr to;
    to.family = 0;
    if (c.buf != NULL && host != NULL) {
        size_t len = (size_t)PyBytes_GET_SIZE(host);
        if (len >= sizeof to.host) {
            bufs_release(&b);
            control_release(&c);
            Py_DECREF(host);
            return raise_code(EINVAL, "sendmsg: address too long");
        }
        to.family = s->family;
        to.port = port;
        to.flowinfo = 0;
        to.scope_id = 0;
        memcpy(to.host, text, len + 1);
    }
    int64_t n;
    int code = 0;
    Py_BEGIN_ALLOW_THREADS
    if (c.buf == NULL) {
        n = polysock_sendmsg(h, b.iov, (size_t)b.count, flags, text, port);
    } else {
        n = polysock_sendmsg_ex(h, b.iov, (size_t)b.count, c.buf, c.len, flags, &to);
    }
    if (n < 0) {
        code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    bufs_release(&b);
    control_release(&c);
    Py_XDECREF(host);
    if (n < 0) {
        return raise_last(code);
    }
    return PyLong_FromLongLong(n);
}

/* What one received message brought besides its bytes. */
typedef struct {
    polysock_addr from;
    int32_t flags;
    Control control; /* buf NULL: no room was asked for */
} MsgIn;

/* Receives one message into `iov` (`total` bytes in `count` buffers) with
 * the GIL released, with room for `ancbufsize` bytes of ancillary data
 * (polysock_recvmsg_ex; received descriptors are the caller's,
 * close-on-exec). Zero bytes of room for either: as receive(). Returns the
 * count, or -1 (*code), or -2 with a Python exception set; m->control is
 * the caller's to release either way. */
static int64_t receive_msg(Sock *s, polysock_iovec *iov, Py_ssize_t count, Py_ssize_t total,
                           Py_ssize_t ancbufsize, int flags, MsgIn *m, int *code)
{
    polysock_t h = s->handle;
    int64_t got;
    m->from.family = 0;
    m->flags = 0;
    m->control.buf = NULL;
    m->control.len = 0;
    if (ancbufsize > 0) {
        polysock_iovec none = {NULL, 0};
        if (count == 0) {
            iov = &none;
            count = 1;
        }
        if (control_alloc(&m->control, (size_t)ancbufsize) < 0) {
            return -2;
        }
        Py_BEGIN_ALLOW_THREADS
        got = polysock_recvmsg_ex(h, iov, (size_t)count, m->control.buf, (size_t)ancbufsize,
                                  flags, &m->from, &m->control.len, &m->flags);
        if (got < 0) {
            *code = polysock_errno();
        }
        Py_END_ALLOW_THREADS
        return got;
    }
    char one[1];
    polysock_iovec scratch_iov = {one, 1};
    int zero = total == 0;
    if (zero) {
        if ((*code = kind_code(s)) != 0) {
            return -1;
        }
        if (!is_datagram(s->type)) {
            return polysock_fileno(h) < 0 ? (*code = polysock_errno(), -1) : 0;
        }
        iov = &scratch_iov;
        count = 1;
    }
    Py_BEGIN_ALLOW_THREADS
    got = polysock_recvmsg(h, iov, (size_t)count, flags, &m->from, &m->flags);
    if (got < 0) {
        *code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    if (zero && got > 0) {
        m->flags |= POLYSOCK_MSG_TRUNC;
        if (!(flags & POLYSOCK_MSG_TRUNC)) {
            got = 0;
        }
    }
    return got;
}

/* Calls `each` on every control message of `m` as CPython walks them
 * (CMSG_FIRSTHDR/CMSG_NXTHDR), with the data bytes that arrived (a message
 * cut by MSG_CTRUNC keeps what fits); `cut` says when a message is
 * malformed or truncated. Stops at a message too short to read, or when
 * `each` returns nonzero (returned). */
typedef int (*cmsg_fn)(const struct cmsghdr *h, size_t datalen, int cut, void *arg);

static int control_walk(Control *c, cmsg_fn each, void *arg)
{
    if (c->buf == NULL) {
        return 0;
    }
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_control = c->buf;
    mh.msg_controllen = c->len;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h != NULL; h = CMSG_NXTHDR(&mh, h)) {
        size_t room = c->len - (size_t)((char *)h - (char *)c->buf);
        if (room < CMSG_LEN(0) || h->cmsg_len < CMSG_LEN(0)) {
            return each(h, 0, -1, arg);
        }
        size_t datalen = h->cmsg_len - CMSG_LEN(0);
        int cut = datalen > room - CMSG_LEN(0);
        int r = each(h, cut ? room - CMSG_LEN(0) : datalen, cut, arg);
        if (r != 0) {
            return r;
        }
    }
    return 0;
}

/* control_walk's step for control_close_fds. */
static int close_fds_of(const struct cmsghdr *h, size_t datalen, int cut, void *arg)
{
    (void)arg;
    if (cut >= 0 && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
        for (size_t i = 0; i + sizeof(int) <= datalen; i += sizeof(int)) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i, sizeof fd);
            close(fd);
        }
    }
    return cut < 0;
}

/* Closes the descriptors received in `c` (SCM_RIGHTS): a failed recvmsg
 * result leaks none, as CPython's. */
static void control_close_fds(Control *c)
{
    control_walk(c, close_fds_of, NULL);
}

/* control_walk's step for control_in: appends (level, type, data). */
static int append_item(const struct cmsghdr *h, size_t datalen, int cut, void *arg)
{
    if (cut && PyErr_WarnEx(PyExc_RuntimeWarning,
                            "received malformed or improperly-truncated ancillary data",
                            1) < 0) {
        return -1;
    }
    if (cut < 0) {
        return 1;
    }
    PyObject *item = Py_BuildValue("(iiy#)", h->cmsg_level, h->cmsg_type,
                                   (const char *)CMSG_DATA(h), (Py_ssize_t)datalen);
    if (item == NULL) {
        return -1;
    }
    int r = PyList_Append((PyObject *)arg, item);
    Py_DECREF(item);
    return r;
}

/* CPython's [(level, type, data)] of the control data received. */
static PyObject *control_in(Control *c)
{
    PyObject *list = PyList_New(0);
    if (list != NULL && control_walk(c, append_item, list) < 0) {
        Py_CLEAR(list);
    }
    return list;
}

/* The (data, ancdata, msg_flags, address) tail of recvmsg's result; frees
 * m's control buffer. On failure the descriptors received are closed. */
static PyObject *msg_result(PyObject *first, MsgIn *m)
{
    PyObject *anc = first == NULL ? NULL : control_in(&m->control);
    PyObject *flags = PyLong_FromLong(m->flags);
    PyObject *addr = addr_out(&m->from);
    PyObject *t = PyTuple_New(4);
    if (first == NULL || anc == NULL || flags == NULL || addr == NULL || t == NULL) {
        control_close_fds(&m->control);
        control_release(&m->control);
        Py_XDECREF(first);
        Py_XDECREF(anc);
        Py_XDECREF(flags);
        Py_XDECREF(addr);
        Py_XDECREF(t);
        return NULL;
    }
    control_release(&m->control);
    PyTuple_SET_ITEM(t, 0, first);
    PyTuple_SET_ITEM(t, 1, anc);
    PyTuple_SET_ITEM(t, 2, flags);
    PyTuple_SET_ITEM(t, 3, addr);
    return t;
}

/* recvmsg's and recvmsg_into's (ancbufsize, flags) from args[from..]. */
static int msg_options(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                       Py_ssize_t from, Py_ssize_t *ancbufsize, int *flags)
{
    *ancbufsize = 0;
    *flags = 0;
    if (arg_count(fname, nargs, from, from + 2) < 0 ||
        (nargs > from && arg_size(args[from], ancbufsize) < 0) ||
        (nargs > from + 1 && arg_int(args[from + 1], flags) < 0)) {
        return -1;
    }
    if (*ancbufsize < 0 || *ancbufsize > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "invalid ancillary data buffer length");
        return -1;
    }
    return 0;
}

/* recvmsg(bufsize[, ancbufsize[, flags]]) -> (data, ancdata, msg_flags, address) */
static PyObject *sock_recvmsg(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t n, ancbufsize;
    int flags;
    if (arg_count("recvmsg", nargs, 1, 3) < 0 || arg_size(args[0], &n) < 0 ||
        msg_options("recvmsg", args, nargs, 1, &ancbufsize, &flags) < 0) {
        return NULL;
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffer size in recvmsg()");
        return NULL;
    }
    PyObject *buf = PyBytes_FromStringAndSize(NULL, n);
    if (buf == NULL) {
        return NULL;
    }
    polysock_iovec iov = {BYTES_DATA(buf), (size_t)n};
    MsgIn m;
    int code = 0;
    int64_t got = receive_msg((Sock *)self, &iov, 1, n, ancbufsize, flags, &m, &code);
    if (got < 0) {
        control_release(&m.control);
        Py_DECREF(buf);
        return got == -2 ? NULL : raise_last(code);
    }
    bytes_cut(&buf, n, got);
    return msg_result(buf, &m);
}

/* recvmsg_into(buffers[, ancbufsize[, flags]]) -> (nbytes, ancdata, msg_flags, address) */
static PyObject *sock_recvmsg_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t ancbufsize;
    int flags;
    if (arg_count("recvmsg_into", nargs, 1, 3) < 0 ||
        msg_options("recvmsg_into", args, nargs, 1, &ancbufsize, &flags) < 0) {
        return NULL;
    }
    Bufs b;
    if (bufs_get(args[0], 1, "recvmsg_into", &b) < 0) {
        return NULL;
    }
    MsgIn m;
    int code = 0;
    int64_t got = receive_msg((Sock *)self, b.iov, b.count, b.total, ancbufsize, flags, &m, &code);
    bufs_release(&b);
    if (got < 0) {
        control_release(&m.control);
        return got == -2 ? NULL : raise_last(code);
    }
    return msg_result(PyLong_FromLongLong(got), &m);
}

/* bind(address), connect(address), connect_ex(address) */
enum addr_op { OP_BIND, OP_CONNECT, OP_CONNECT_EX };

static PyObject *addr_call(PyObject *self, PyObject *addr, enum addr_op op)
{
    static const char *const names[] = {"bind", "connect", "connect_ex"};
    Sock *s = (Sock *)self;
    int port;
    PyObject *host = sock_kind(s) < 0 ? NULL : addr_in(s->family, addr, names[op], &port);
    if (host == NULL) {
        return NULL;
    }
    polysock_t h = s->handle;
    const char *text = PyBytes_AS_STRING(host);
    size_t len = (size_t)PyBytes_GET_SIZE(host);
    int is_unix = s->family == POLYSOCK_AF_UNIX;
    int rc;
    int code = 0;
    Py_BEGIN_ALLOW_THREADS
    switch (op) {
    case OP_BIND:
        rc = is_unix ? polysock_bind_unix(h, text, len) : polysock_bind(h, text, port);
        break;
    case OP_CONNECT:
        rc = is_unix ? polysock_connect_unix(h, text, len) : polysock_connect(h, text, port);
        break;
    default:
        if (is_unix) { /* connect_ex's errno: connect's code */
            rc = polysock_connect_unix(h, text, len) < 0 ? polysock_errno() : 0;
        } else {
            rc = polysock_connect_ex(h, text, port);
        }
        break;
    }
    if (rc < 0) {
        code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(host);
    if (op == OP_CONNECT_EX) {
        /* Name resolution failures raise, as CPython's connect_ex does, and
         * so does a signal handler's exception. */
        if (rc >= POLYSOCK_ERR_BASE || (rc == EINTR && PyErr_Occurred())) {
            return raise_last(rc);
        }
        return PyLong_FromLong(rc);
    }
    if (rc < 0) {
        return raise_last(code);
    }
    Py_RETURN_NONE;
}

static PyObject *sock_bind(PyObject *self, PyObject *addr)
{
    return addr_call(self, addr, OP_BIND);
}

static PyObject *sock_connect(PyObject *self, PyObject *addr)
{
    return addr_call(self, addr, OP_CONNECT);
}

static PyObject *sock_connect_ex(PyObject *self, PyObject *addr)
{
    return addr_call(self, addr, OP_CONNECT_EX);
}

/* listen([backlog]) */
static PyObject *sock_listen(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int backlog = -1; /* polysock: min(SOMAXCONN, 128), as CPython's default */
    if (arg_count("listen", nargs, 0, 1) < 0 || (nargs == 1 && arg_int(args[0], &backlog) < 0)) {
        return NULL;
    }
    if (nargs == 1 && backlog < 0) {
        backlog = 0; /* CPython clamps a negative backlog to 0 */
    }
    if (polysock_listen(((Sock *)self)->handle, backlog) < 0) {
        return raise_last(polysock_errno());
    }
    Py_RETURN_NONE;
}

/* _accept() -> (handle, address): the new socket's polysock handle, which
 * socket(fileno=...) of the top layer takes over. */
static PyObject *sock_accept(PyObject *self, PyObject *unused)
{
    (void)unused;
    Sock *s = (Sock *)self;
    polysock_t h = s->handle;
    if (sock_kind(s) < 0) {
        return NULL;
    }
    Sender peer;
    peer.is_unix = s->family == POLYSOCK_AF_UNIX;
    peer.accepted = 1;
    polysock_t c;
    int code = 0;
    Py_BEGIN_ALLOW_THREADS
    c = peer.is_unix ? polysock_accept_unix(h, peer.unix_name, sizeof peer.unix_name, &peer.unix_len)
                  : polysock_accept(h, &peer.addr);
    if (c < 0) {
        code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    if (c < 0) {
        return raise_last(code);
    }
    PyObject *addr = sender_out(&peer);
    if (addr == NULL) {
        polysock_close(c);
        return NULL;
    }
    return Py_BuildValue("(LN)", (long long)c, addr);
}

/* Keeps what a closed socket still reports: its kind and timeout. */
static void keep_for_closed(Sock *s)
{
    if (kind_code(s) != 0) {
        s->kind_known = 1; /* the handle is gone: the defaults remain */
    }
    polysock_gettimeout(s->handle, &s->closed_ms);
}

/* close(), as CPython's: the fd is closed with close(2) here, so that its
 * failure is reported (OSError(EBADF) when the fd was closed behind the
 * socket's back; ECONNRESET is ignored, as CPython ignores it) at the cost
 * of no extra system call. While another thread is inside a call on the
 * socket polysock_detach refuses (EBUSY) and polysock_close wakes that call
 * instead. */
static PyObject *sock_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    Sock *s = (Sock *)self;
    polysock_t h = s->handle;
    if (h < 0) {
        Py_RETURN_NONE;
    }
    keep_for_closed(s);
    s->handle = -1;
    if (shared != NULL && shared_drop(h) >= 0 && polysock_fileno(h) < 0) {
        /* Another object on the same fd closed it, so close(2) would fail
         * here: as CPython's close() does. */
        errno = EBADF;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    int fd = polysock_detach(h);
    int rc = 0, err = 0;
    Py_BEGIN_ALLOW_THREADS
    if (fd >= 0) {
        rc = close(fd);
        err = errno;
    } else {
        polysock_close(h);
    }
    Py_END_ALLOW_THREADS
    if (rc < 0 && err != ECONNRESET) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *sock_detach(PyObject *self, PyObject *unused)
{
    (void)unused;
    Sock *s = (Sock *)self;
    if (s->handle < 0) {
        return PyLong_FromLong(-1);
    }
    int64_t ms = s->closed_ms;
    int kind_known = s->kind_known;
    keep_for_closed(s);
    polysock_t h = s->handle;
    Py_ssize_t left = shared == NULL ? -2 : shared_drop(h);
    if (left > 0 || (left == 0 && polysock_fileno(h) < 0)) {
        /* Other objects still use the handle (or it is closed): forget it
         * here only, as CPython forgets the fd. */
        s->handle = -1;
        return PyLong_FromLong(left > 0 ? (long)polysock_fileno(h) : -1);
    }
    int fd = polysock_detach(h);
    if (fd < 0) {
        if (left == 0) {
            shared_set(h, 1); /* still held by this object (EBUSY) */
            PyErr_Clear();
        }
        s->closed_ms = ms;
        s->kind_known = kind_known;
        return raise_last(polysock_errno());
    }
    s->handle = -1;
    return PyLong_FromLong(fd);
}

/* dup() -> handle: a new handle on a duplicate fd with the same timeout,
 * which the Python layer wraps with _from_handle. */
static PyObject *sock_dup(PyObject *self, PyObject *unused)
{
    (void)unused;
    polysock_t h = polysock_dup(((Sock *)self)->handle);
    if (h < 0) {
        return raise_last(polysock_errno());
    }
    return PyLong_FromLongLong(h);
}

/* _from_handle(handle[, like]) (classmethod): a new `cls` object that owns
 * `handle`, without __init__, with the family/type/proto of socket `like`
 * (accept and dup give the socket they come from) or else the kernel's; on
 * failure the handle is closed. */
static PyObject *sock_from_handle(PyObject *cls, PyObject *const *args, Py_ssize_t nargs)
{
    if (arg_count("_from_handle", nargs, 1, 2) < 0) {
        return NULL;
    }
    long long h = PyLong_AsLongLong(args[0]);
    if (h == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *like = nargs > 1 ? args[1] : Py_None;
    if (like != Py_None && !PyObject_TypeCheck(like, SockType)) {
        polysock_close((polysock_t)h);
        return type_error(PyExc_TypeError, "%s() argument 2 must be a socket, not %U",
                          "_from_handle", like);
    }
    /* A table lookup, no system call: the kind is read when needed. */
    if (polysock_fileno((polysock_t)h) < 0) {
        return raise_last(polysock_errno());
    }
    Sock *s = sock_new_handle((PyTypeObject *)cls, (polysock_t)h,
                              like == Py_None ? NULL : (Sock *)like);
    if (s == NULL) {
        polysock_close((polysock_t)h);
    }
    return (PyObject *)s;
}

static PyObject *sock_handle_get(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(((Sock *)self)->handle);
}

static PyObject *sock_fileno(PyObject *self, PyObject *unused)
{
    (void)unused;
    Sock *s = (Sock *)self;
    return PyLong_FromLong(s->handle < 0 ? -1 : (long)polysock_fileno(s->handle));
}

/* The timeout in polysock's milliseconds for a Python value: None is -1, a
 * number of seconds >= 0 is rounded up to a whole millisecond (never down
 * to 0, which would make the socket non-blocking). */
static int timeout_ms(PyObject *value, int64_t *ms)
{
    if (value == Py_None) {
        *ms = -1;
        return 0;
    }
    double secs = PyFloat_AsDouble(value);
    if (secs == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    if (secs < 0 || secs != secs) {
        PyErr_SetString(PyExc_ValueError, "Timeout value out of range");
        return -1;
    }
    double m = secs * 1000.0;
    if (m > 9.2e18) {
        PyErr_SetString(PyExc_OverflowError, "timeout doesn't fit into C timeval");
        return -1;
    }
    int64_t whole = (int64_t)m;
    *ms = whole + ((double)whole < m);
    return 0;
}

static PyObject *timeout_value(int64_t ms)
{
    if (ms < 0) {
        Py_RETURN_NONE;
    }
    return PyFloat_FromDouble((double)ms / 1000.0);
}

static PyObject *sock_settimeout(PyObject *self, PyObject *value)
{
    int64_t ms;
    if (timeout_ms(value, &ms) < 0) {
        return NULL;
    }
    if (polysock_settimeout(((Sock *)self)->handle, ms) < 0) {
        return raise_last(polysock_errno());
    }
    Py_RETURN_NONE;
}

static PyObject *sock_gettimeout(PyObject *self, PyObject *unused)
{
    (void)unused;
    Sock *s = (Sock *)self;
    int64_t ms = s->closed_ms;
    if (s->handle >= 0 && polysock_gettimeout(s->handle, &ms) < 0) {
        return raise_last(polysock_errno());
    }
    return timeout_value(ms);
}

static PyObject *sock_timeout_get(PyObject *self, void *closure)
{
    (void)closure;
    return sock_gettimeout(self, NULL);
}

static PyObject *sock_setblocking(PyObject *self, PyObject *flag)
{
    long on = PyLong_AsLong(flag);
    if (on == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (polysock_setblocking(((Sock *)self)->handle, on != 0) < 0) {
        return raise_last(polysock_errno());
    }
    Py_RETURN_NONE;
}

static PyObject *sock_getblocking(PyObject *self, PyObject *unused)
{
    (void)unused;
    Sock *s = (Sock *)self;
    if (s->handle < 0) {
        return PyBool_FromLong(s->closed_ms != 0);
    }
    int on = polysock_getblocking(s->handle);
    if (on < 0) {
        return raise_last(polysock_errno());
    }
    return PyBool_FromLong(on);
}

static PyObject *sock_shutdown(PyObject *self, PyObject *how_obj)
{
    int how;
    if (arg_int(how_obj, &how) < 0) {
        return NULL;
    }
    if (polysock_shutdown(((Sock *)self)->handle, how) < 0) {
        return raise_last(polysock_errno());
    }
    Py_RETURN_NONE;
}

/* getsockname(), getpeername() */
static PyObject *name_call(PyObject *self, int peer)
{
    Sock *s = (Sock *)self;
    polysock_t h = s->handle;
    if (sock_kind(s) < 0) {
        return NULL;
    }
    if (s->family == POLYSOCK_AF_UNIX) {
        char name[POLYSOCK_UNIX_NAME_MAX];
        size_t len;
        int rc = peer ? polysock_getpeername_unix(h, name, sizeof name, &len)
                      : polysock_getsockname_unix(h, name, sizeof name, &len);
        return rc < 0 ? raise_last(polysock_errno()) : unix_out(name, len);
    }
    polysock_addr a;
    int rc = peer ? polysock_getpeername(h, &a) : polysock_getsockname(h, &a);
    if (rc < 0) {
        return raise_last(polysock_errno());
    }
    return addr_out(&a);
}

static PyObject *sock_getsockname(PyObject *self, PyObject *unused)
{
    (void)unused;
    return name_call(self, 0);
}

static PyObject *sock_getpeername(PyObject *self, PyObject *unused)
{
    (void)unused;
    return name_call(self, 1);
}

/* setsockopt(level, option, value: int | buffer) or
 * setsockopt(level, option, None, optlen) */
/* Whether the int form of an option is 64 bits wide: on an AF_VSOCK socket
 * (its buffer sizes), as CPython's getsockopt/setsockopt take it; -1 with an
 * exception set when the kind cannot be read. */
static int wide_options(Sock *s)
{
    if (sock_kind(s) < 0) {
        return -1;
    }
    return s->family == POLYSOCK_AF_VSOCK;
}

static PyObject *sock_setsockopt(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    polysock_t h = ((Sock *)self)->handle;
    int level, option;
    if (arg_count("setsockopt", nargs, 3, 4) < 0 || arg_int(args[0], &level) < 0 ||
        arg_int(args[1], &option) < 0) {
        return NULL;
    }
    int rc;
    if (nargs == 4) {
        Py_ssize_t optlen;
        if (args[2] != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "setsockopt() takes 3 arguments, or 4 with None as the third");
            return NULL;
        }
        if (arg_size(args[3], &optlen) < 0) {
            return NULL;
        }
        rc = polysock_setsockopt_bytes(h, level, option, NULL, (size_t)optlen);
    } else if (PyLong_Check(args[2])) {
        int wide = wide_options((Sock *)self);
        if (wide < 0) {
            return NULL;
        }
        if (wide) {
            /* CPython's "K": unsigned, no overflow check. */
            unsigned long long v = PyLong_AsUnsignedLongLongMask(args[2]);
            if (v == (unsigned long long)-1 && PyErr_Occurred()) {
                return NULL;
            }
            uint64_t v64 = v;
            rc = polysock_setsockopt_bytes(h, level, option, &v64, sizeof v64);
            goto done;
        }
        int value;
        if (arg_int(args[2], &value) < 0) {
            return NULL;
        }
        rc = polysock_setsockopt_int(h, level, option, value);
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(args[2], &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        rc = polysock_setsockopt_bytes(h, level, option, view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
    }
done:
    if (rc < 0) {
        return raise_last(polysock_errno());
    }
    Py_RETURN_NONE;
}

/* getsockopt(level, option[, buflen]) -> int, or bytes of at most buflen */
static PyObject *sock_getsockopt(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    polysock_t h = ((Sock *)self)->handle;
    int level, option, buflen = 0;
    if (arg_count("getsockopt", nargs, 2, 3) < 0 || arg_int(args[0], &level) < 0 ||
        arg_int(args[1], &option) < 0 || (nargs == 3 && arg_int(args[2], &buflen) < 0)) {
        return NULL;
    }
    int wide = nargs < 3 ? wide_options((Sock *)self) : 0;
    if (wide < 0) {
        return NULL;
    }
    if (wide) {
        uint64_t v = 0;
        size_t len;
        if (polysock_getsockopt_bytes(h, level, option, &v, sizeof v, &len) < 0) {
            return raise_last(polysock_errno());
        }
        return PyLong_FromUnsignedLongLong(v);
    }
    if (nargs < 3) {
        int32_t value;
        if (polysock_getsockopt_int(h, level, option, &value) < 0) {
            return raise_last(polysock_errno());
        }
        return PyLong_FromLong(value);
    }
    if (buflen <= 0 || buflen > 1024) {
        PyErr_SetString(PyExc_OSError, "getsockopt buflen out of range");
        return NULL;
    }
    char buf[1024];
    size_t len;
    if (polysock_getsockopt_bytes(h, level, option, buf, (size_t)buflen, &len) < 0) {
        return raise_last(polysock_errno());
    }
    return PyBytes_FromStringAndSize(buf, (Py_ssize_t)len);
}

static PyMethodDef sock_methods[] = {
    {"_accept", sock_accept, METH_NOARGS, "_accept() -> (handle, address)"},
    {"bind", sock_bind, METH_O, "bind(address)"},
    {"close", sock_close, METH_NOARGS, "close()"},
    {"connect", sock_connect, METH_O, "connect(address)"},
    {"connect_ex", sock_connect_ex, METH_O, "connect_ex(address) -> errno"},
    {"_from_handle", (PyCFunction)(void (*)(void))sock_from_handle, METH_FASTCALL | METH_CLASS,
     "_from_handle(handle[, like]) -> a socket of this class owning handle"},
    {"detach", sock_detach, METH_NOARGS, "detach() -> file descriptor"},
    {"dup", sock_dup, METH_NOARGS, "dup() -> handle of a duplicate"},
    {"fileno", sock_fileno, METH_NOARGS, "fileno() -> integer"},
    {"getblocking", sock_getblocking, METH_NOARGS, "getblocking() -> bool"},
    {"getpeername", sock_getpeername, METH_NOARGS, "getpeername() -> address"},
    {"getsockname", sock_getsockname, METH_NOARGS, "getsockname() -> address"},
    {"getsockopt", (PyCFunction)(void (*)(void))sock_getsockopt, METH_FASTCALL,
     "getsockopt(level, option[, buflen])"},
    {"gettimeout", sock_gettimeout, METH_NOARGS, "gettimeout() -> seconds or None"},
    {"listen", (PyCFunction)(void (*)(void))sock_listen, METH_FASTCALL, "listen([backlog])"},
    {"recv", (PyCFunction)(void (*)(void))sock_recv, METH_FASTCALL,
     "recv(buffersize[, flags]) -> data"},
    {"recv_into", (PyCFunction)(void (*)(void))sock_recv_into, METH_FASTCALL | METH_KEYWORDS,
     "recv_into(buffer[, nbytes[, flags]]) -> nbytes_read"},
    {"recvmsg", (PyCFunction)(void (*)(void))sock_recvmsg, METH_FASTCALL,
     "recvmsg(bufsize[, ancbufsize[, flags]]) -> (data, ancdata, msg_flags, address)"},
    {"recvmsg_into", (PyCFunction)(void (*)(void))sock_recvmsg_into, METH_FASTCALL,
     "recvmsg_into(buffers[, ancbufsize[, flags]]) -> (nbytes, ancdata, msg_flags, address)"},
    {"recvfrom", (PyCFunction)(void (*)(void))sock_recvfrom, METH_FASTCALL,
     "recvfrom(buffersize[, flags]) -> (data, address info)"},
    {"recvfrom_into", (PyCFunction)(void (*)(void))sock_recvfrom_into,
     METH_FASTCALL | METH_KEYWORDS, "recvfrom_into(buffer[, nbytes[, flags]]) -> (nbytes, address info)"},
    {"send", (PyCFunction)(void (*)(void))sock_send, METH_FASTCALL, "send(data[, flags]) -> count"},
    {"sendall", (PyCFunction)(void (*)(void))sock_sendall, METH_FASTCALL, "sendall(data[, flags])"},
    {"sendmsg", (PyCFunction)(void (*)(void))sock_sendmsg, METH_FASTCALL,
     "sendmsg(buffers[, ancdata[, flags[, address]]]) -> count"},
    {"sendto", (PyCFunction)(void (*)(void))sock_sendto, METH_FASTCALL,
     "sendto(data[, flags], address) -> count"},
    {"setblocking", sock_setblocking, METH_O, "setblocking(flag)"},
    {"setsockopt", (PyCFunction)(void (*)(void))sock_setsockopt, METH_FASTCALL,
     "setsockopt(level, option, value: int | buffer)"},
    {"settimeout", sock_settimeout, METH_O, "settimeout(timeout)"},
    {"shutdown", sock_shutdown, METH_O, "shutdown(flag)"},
    {NULL, NULL, 0, NULL},
};

/* family, type, proto: read-only ints (closure: the field's offset). */
static PyObject *sock_kind_get(PyObject *self, void *closure)
{
    Sock *s = (Sock *)self;
    if (sock_kind(s) < 0) {
        return NULL;
    }
    return PyLong_FromLong(*(int *)((char *)s + (size_t)closure));
}

static PyGetSetDef sock_getset[] = {
    {"family", sock_kind_get, NULL, "the socket family", (void *)offsetof(Sock, family)},
    {"type", sock_kind_get, NULL, "the socket type", (void *)offsetof(Sock, type)},
    {"proto", sock_kind_get, NULL, "the socket protocol", (void *)offsetof(Sock, proto)},
    {"timeout", sock_timeout_get, NULL, "the timeout in seconds (None: blocking)", NULL},
    {"handle", sock_handle_get, NULL, "polysock's handle (-1 once closed or detached)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot sock_slots[] = {
    {Py_tp_new, sock_tp_new},
    {Py_tp_init, sock_init},
    {Py_tp_repr, sock_repr},
    {Py_tp_finalize, sock_finalize},
    {Py_tp_dealloc, sock_dealloc},
    {Py_tp_methods, sock_methods},
    {Py_tp_getset, sock_getset},
    {Py_tp_doc, "socket(family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None)"},
    {0, NULL},
};

static PyType_Spec sock_spec = {
    "polysock._native.socket",
    sizeof(Sock),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    sock_slots,
};

/* ------------------------------------------------------------------ module */

/* socketpair([family[, type[, proto]]]) -> (socket, socket) */
static PyObject *mod_socketpair(PyObject *module, PyObject *args)
{
    (void)module;
    int family = POLYSOCK_AF_UNIX, type = POLYSOCK_SOCK_STREAM, proto = 0;
    if (!PyArg_ParseTuple(args, "|iii:socketpair", &family, &type, &proto)) {
        return NULL;
    }
    polysock_t pair[2];
    if (polysock_socketpair(family, type, proto, pair) < 0) {
        return raise_last(polysock_errno());
    }
    Sock *a = sock_new_handle(SockType, pair[0], NULL);
    Sock *b = a == NULL ? NULL : sock_new_handle(SockType, pair[1], NULL);
    if (b == NULL) {
        polysock_close(pair[0]);
        polysock_close(pair[1]);
        if (a != NULL) {
            a->handle = -1; /* closed above: no "unclosed" warning */
            Py_DECREF(a);
        }
        return NULL;
    }
    return Py_BuildValue("(NN)", a, b);
}

static PyObject *mod_getdefaulttimeout(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return timeout_value(polysock_getdefaulttimeout());
}

static PyObject *mod_setdefaulttimeout(PyObject *module, PyObject *value)
{
    (void)module;
    int64_t ms;
    if (timeout_ms(value, &ms) < 0) {
        return NULL;
    }
    if (polysock_setdefaulttimeout(ms) < 0) {
        return raise_last(polysock_errno());
    }
    Py_RETURN_NONE;
}

/* create_connection(host, port, timeout_ms, source_host, source_port) ->
 * handle: polysock_create_connection in this module's copy of polysock, for
 * the Python layer's create_connection (which checks the arguments, encodes
 * the hosts as bytes, source_host None for none, and wraps the handle with
 * _from_handle). */
static PyObject *mod_create_connection(PyObject *module, PyObject *args)
{
    (void)module;
    const char *host, *source_host = NULL;
    PyObject *source;
    int port, source_port;
    long long ms;
    if (!PyArg_ParseTuple(args, "yiLOi:create_connection", &host, &port, &ms, &source,
                          &source_port) ||
        (source != Py_None && (source_host = PyBytes_AsString(source)) == NULL)) {
        return NULL;
    }
    polysock_t h;
    int code = 0;
    Py_BEGIN_ALLOW_THREADS
    h = polysock_create_connection(host, port, ms, source_host, source_port);
    if (h < 0) {
        code = polysock_errno();
    }
    Py_END_ALLOW_THREADS
    if (h < 0) {
        return raise_last(code);
    }
    return PyLong_FromLongLong(h);
}

static PyMethodDef module_functions[] = {
    {"create_connection", mod_create_connection, METH_VARARGS,
     "create_connection(host, port, timeout_ms, source_host, source_port) -> handle"},
    {"getdefaulttimeout", mod_getdefaulttimeout, METH_NOARGS,
     "getdefaulttimeout() -> seconds or None: the timeout new sockets start with"},
    {"setdefaulttimeout", mod_setdefaulttimeout, METH_O, "setdefaulttimeout(timeout)"},
    {"socketpair", mod_socketpair, METH_VARARGS,
     "socketpair([family[, type[, proto]]]) -> (socket object, socket object)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "polysock._native",
    "CPython's _socket surface over polysock's C ABI (see BACKEND.md).", -1, module_functions,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *m = PyModule_Create(&native_module);
    if (m != NULL) {
        /* This module's copy of polysock is its own (linked statically). */
        polysock_set_interrupt_hook(interrupt_hook, NULL);
    }
    if (m == NULL) {
        return NULL;
    }
    SockType = (PyTypeObject *)PyType_FromSpec(&sock_spec);
    if (SockType == NULL || PyModule_AddObject(m, "socket", (PyObject *)SockType) < 0) {
        Py_XDECREF((PyObject *)SockType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF((PyObject *)SockType);
    if (PyModule_AddObject(m, "SocketType", (PyObject *)SockType) < 0) {
        Py_DECREF((PyObject *)SockType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
