// polysock's minimal POSIX host for MicroPython's core: the configuration.
// Written from MicroPython's documented porting interface (py/mpconfig.h);
// the host exists so that CI can run the binding's tests on MicroPython's
// core (the PyPI sdist of it holds py/ and shared/, not extmod/ nor a
// complete port). Everything provided by extmod/ is off; the host's own
// modules (time, os, open) stand in for what the tests use.

#include <stdint.h>
#include <limits.h>

#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// Memory, numbers, text.
#define MICROPY_ENABLE_GC (1)
#define MICROPY_ENABLE_FINALISER (1)
#define MICROPY_LONGINT_IMPL (MICROPY_LONGINT_IMPL_MPZ)
#define MICROPY_FLOAT_IMPL (MICROPY_FLOAT_IMPL_DOUBLE)
#define MICROPY_USE_INTERNAL_PRINTF (0)
#define MICROPY_USE_INTERNAL_ERRNO (0) // OSError's errno is the C library's, as polysock's codes are
#define MICROPY_ALLOC_PATH_MAX (PATH_MAX)
#define MICROPY_STACK_CHECK (1)
// Room below the checked limit for the native code a module calls
// (polysock's Rust frames, the C library's resolver).
#define MICROPY_STACK_CHECK_MARGIN (64 * 1024)

// Scripts and modules from files (py/reader.c's POSIX reader, import from
// sys.path, which main.c fills from MICROPYPATH).
#define MICROPY_READER_POSIX (1)
#define MICROPY_ENABLE_EXTERNAL_IMPORT (1)
#define MICROPY_HELPER_REPL (0)
#define MICROPY_PY_BUILTINS_INPUT (0)
#define MICROPY_PY_SYS_PLATFORM "linux"
#define MICROPY_PY_SYS_STDFILES (1) // shared/runtime/sys_stdio_mphal.c
#define MICROPY_PY_IO (1)           // open() is the host's (file.c)
#define MICROPY_PY_ERRNO (1)

// Threads: _thread (py/modthread.c) on the host's pthread port (thread.c),
// with the GIL, which blocking calls of a module release.
#define MICROPY_PY_THREAD (1)
#define MICROPY_PY_THREAD_GIL (1)

// Ctrl-C: SIGINT schedules KeyboardInterrupt (mp_sched_keyboard_interrupt);
// it is never raised from the signal handler (that cannot be combined
// with the GIL).
#define MICROPY_KBD_EXCEPTION (1)
#define MICROPY_ASYNC_KBD_INTR (0)
#define MICROPY_ENABLE_SCHEDULER (1)

// What lives in extmod/ (not in the sdist): off. The host registers its
// own time and os modules.
#define MICROPY_PY_ASYNCIO (0)
#define MICROPY_PY_BINASCII (0)
#define MICROPY_PY_DEFLATE (0)
#define MICROPY_PY_FRAMEBUF (0)
#define MICROPY_PY_HASHLIB (0)
#define MICROPY_PY_HEAPQ (0)
#define MICROPY_PY_JSON (0)
#define MICROPY_PY_MACHINE (0)
#define MICROPY_PY_OS (0)
#define MICROPY_PY_PLATFORM (0)
#define MICROPY_PY_RANDOM (0)
#define MICROPY_PY_RE (0)
#define MICROPY_PY_SELECT (0)
#define MICROPY_PY_SOCKET (0)
#define MICROPY_PY_SSL (0)
#define MICROPY_PY_TIME (0)
#define MICROPY_PY_UCTYPES (0)
#define MICROPY_VFS (0)

#define MICROPY_HW_BOARD_NAME "polysock host"
#define MICROPY_HW_MCU_NAME "POSIX"

typedef intptr_t mp_int_t;
typedef uintptr_t mp_uint_t;
typedef long mp_off_t;

#define MP_STATE_PORT MP_STATE_VM

#include <alloca.h>
