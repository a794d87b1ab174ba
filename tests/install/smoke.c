/* Built by tests/install.rs against an installed polysock only, with the
 * flags `pkg-config polysock` gives: shared and static. Prints where
 * polysock's code was loaded from, then echoes a message over loopback. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <polysock.h>

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__,      \
                    __LINE__, #cond, polysock_last_error(),                \
                    polysock_errname(polysock_errno()));                   \
            return 1;                                                      \
        }                                                                  \
    } while (0)

int main(void) {
    Dl_info info;
    CHECK(dladdr((void *)polysock_version, &info) != 0);
    printf("loaded from %s\n", info.dli_fname);
    CHECK(strcmp(polysock_version(), POLYSOCK_VERSION_STRING) == 0);

    polysock_t srv = polysock_create_server("127.0.0.1", 0, POLYSOCK_AF_INET, -1, 0);
    CHECK(srv >= 0);
    CHECK(polysock_settimeout(srv, 5000) == 0);
    polysock_addr local;
    CHECK(polysock_getsockname(srv, &local) == 0);
    polysock_t c = polysock_create_connection("127.0.0.1", local.port, 5000, NULL, 0);
    CHECK(c >= 0);
    polysock_t s = polysock_accept(srv, NULL);
    CHECK(s >= 0);
    CHECK(polysock_settimeout(s, 5000) == 0);
    CHECK(polysock_sendall(c, "installed", 9, 0, NULL) == 9);
    char buf[16] = {0};
    size_t got = 0;
    CHECK(polysock_recv_exact(s, buf, 9, 0, &got) == 9);
    CHECK(memcmp(buf, "installed", 9) == 0);

    /* The error path works through the installed library too. */
    CHECK(polysock_close(s) == 0 && polysock_close(c) == 0 && polysock_close(srv) == 0);
    CHECK(polysock_send(s, "x", 1, 0) == -1);
    CHECK(strcmp(polysock_errname(polysock_errno()), "EBADF") == 0);
    printf("echo ok\n");
    return 0;
}
