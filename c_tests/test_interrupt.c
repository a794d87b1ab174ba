/* polysock_set_interrupt_hook: a signal during a blocking recv ends the
 * call with EINTR when the hook says so, and is resumed when it does not.
 * The test installs its own SIGALRM handler (without SA_RESTART) and puts
 * the previous one and the harness's alarm back afterwards. */
#include "harness.h"

#include <sys/time.h>

static volatile sig_atomic_t alarms_;
static int hook_calls_;

static void on_alarm(int sig) { (void)sig; alarms_++; }
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
