// polysock's MicroPython host: open() on POSIX files (the core leaves it
// to the port) and the os module's remove and stat, as far as the
// binding's tests use files.

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "py/builtin.h"
#include "py/mperrno.h"
#include "py/mpthread.h"
#include "py/runtime.h"
#include "py/stream.h"

typedef struct {
    mp_obj_base_t base;
    int fd; // -1 once closed
} host_file_t;

static int check_open(host_file_t *f, int *errcode) {
    if (f->fd < 0) {
        *errcode = MP_EBADF;
        return 0;
    }
    return 1;
}

// One read or write with the GIL released, resumed after EINTR.
static mp_uint_t file_io(mp_obj_t self, void *buf, mp_uint_t size, int *errcode, bool writing) {
    host_file_t *f = MP_OBJ_TO_PTR(self);
    if (!check_open(f, errcode)) {
        return MP_STREAM_ERROR;
    }
    ssize_t n;
    do {
        MP_THREAD_GIL_EXIT();
        n = writing ? write(f->fd, buf, size) : read(f->fd, buf, size);
        MP_THREAD_GIL_ENTER();
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        *errcode = errno;
        return MP_STREAM_ERROR;
    }
    return (mp_uint_t)n;
}

static mp_uint_t file_read(mp_obj_t self, void *buf, mp_uint_t size, int *errcode) {
    return file_io(self, buf, size, errcode, false);
}

static mp_uint_t file_write(mp_obj_t self, const void *buf, mp_uint_t size, int *errcode) {
    return file_io(self, (void *)buf, size, errcode, true);
}

static mp_uint_t file_ioctl(mp_obj_t self, mp_uint_t request, uintptr_t arg, int *errcode) {
    host_file_t *f = MP_OBJ_TO_PTR(self);
    (void)arg;
    switch (request) {
        case MP_STREAM_CLOSE:
            if (f->fd >= 0) {
                close(f->fd);
                f->fd = -1;
            }
            return 0;
        case MP_STREAM_FLUSH:
            return check_open(f, errcode) ? 0 : MP_STREAM_ERROR;
        case MP_STREAM_GET_FILENO:
            return check_open(f, errcode) ? (mp_uint_t)f->fd : MP_STREAM_ERROR;
        default:
            *errcode = MP_EINVAL;
            return MP_STREAM_ERROR;
    }
}

static mp_obj_t file_fileno(mp_obj_t self) {
    host_file_t *f = MP_OBJ_TO_PTR(self);
    if (f->fd < 0) {
        mp_raise_OSError(MP_EBADF);
    }
    return MP_OBJ_NEW_SMALL_INT(f->fd);
}
static MP_DEFINE_CONST_FUN_OBJ_1(file_fileno_obj, file_fileno);

static const mp_rom_map_elem_t file_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readline), MP_ROM_PTR(&mp_stream_unbuffered_readline_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&mp_stream_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_flush), MP_ROM_PTR(&mp_stream_flush_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&mp_stream_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_fileno), MP_ROM_PTR(&file_fileno_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&mp_stream_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&mp_identity_obj) },
    { MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&mp_stream___exit___obj) },
};
static MP_DEFINE_CONST_DICT(file_locals, file_locals_table);

static const mp_stream_p_t binary_stream = { file_read, file_write, file_ioctl, 0 };
static const mp_stream_p_t text_stream = { file_read, file_write, file_ioctl, 1 };

static MP_DEFINE_CONST_OBJ_TYPE(host_binary_file_type, MP_QSTR_FileIO, MP_TYPE_FLAG_ITER_IS_STREAM,
    protocol, &binary_stream, locals_dict, &file_locals);
static MP_DEFINE_CONST_OBJ_TYPE(host_text_file_type, MP_QSTR_TextIOWrapper, MP_TYPE_FLAG_ITER_IS_STREAM,
    protocol, &text_stream, locals_dict, &file_locals);

// open(file, mode="r"): modes r w a x, with + and b or t.
static mp_obj_t host_open(size_t n_args, const mp_obj_t *pos, mp_map_t *kw) {
    enum { ARG_file, ARG_mode };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_file, MP_ARG_REQUIRED | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
        { MP_QSTR_mode, MP_ARG_OBJ, { .u_obj = MP_OBJ_NEW_QSTR(MP_QSTR_r) } },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args, pos, kw, MP_ARRAY_SIZE(allowed), allowed, args);
    const char *path = mp_obj_str_get_str(args[ARG_file].u_obj);
    const char *mode = mp_obj_str_get_str(args[ARG_mode].u_obj);
    int flags = 0, access = -1;
    bool text = true;
    for (const char *m = mode; *m != '\0'; m++) {
        switch (*m) {
            case 'r': access = O_RDONLY; break;
            case 'w': access = O_WRONLY; flags |= O_CREAT | O_TRUNC; break;
            case 'a': access = O_WRONLY; flags |= O_CREAT | O_APPEND; break;
            case 'x': access = O_WRONLY; flags |= O_CREAT | O_EXCL; break;
            case '+': flags |= O_RDWR; break;
            case 'b': text = false; break;
            case 't': text = true; break;
            default: mp_raise_ValueError(MP_ERROR_TEXT("invalid mode"));
        }
    }
    if (access < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid mode"));
    }
    if (flags & O_RDWR) {
        access = 0;
    }
    int fd = open(path, access | flags | O_CLOEXEC, 0666);
    if (fd < 0) {
        mp_raise_OSError(errno);
    }
    host_file_t *f = mp_obj_malloc_with_finaliser(host_file_t, text ? &host_text_file_type : &host_binary_file_type);
    f->fd = fd;
    return MP_OBJ_FROM_PTR(f);
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, host_open);

// ---- os: remove(path), stat(path) -> the 10-tuple MicroPython gives.

static mp_obj_t os_remove(mp_obj_t path) {
    if (unlink(mp_obj_str_get_str(path)) != 0) {
        mp_raise_OSError(errno);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(os_remove_obj, os_remove);

static mp_obj_t os_stat(mp_obj_t path) {
    struct stat st;
    if (stat(mp_obj_str_get_str(path), &st) != 0) {
        mp_raise_OSError(errno);
    }
    mp_obj_t t[10] = {
        mp_obj_new_int_from_uint(st.st_mode), mp_obj_new_int_from_ull(st.st_ino),
        mp_obj_new_int_from_ull(st.st_dev), mp_obj_new_int_from_uint(st.st_nlink),
        mp_obj_new_int_from_uint(st.st_uid), mp_obj_new_int_from_uint(st.st_gid),
        mp_obj_new_int_from_ll(st.st_size), mp_obj_new_int_from_ll(st.st_atime),
        mp_obj_new_int_from_ll(st.st_mtime), mp_obj_new_int_from_ll(st.st_ctime),
    };
    return mp_obj_new_tuple(10, t);
}
static MP_DEFINE_CONST_FUN_OBJ_1(os_stat_obj, os_stat);

static const mp_rom_map_elem_t os_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_os) },
    { MP_ROM_QSTR(MP_QSTR_remove), MP_ROM_PTR(&os_remove_obj) },
    { MP_ROM_QSTR(MP_QSTR_stat), MP_ROM_PTR(&os_stat_obj) },
    { MP_ROM_QSTR(MP_QSTR_sep), MP_ROM_QSTR(MP_QSTR__slash_) },
};
static MP_DEFINE_CONST_DICT(os_globals, os_globals_table);

const mp_obj_module_t host_os_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&os_globals,
};
MP_REGISTER_MODULE(MP_QSTR_os, host_os_module);
