// polysock's MicroPython host: the thread port (thread.c), on pthreads.
#ifndef POLYSOCK_HOST_MPTHREADPORT_H
#define POLYSOCK_HOST_MPTHREADPORT_H

#include <pthread.h>
#include <stdint.h>

// A lock that any thread may release (Python's _thread locks may be
// released by another thread than the one that took them), handed over in
// the order it was asked for: the GIL, released and at once asked for
// again by the VM, then goes to the thread that waited.
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t turn;
    uint64_t next;    // the ticket the next lock() takes
    uint64_t serving; // the ticket that holds (or may take) the lock
} mp_thread_mutex_t;

void mp_thread_init(void);
void mp_thread_gc_others(void);

#endif
