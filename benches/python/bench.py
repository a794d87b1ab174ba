#!/usr/bin/env python3
"""polysock's Python package against CPython's socket module, in one run.

    python3 benches/python/bench.py [--rounds N] [--quick]

Builds the package first (setup.py build: cargo build --release, the native
module, the library) into target/python-bench/, then measures three
workloads on loopback, each for CPython's `socket`, polysock with its native
backend and polysock with its ctypes backend:

* pingpong: 64-byte round trips (sendall, then recv until 64 bytes are back);
* bulk: 256 MiB sent in 64 KiB sendall calls, received with recv_into;
* connect: create_connection, then recv until the server's close, then
  close, against a server that accepts and closes at once. The server
  closing first leaves TIME_WAIT on its side; with the client closing
  first, the client's kernel reused its TIME_WAIT ports (tcp_tw_reuse=2 on
  loopback) while the server still held the old connection, and those SYNs
  waited a second for their retransmission: the rate then measured timing
  luck, not the module (146 to 6,000 conn/s for one implementation).

Both ends of every connection use the implementation under test, each end in
its own process (no GIL shared between them). A round runs every
implementation once per workload, in an order that rotates from round to
round (A B C, B C A, ...), so the implementations alternate in time; the
table gives each one's median over the rounds and its ratio to CPython's
socket in the same round: median, and min..max over the rounds (the spread).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PACKAGE = os.path.join(ROOT, "bindings", "python")

IMPLS = ("socket", "native", "ctypes")
MSG = 64
CHUNK = 64 * 1024


# ------------------------------------------------------------------ workers
# Run in a child process: `bench.py --worker ROLE IMPL WORKLOAD N`.


def load(impl):
    """The module under test: CPython's socket or polysock with a backend."""
    if impl == "socket":
        import socket

        return socket
    os.environ["POLYSOCK_BACKEND"] = impl
    import polysock

    # The package before its backend switch (BACKEND.md) is the ctypes one.
    loaded = getattr(polysock, "backend", "ctypes")
    if loaded != impl:
        raise SystemExit("polysock loaded backend %r, not %r" % (loaded, impl))
    return polysock


def recv_exactly(sock, view):
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise SystemExit("peer closed")
        got += n


def serve(mod, workload, count):
    """The server end: prints its port, then serves one workload."""
    srv = mod.socket(mod.AF_INET, mod.SOCK_STREAM)
    srv.setsockopt(mod.SOL_SOCKET, mod.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    print(srv.getsockname()[1], flush=True)
    if workload == "connect":
        for _ in range(count):
            conn, _ = srv.accept()
            conn.close()
        return
    conn, _ = srv.accept()
    conn.setsockopt(mod.IPPROTO_TCP, mod.TCP_NODELAY, 1)
    if workload == "pingpong":
        buf = bytearray(MSG)
        view = memoryview(buf)
        while True:
            n = conn.recv_into(view)
            if n == 0:
                return
            conn.sendall(view[:n])
    elif workload == "bulk":
        buf = bytearray(CHUNK)
        while conn.recv_into(buf):
            pass
        conn.sendall(b"k")  # all arrived
    conn.close()


def client(mod, workload, count, port):
    """The measured end: returns the figure for `count` operations."""
    addr = ("127.0.0.1", port)
    if workload == "connect":
        start = time.perf_counter()
        for _ in range(count):
            c = mod.create_connection(addr)
            if c.recv(1) != b"":
                raise SystemExit("the server sent data")
            c.close()
        elapsed = time.perf_counter() - start
        return count / elapsed  # connections per second
    c = mod.create_connection(addr)
    c.setsockopt(mod.IPPROTO_TCP, mod.TCP_NODELAY, 1)
    if workload == "pingpong":
        out = b"x" * MSG
        back = memoryview(bytearray(MSG))
        for _ in range(count // 10):  # warm up
            c.sendall(out)
            recv_exactly(c, back)
        start = time.perf_counter()
        for _ in range(count):
            c.sendall(out)
            got = c.recv(MSG)
            while len(got) < MSG:
                got += c.recv(MSG - len(got))
        elapsed = time.perf_counter() - start
        c.close()
        return elapsed / count * 1e6  # microseconds per round trip
    data = memoryview(b"\xa5" * CHUNK)
    start = time.perf_counter()
    for _ in range(count):
        c.sendall(data)
    c.shutdown(mod.SHUT_WR)
    if c.recv(1) != b"k":
        raise SystemExit("no acknowledgement")
    elapsed = time.perf_counter() - start
    c.close()
    return count * CHUNK / elapsed / 2**20  # MiB per second


def worker(role, impl, workload, count):
    mod = load(impl)
    if role == "serve":
        serve(mod, workload, count)
    else:
        port = int(sys.stdin.readline())
        print(repr(client(mod, workload, count, port)), flush=True)


# ------------------------------------------------------------------- driver

WORKLOADS = {
    # name: (operations per run, unit, higher is better)
    "pingpong": (20000, "us/round trip", False),
    "bulk": (256 * 2**20 // CHUNK, "MiB/s", True),
    "connect": (2000, "conn/s", True),
}


def build(env):
    """setup.py build into target/python-bench; returns the lib directory."""
    out = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"),
                       "python-bench")
    lib = os.path.join(out, "lib")
    env = dict(env, POLYSOCK_BUILD_BASE=os.path.join(out, "build"))
    subprocess.check_call(
        [sys.executable, "setup.py", "-q", "build", "--build-lib", lib],
        cwd=PACKAGE, env=env, stdout=subprocess.DEVNULL)
    return lib


def run_once(impl, workload, count, env):
    me = os.path.abspath(__file__)
    cmd = [sys.executable, me, "--worker"]
    server = subprocess.Popen(cmd + ["serve", impl, workload, str(count)], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        if not port:
            raise SystemExit("%s server for %s did not start" % (impl, workload))
        out = subprocess.run(cmd + ["client", impl, workload, str(count)], env=env,
                             input=port + "\n", capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise SystemExit("%s %s client failed:\n%s" % (impl, workload, out.stderr))
        server.wait(timeout=60)
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def fmt(value):
    return "%.3g" % value if value < 100 else "%.0f" % value


def available(impl, env):
    """Whether the package can load `impl` (the native backend needs the
    package's backend switch)."""
    if impl == "socket":
        return True
    me = os.path.abspath(__file__)
    code = "import sys; sys.argv = ['x']; sys.path.insert(0, %r); import bench; bench.load(%r)" % (
        HERE, impl)
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True).returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a tenth of the work (a check)")
    ap.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        role, impl, workload, count = args.worker
        return worker(role, impl, workload, int(count))

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("POLYSOCK_LIB", None)
    lib = build(env)
    env["PYTHONPATH"] = lib
    print("python %s, polysock built into %s; %d rounds%s; loadavg %s"
          % (sys.version.split()[0], lib, args.rounds, " (quick)" if args.quick else "",
             " ".join("%.2f" % x for x in os.getloadavg())))
    print()
    impls = [i for i in IMPLS if available(i, env)]
    for impl in set(IMPLS) - set(impls):
        print("%s: not measured (the package cannot load that backend yet)" % impl)
    print("%-9s %-14s %9s %9s %-18s %9s %-18s" % (
        "workload", "unit", "socket", "native", "  native/socket", "ctypes", "  ctypes/socket"))
    for workload in args.only or WORKLOADS:
        count, unit, higher = WORKLOADS[workload]
        if args.quick:
            count = max(1, count // 10)
        figures = {impl: [] for impl in impls}
        k = len(impls)
        for r in range(args.rounds):
            for impl in impls[r % k:] + impls[:r % k]:
                figures[impl].append(run_once(impl, workload, count, env))
        row = ["%-9s %-14s %9s" % (workload, unit, fmt(statistics.median(figures["socket"])))]
        for impl in IMPLS[1:]:
            if impl not in figures:
                row.append("%9s   %-16s" % ("-", "-"))
                continue
            ratios = [p / s for p, s in zip(figures[impl], figures["socket"])]
            row.append("%9s   %.3fx (%.2f..%.2f)" % (
                fmt(statistics.median(figures[impl])), statistics.median(ratios),
                min(ratios), max(ratios)))
        print(" ".join(row), flush=True)
    print()
    print("ratio: polysock's figure over CPython socket's in the same round "
          "(pingpong: time, lower is better; bulk and connect: rate, higher is better)")


if __name__ == "__main__":
    main()
