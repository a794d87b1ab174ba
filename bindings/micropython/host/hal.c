// polysock's MicroPython host: the HAL on POSIX (stdio, clocks, delays),
// what the core asks of every port (import_stat, gc_collect), and the
// time module the binding's tests and examples use.

#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "py/builtin.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "py/mpthread.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "shared/runtime/gchelper.h"

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(STDOUT_FILENO, str + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        done += (size_t)n;
    }
    return done;
}

int mp_hal_stdin_rx_chr(void) {
    unsigned char c;
    for (;;) {
        MP_THREAD_GIL_EXIT();
        ssize_t n = read(STDIN_FILENO, &c, 1);
        int err = errno;
        MP_THREAD_GIL_ENTER();
        if (n == 1) {
            return c;
        }
        if (n == 0) {
            return 4; // end of input reads as Ctrl-D, as MicroPython's stdin expects
        }
        if (err != EINTR) {
            mp_raise_OSError(err);
        }
        mp_handle_pending(true);
    }
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    uintptr_t ret = 0;
    struct pollfd in = { STDIN_FILENO, POLLIN, 0 };
    if ((poll_flags & MP_STREAM_POLL_RD) && poll(&in, 1, 0) == 1 && (in.revents & POLLIN)) {
        ret |= MP_STREAM_POLL_RD;
    }
    return ret | (poll_flags & MP_STREAM_POLL_WR);
}

static uint64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(monotonic_ns() / 1000000u);
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)(monotonic_ns() / 1000u);
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return (mp_uint_t)monotonic_ns();
}

uint64_t mp_hal_time_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Sleeps `us` microseconds with the GIL released, in slices short enough
// that a Ctrl-C (KeyboardInterrupt, pending for the main thread) is raised
// within 20 ms.
static void sleep_us(uint64_t us) {
    uint64_t end = monotonic_ns() + us * 1000u;
    for (;;) {
        uint64_t now = monotonic_ns();
        if (now >= end) {
            return;
        }
        uint64_t slice = end - now < 20000000u ? end - now : 20000000u;
        struct timespec ts = { (time_t)(slice / 1000000000u), (long)(slice % 1000000000u) };
        MP_THREAD_GIL_EXIT();
        nanosleep(&ts, NULL);
        MP_THREAD_GIL_ENTER();
        mp_handle_pending(true);
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    sleep_us((uint64_t)ms * 1000u);
}

void mp_hal_delay_us(mp_uint_t us) {
    sleep_us(us);
}

mp_import_stat_t mp_import_stat(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            return MP_IMPORT_STAT_DIR;
        }
        if (S_ISREG(st.st_mode)) {
            return MP_IMPORT_STAT_FILE;
        }
    }
    return MP_IMPORT_STAT_NO_EXIST;
}

void gc_collect(void) {
    gc_collect_start();
    gc_helper_collect_regs_and_stack();
    mp_thread_gc_others();
    gc_collect_end();
}

// ---- time: MicroPython's documented functions. Ticks wrap at 2**30
// (small ints on every port); ticks_diff gives the signed distance.

#define TICKS_PERIOD ((mp_uint_t)1 << 30)
#define TICKS_MASK (TICKS_PERIOD - 1)

static mp_obj_t time_ticks_ms(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_ms() & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_ms_obj, time_ticks_ms);

static mp_obj_t time_ticks_us(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_us() & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_us_obj, time_ticks_us);

static mp_obj_t time_ticks_diff(mp_obj_t end, mp_obj_t start) {
    mp_uint_t d = ((mp_uint_t)mp_obj_get_int(end) - (mp_uint_t)mp_obj_get_int(start) + TICKS_PERIOD / 2) & TICKS_MASK;
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)d - (mp_int_t)(TICKS_PERIOD / 2));
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_diff_obj, time_ticks_diff);

static mp_obj_t time_ticks_add(mp_obj_t ticks, mp_obj_t delta) {
    return MP_OBJ_NEW_SMALL_INT(((mp_uint_t)mp_obj_get_int(ticks) + (mp_uint_t)mp_obj_get_int(delta)) & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_add_obj, time_ticks_add);

static mp_int_t nonnegative(mp_obj_t n) {
    mp_int_t v = mp_obj_get_int(n);
    if (v < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative sleep length"));
    }
    return v;
}

static mp_obj_t time_sleep(mp_obj_t seconds) {
    mp_float_t s = mp_obj_get_float(seconds);
    if (s < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative sleep length"));
    }
    sleep_us((uint64_t)(s * 1e6));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_obj, time_sleep);

static mp_obj_t time_sleep_ms(mp_obj_t ms) {
    sleep_us((uint64_t)nonnegative(ms) * 1000u);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_ms_obj, time_sleep_ms);

static mp_obj_t time_sleep_us(mp_obj_t us) {
    sleep_us((uint64_t)nonnegative(us));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_us_obj, time_sleep_us);

static mp_obj_t time_time(void) {
    return mp_obj_new_float((mp_float_t)mp_hal_time_ns() / 1e9);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_obj, time_time);

static mp_obj_t time_time_ns(void) {
    return mp_obj_new_int_from_ull(mp_hal_time_ns());
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_ns_obj, time_time_ns);

static const mp_rom_map_elem_t time_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_time) },
    { MP_ROM_QSTR(MP_QSTR_sleep), MP_ROM_PTR(&time_sleep_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_ms), MP_ROM_PTR(&time_sleep_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_us), MP_ROM_PTR(&time_sleep_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&time_ticks_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&time_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_diff), MP_ROM_PTR(&time_ticks_diff_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_add), MP_ROM_PTR(&time_ticks_add_obj) },
    { MP_ROM_QSTR(MP_QSTR_time), MP_ROM_PTR(&time_time_obj) },
    { MP_ROM_QSTR(MP_QSTR_time_ns), MP_ROM_PTR(&time_time_ns_obj) },
};
static MP_DEFINE_CONST_DICT(time_globals, time_globals_table);

const mp_obj_module_t host_time_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&time_globals,
};
MP_REGISTER_MODULE(MP_QSTR_time, host_time_module);
