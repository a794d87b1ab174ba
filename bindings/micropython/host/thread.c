// polysock's MicroPython host: the thread port (py/mpthread.h) on pthreads,
// with the GIL. The collector runs holding the GIL, so every other thread
// is stopped in, or past, a release of it: each thread records where its
// stack was and what its callee-saved registers held when it last released
// the GIL, and mp_thread_gc_others scans that and the stack above it (the
// frames that called the release: a module waiting in a blocking call, the
// VM below it). The list of threads changes only under the GIL.

#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "py/gc.h"
#include "py/mperrno.h"
#include "py/mpthread.h"
#include "py/runtime.h"

// Usable stack of a new thread unless _thread.stack_size() said otherwise,
// the least it may have, and what is added below it for native code (the
// stack check stops MicroPython code at the usable size).
#define DEFAULT_STACK (256 * 1024)
#define MIN_STACK (32 * 1024)
#define NATIVE_MARGIN (256 * 1024)

#if defined(__x86_64__)
typedef uintptr_t saved_regs_t[6];
#elif defined(__aarch64__)
typedef uintptr_t saved_regs_t[11];
#else
typedef jmp_buf saved_regs_t;
#endif

typedef struct host_thread {
    struct host_thread *next;
    void *(*entry)(void *);
    void *arg;                 // entry's argument (on the heap): kept until the thread finishes
    mp_state_thread_t *state;  // its MicroPython state, whose stack_top bounds the scan
    void *sp;                  // its stack pointer at its last release of the GIL (NULL: none yet)
    saved_regs_t regs;         // its callee-saved registers then
} host_thread_t;

static host_thread_t main_thread;
static host_thread_t *threads;
static __thread host_thread_t *self;
static __thread mp_state_thread_t *state;

// Copies the callee-saved registers of the System V ABIs (x86-64: rbx,
// rbp, r12-r15; AArch64: x19-x29) into `regs`: values of the callers'
// frames that may live nowhere else while the thread runs without the GIL.
static MP_NOINLINE void save_regs(saved_regs_t regs) {
    #if defined(__x86_64__)
    __asm__ volatile (
        "mov %%rbx, 0(%0)\n" "mov %%rbp, 8(%0)\n" "mov %%r12, 16(%0)\n"
        "mov %%r13, 24(%0)\n" "mov %%r14, 32(%0)\n" "mov %%r15, 40(%0)\n"
        : : "r" (regs) : "memory");
    #elif defined(__aarch64__)
    __asm__ volatile (
        "stp x19, x20, [%0, #0]\n" "stp x21, x22, [%0, #16]\n"
        "stp x23, x24, [%0, #32]\n" "stp x25, x26, [%0, #48]\n"
        "stp x27, x28, [%0, #64]\n" "str x29, [%0, #80]\n"
        : : "r" (regs) : "memory");
    #else
    // Elsewhere setjmp's buffer; a C library that scrambles registers in
    // it (glibc's pointer guard) would hide what they point to.
    setjmp(regs);
    #endif
}

static MP_NOINLINE void save_context(host_thread_t *t) {
    save_regs(t->regs);
    t->sp = __builtin_frame_address(0);
}

void mp_thread_init(void) {
    main_thread.state = &mp_state_ctx.thread;
    threads = &main_thread;
    self = &main_thread;
    state = &mp_state_ctx.thread;
}

mp_state_thread_t *mp_thread_get_state(void) {
    return state;
}

void mp_thread_set_state(mp_state_thread_t *s) {
    state = s;
    if (self != NULL) {
        self->state = s;
    }
}

mp_uint_t mp_thread_get_id(void) {
    return (mp_uint_t)pthread_self();
}

static void *trampoline(void *p) {
    host_thread_t *t = p;
    self = t;
    return t->entry(t->arg);
}

mp_uint_t mp_thread_create(void *(*entry)(void *), void *arg, size_t *stack_size) {
    if (*stack_size == 0) {
        *stack_size = DEFAULT_STACK;
    } else if (*stack_size < MIN_STACK) {
        *stack_size = MIN_STACK;
    }
    host_thread_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        mp_raise_OSError(MP_ENOMEM);
    }
    t->entry = entry;
    t->arg = arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_attr_setstacksize(&attr, *stack_size + NATIVE_MARGIN);
    t->next = threads;
    threads = t;
    pthread_t id;
    if (rc == 0) {
        rc = pthread_create(&id, &attr, trampoline, t);
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        threads = t->next;
        free(t);
        mp_raise_OSError(rc);
    }
    return (mp_uint_t)id;
}

void mp_thread_start(void) {
}

// Called holding the GIL, as the thread ends.
void mp_thread_finish(void) {
    for (host_thread_t **p = &threads; *p != NULL; p = &(*p)->next) {
        if (*p == self) {
            *p = self->next;
            break;
        }
    }
    if (self != &main_thread) {
        free(self);
    }
    self = NULL;
}

void mp_thread_gc_others(void) {
    for (host_thread_t *t = threads; t != NULL; t = t->next) {
        if (t == self) {
            continue;
        }
        gc_collect_root(&t->arg, 1);
        if (t->sp != NULL) {
            gc_collect_root((void **)(void *)t->regs, sizeof(t->regs) / sizeof(void *));
            uintptr_t top = (uintptr_t)t->state->stack_top;
            gc_collect_root(t->sp, (top - (uintptr_t)t->sp) / sizeof(void *));
        }
    }
}

void mp_thread_mutex_init(mp_thread_mutex_t *mutex) {
    pthread_mutex_init(&mutex->m, NULL);
    pthread_cond_init(&mutex->turn, NULL);
    mutex->next = 0;
    mutex->serving = 0;
}

// 1: taken; 0: not free and `wait` was 0.
int mp_thread_mutex_lock(mp_thread_mutex_t *mutex, int wait) {
    pthread_mutex_lock(&mutex->m);
    if (!wait && mutex->next != mutex->serving) {
        pthread_mutex_unlock(&mutex->m);
        return 0;
    }
    uint64_t ticket = mutex->next++;
    while (mutex->serving != ticket) {
        pthread_cond_wait(&mutex->turn, &mutex->m);
    }
    pthread_mutex_unlock(&mutex->m);
    return 1;
}

void mp_thread_mutex_unlock(mp_thread_mutex_t *mutex) {
    if (mutex == &MP_STATE_VM(gil_mutex) && self != NULL) {
        save_context(self);
    }
    pthread_mutex_lock(&mutex->m);
    mutex->serving++;
    pthread_cond_broadcast(&mutex->turn);
    pthread_mutex_unlock(&mutex->m);
}
