// polysock's minimal POSIX host for MicroPython's core: runs one script,
//   micropython SCRIPT [ARG...]      sys.argv = [SCRIPT, ARG...]
//   micropython -c CODE [ARG...]     sys.argv = ["-c", ARG...]
// importing .py modules from the script's directory and then from
// MICROPYPATH (colon-separated). The exit status is 0, a SystemExit's
// code, or 1 after an uncaught exception (printed to stderr). SIGINT
// raises KeyboardInterrupt in the main thread at the next check the VM
// (or a module, after a blocking call) makes.

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "py/builtin.h"
#include "py/compile.h"
#include "py/cstack.h"
#include "py/gc.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/mpthread.h"
#include "py/runtime.h"

#define HEAP_SIZE (16 * 1024 * 1024)

static ssize_t print_stderr(const char *str, size_t len) {
    return write(STDERR_FILENO, str, len);
}

static void stderr_strn(void *env, const char *str, size_t len) {
    (void)env;
    (void)print_stderr(str, len);
}

static const mp_print_t stderr_print = { NULL, stderr_strn };

static volatile sig_atomic_t interrupt_off;

void mp_hal_set_interrupt_char(int c) {
    interrupt_off = c == -1;
}

// A first Ctrl-C schedules KeyboardInterrupt; a second one while that is
// still pending (nothing checked for it: the program is stuck in native
// code) ends the process, as a shell user expects.
static void on_sigint(int sig) {
    (void)sig;
    if (interrupt_off) {
        return;
    }
    if (MP_STATE_MAIN_THREAD(mp_pending_exception) == MP_OBJ_FROM_PTR(&MP_STATE_VM(mp_kbd_exception))) {
        _exit(128 + SIGINT);
    }
    mp_sched_keyboard_interrupt();
}

// The exit status for an uncaught exception `exc`, printing it unless it
// is SystemExit.
static int exit_status(mp_obj_t exc) {
    if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_SystemExit))) {
        mp_obj_print_exception(&stderr_print, exc);
        return 1;
    }
    mp_obj_t code = mp_obj_exception_get_value(exc);
    if (code == mp_const_none) {
        return 0;
    }
    mp_int_t n;
    if (mp_obj_get_int_maybe(code, &n)) {
        return (int)(n & 0xff);
    }
    mp_obj_print_helper(&stderr_print, code, PRINT_STR);
    mp_print_str(&stderr_print, "\n");
    return 1;
}

// Runs the script (or, with `code`, the text) as __main__.
static int run(const char *path, const char *code) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = code != NULL
            ? mp_lexer_new_from_str_len(MP_QSTR__lt_stdin_gt_, code, strlen(code), 0)
            : mp_lexer_new_from_file(qstr_from_str(path));
        qstr source = lex->source_name;
        if (code == NULL) {
            mp_store_global(MP_QSTR___file__, MP_OBJ_NEW_QSTR(source));
        }
        mp_parse_tree_t tree = mp_parse(lex, MP_PARSE_FILE_INPUT);
        mp_obj_t fun = mp_compile(&tree, source, false);
        mp_call_function_0(fun);
        nlr_pop();
        return 0;
    }
    return exit_status(MP_OBJ_FROM_PTR(nlr.ret_val));
}

static void append_path(const char *dir, size_t len) {
    mp_obj_list_append(mp_sys_path, mp_obj_new_str(dir, len));
}

// sys.path: the script's directory ("" for -c: the current one), then
// MICROPYPATH's entries.
static void set_path(const char *script) {
    mp_obj_list_init(MP_OBJ_TO_PTR(mp_sys_path), 0);
    const char *slash = script != NULL ? strrchr(script, '/') : NULL;
    if (slash != NULL) {
        append_path(script, slash == script ? 1 : (size_t)(slash - script));
    } else {
        append_path("", 0);
    }
    const char *p = getenv("MICROPYPATH");
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ':');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        append_path(p, len);
        p = end != NULL ? end + 1 : NULL;
    }
}

static int usage(const char *prog) {
    fprintf(stderr, "usage: %s SCRIPT [ARG...] | -c CODE [ARG...]\n", prog);
    return 2;
}

// Everything that holds objects runs below main's frame, so that the
// stack the collector scans (up to main's) covers it.
static MP_NOINLINE int host_main(int argc, char **argv) {
    const char *code = NULL;
    const char *script = NULL;
    int first_arg;
    if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
        code = argv[2];
        first_arg = 2;
    } else if (argc >= 2 && argv[1][0] != '-') {
        script = argv[1];
        first_arg = 1;
    } else {
        return usage(argv[0]);
    }

    void *heap = malloc(HEAP_SIZE);
    if (heap == NULL) {
        fprintf(stderr, "%s: no memory for the heap\n", argv[0]);
        return 1;
    }
    gc_init(heap, (char *)heap + HEAP_SIZE);
    mp_init();
    set_path(script);
    mp_obj_list_append(mp_sys_argv, MP_OBJ_NEW_QSTR(qstr_from_str(code != NULL ? "-c" : script)));
    for (int i = first_arg + 1; i < argc; i++) {
        mp_obj_list_append(mp_sys_argv, MP_OBJ_NEW_QSTR(qstr_from_str(argv[i])));
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);

    int status = run(script, code);
    // Other threads may still be running (blocked in a call, the GIL
    // released): the process ends without tearing the VM down under them.
    fflush(stdout);
    return status;
}

int main(int argc, char **argv) {
    // The C stack MicroPython may use: the soft limit, at most 8 MiB.
    struct rlimit rl;
    size_t stack = 8 * 1024 * 1024;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < stack) {
        stack = rl.rlim_cur;
    }
    mp_thread_init();
    mp_cstack_init_with_sp_here(stack);
    exit(host_main(argc, argv));
}

void nlr_jump_fail(void *val) {
    fprintf(stderr, "FATAL: uncaught NLR %p\n", val);
    abort();
}
