/* polysock_set_interrupt_hook: a signal during a blocking call ends the
 * call with EINTR when the hook says so, and is resumed when it does not.
 * The test installs its own SIGALRM handler (without SA_RESTART) and puts
 * the previous one and the harness's alarm back afterwards. */
#include "harness.h"

#include <sys/time.h>

static volatile sig_atomic_t alarms_;
static int hook_calls_;

static void on_alarm(int sig) { (void)sig; alarms_++; }

/* Ignoring a signal discards it if pending: a SIGALRM of the test's timer
 * not delivered yet (valgrind delivers late) must not reach the harness's
 * handler restored next. */
static void discard_pending_alarm(void) {
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    CHECK_OK(sigaction(SIGALRM, &ign, NULL));
}
static int32_t hook_end(void *ctx) { hook_calls_++; return *(int *)ctx; }

/* A blocking recv (timeout `timeout_ms`) with SIGALRM every 50 ms; returns
 * the recv's result and its duration in *ms. */
static long long recv_under_alarms(int answer, long long timeout_ms, double *ms) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGALRM, &sa, &old));
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    CHECK_OK(polysock_settimeout(p[0], timeout_ms));
    static int ctx;
    ctx = answer;
    CHECK_OK(polysock_set_interrupt_hook(hook_end, &ctx));
    struct itimerval it = {{0, 50000}, {0, 50000}}, off = {{0, 0}, {0, 0}};
    CHECK_OK(setitimer(ITIMER_REAL, &it, NULL));
    char buf[8];
    double t0 = now_ms();
    long long r = polysock_recv(p[0], buf, sizeof buf, 0);
    *ms = now_ms() - t0;
    int err = polysock_errno();
    CHECK_OK(setitimer(ITIMER_REAL, &off, NULL));
    CHECK_OK(polysock_set_interrupt_hook(NULL, NULL));
    discard_pending_alarm();
    CHECK_OK(sigaction(SIGALRM, &old, NULL));
    alarm(TEST_TIMEOUT_SECONDS);
    polysock_close(p[0]);
    polysock_close(p[1]);
    errno = err;
    return r;
}

TEST(hook_ending_the_call_gives_eintr) {
    double ms;
    hook_calls_ = 0;
    CHECK_EQ(recv_under_alarms(1, 5000, &ms), -1);
    CHECK_EQ(errno, EINTR);
    CHECK(hook_calls_ == 1);
    CHECK(ms < 2000);
    CHECK(strstr(polysock_last_error(), "interrupted by a signal") != NULL);
}

TEST(hook_ending_a_call_without_timeout) {
    double ms;
    hook_calls_ = 0;
    CHECK_EQ(recv_under_alarms(1, -1, &ms), -1);
    CHECK_EQ(errno, EINTR);
    CHECK(hook_calls_ == 1);
}

TEST(hook_resuming_keeps_the_timeout) {
    double ms;
    hook_calls_ = 0;
    CHECK_EQ(recv_under_alarms(0, 400, &ms), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(hook_calls_ >= 2);
    CHECK(ms >= 390);
}

TEST(no_hook_resumes_as_before) {
    CHECK_OK(polysock_set_interrupt_hook(NULL, NULL));
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    CHECK_OK(polysock_settimeout(p[0], 200));
    char buf[4];
    CHECK_ERR(polysock_recv(p[0], buf, sizeof buf, 0), ETIMEDOUT);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

/* A signal that lands after a blocking transfer moved some bytes makes it
 * return the count, not EINTR: the loops that go on after a short transfer
 * (sendall, recv_exact, sendfile) ask the hook there. One alarm only, so a
 * loop that did not ask would block for good; a rescue thread unblocks it
 * after `rescue_ms` (draining the peer, or sending what recv_exact waits
 * for), which bounds the test and makes such a loop succeed: a failure. */
enum { BIG_SEND = 8 << 20, SHORT_HEAD = 3, EXACT_LEN = 16 };
static polysock_t rescue_peer_;
static int rescue_ms_, rescue_sends_;
static volatile int call_done_;
static long long rescued_;

static void *rescue_run_(void *arg) {
    (void)arg;
    for (int waited = 0; waited < rescue_ms_ && !call_done_; waited += 10) usleep(10000);
    if (call_done_) return NULL;
    static char buf[65536];
    if (rescue_sends_) {
        memset(buf, 'r', EXACT_LEN);
        rescued_ = polysock_sendall(rescue_peer_, buf, EXACT_LEN - SHORT_HEAD, 0, NULL);
        return NULL;
    }
    for (long long n; rescued_ < BIG_SEND; rescued_ += n)
        if ((n = polysock_recv(rescue_peer_, buf, sizeof buf, 0)) <= 0) break;
    return NULL;
}

static int hook_end_at_;
static int32_t hook_count(void *ctx) { (void)ctx; return ++hook_calls_ >= hook_end_at_; }

/* Runs `call` on p[0] (blocking) with one SIGALRM 100 ms in and the hook
 * answering nonzero from its `end_at`th call on; restores the handler and
 * the harness's alarm. Returns the call's result, its errno in *err. */
static long long under_one_alarm(polysock_t p[2], int end_at, int rescue_ms, int sends,
                                 long long (*call)(polysock_t), int *err) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGALRM, &sa, &old));
    CHECK_OK(polysock_settimeout(p[0], -1));
    hook_calls_ = 0;
    hook_end_at_ = end_at;
    CHECK_OK(polysock_set_interrupt_hook(hook_count, NULL));
    rescue_peer_ = p[1];
    rescue_ms_ = rescue_ms;
    rescue_sends_ = sends;
    call_done_ = 0;
    rescued_ = 0;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, rescue_run_, NULL), 0);
    struct itimerval it = {{0, 0}, {0, 100000}};
    CHECK_OK(setitimer(ITIMER_REAL, &it, NULL));
    long long r = call(p[0]);
    *err = polysock_errno();
    call_done_ = 1;
    pthread_join(t, NULL);
    CHECK_OK(polysock_set_interrupt_hook(NULL, NULL));
    discard_pending_alarm();
    CHECK_OK(sigaction(SIGALRM, &old, NULL));
    alarm(TEST_TIMEOUT_SECONDS);
    return r;
}

/* `call` under one alarm with a hook that ends it at once: EINTR, one hook
 * call, and the rescue never needed. */
static void ended_by_hook(polysock_t p[2], int sends, long long (*call)(polysock_t)) {
    int err;
    CHECK_EQ(under_one_alarm(p, 1, 3000, sends, call, &err), -1);
    CHECK_EQ(err, EINTR);
    CHECK(rescued_ == 0);
    CHECK_EQ(hook_calls_, 1);
}

static size_t progress_;
static long long big_sendall(polysock_t h) {
    static char big[BIG_SEND];
    progress_ = 0;
    return polysock_sendall(h, big, sizeof big, 0, &progress_);
}

TEST(hook_ends_sendall_after_a_short_send) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    ended_by_hook(p, 0, big_sendall);
    CHECK(progress_ > 0 && progress_ < BIG_SEND);
    CHECK(strstr(polysock_last_error(), "sendall after") != NULL);
    CHECK(strstr(polysock_last_error(), "interrupted by a signal") != NULL);
    /* What did go is in the stream, all of it. */
    static char buf[65536];
    size_t got = 0;
    for (long long n; got < progress_; got += (size_t)n) {
        size_t want = progress_ - got < sizeof buf ? progress_ - got : sizeof buf;
        CHECK((n = polysock_recv(p[1], buf, want, 0)) > 0);
    }
    CHECK_OK(polysock_setblocking(p[1], 0));
    CHECK_ERR(polysock_recv(p[1], buf, sizeof buf, 0), EAGAIN);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(hook_resuming_sendall_after_a_short_send) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    int err;
    CHECK_EQ(under_one_alarm(p, 1000, 500, 0, big_sendall, &err), BIG_SEND);
    CHECK(hook_calls_ >= 1);
    CHECK_EQ(progress_, BIG_SEND);
    CHECK_EQ(rescued_, BIG_SEND);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

static long long exact_recv(polysock_t h) {
    static char buf[EXACT_LEN];
    progress_ = 0;
    return polysock_recv_exact(h, buf, sizeof buf, 0, &progress_);
}

TEST(hook_ends_recv_exact_after_a_short_recv) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    CHECK_EQ(polysock_send(p[1], "abc", SHORT_HEAD, 0), SHORT_HEAD);
    ended_by_hook(p, 1, exact_recv);
    CHECK_EQ(progress_, SHORT_HEAD);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

static char file_path_[128];
static long long big_sendfile(polysock_t h) {
    progress_ = 0;
    return polysock_sendfile_path(h, file_path_, 0, 0, &progress_);
}

TEST(hook_ends_sendfile_after_a_short_send) {
    static char dir[64];
    make_temp_dir(dir, "polysock-intr");
    snprintf(file_path_, sizeof file_path_, "%s/big", dir);
    int fd = open(file_path_, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK_OK(ftruncate(fd, BIG_SEND));
    close(fd);
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    ended_by_hook(p, 0, big_sendfile);
    CHECK(progress_ > 0 && progress_ < BIG_SEND);
    polysock_close(p[0]);
    polysock_close(p[1]);
}
