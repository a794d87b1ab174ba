#!/usr/bin/env python3
"""User-space instructions per operation of bench.py's workloads, counted
with callgrind: deterministic, so it holds on a loaded machine where the
timings of bench.py do not.

    python3 benches/python/count.py [--only WORKLOAD] [--impl IMPL]

Builds the package as bench.py does, then runs bench.py's own client and
server workers, one end at a time under valgrind --tool=callgrind (the
other end runs normally), at two operation counts; the difference of the
two totals over the difference of the counts is the cost of one operation
(64-byte round trip, 64 KiB sendall or recv_into, connection), without the
interpreter's start-up. The kernel's share is not counted: compare system
calls with strace.
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

# Two operation counts per workload: far enough apart that the slope
# dominates what varies between runs (the workers' warm-up, hashing).
COUNTS = {"pingpong": (200, 1200), "bulk": (512, 4608), "connect": (100, 600)}


def instructions(impl, workload, count, role, env):
    """Callgrind's total for `role` ('client' or 'serve') of one run."""
    me = os.path.join(HERE, "bench.py")
    with tempfile.TemporaryDirectory(prefix="polysock-count-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        grind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
        cmd = [sys.executable, me, "--worker"]
        server = subprocess.Popen((grind if role == "serve" else []) +
                                  cmd + ["serve", impl, workload, str(count)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        try:
            port = server.stdout.readline().strip()
            if not port:
                raise SystemExit("%s server for %s did not start" % (impl, workload))
            client = subprocess.run((grind if role == "client" else []) +
                                    cmd + ["client", impl, workload, str(count)],
                                    env=env, input=port + "\n", capture_output=True,
                                    text=True, timeout=900)
            if client.returncode != 0:
                raise SystemExit("%s %s client failed:\n%s" % (impl, workload, client.stderr))
            server.wait(timeout=900)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    raise SystemExit("no total in callgrind's output for %s %s" % (impl, workload))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=sorted(COUNTS), action="append")
    ap.add_argument("--impl", choices=bench.IMPLS, action="append")
    args = ap.parse_args()
    if subprocess.run(["valgrind", "--version"], capture_output=True).returncode != 0:
        raise SystemExit("count.py needs valgrind (apt-get install valgrind)")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    # One hash seed for every run: with random ones the connect slope varies
    # by about 1,500 instructions between runs of the same code.
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop("POLYSOCK_LIB", None)
    env["PYTHONPATH"] = bench.build(env)
    impls = args.impl or ["socket", "native"]
    print("user-space instructions per operation (callgrind), client and server end")
    print("%-9s %-8s %12s %12s" % ("workload", "impl", "client", "server"))
    for workload in args.only or COUNTS:
        low, high = COUNTS[workload]
        for impl in impls:
            per = []
            for role in ("client", "serve"):
                a = instructions(impl, workload, low, role, env)
                b = instructions(impl, workload, high, role, env)
                per.append((b - a) / (high - low))
            print("%-9s %-8s %12.0f %12.0f" % (workload, impl, per[0], per[1]), flush=True)


if __name__ == "__main__":
    main()
