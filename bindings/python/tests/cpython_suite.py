"""Runs the installed CPython's own test_socket with its ``import socket``
given polysock (or, with ``--module socket``, CPython's own module), and
writes one JSON line per test: {"id": ..., "outcome": pass|fail|error|skip|
hang}.

    python3 cpython_suite.py --module polysock --out results.jsonl

Only test_socket's module-level ``import socket`` is swapped: test.support
and every other module the suite uses are imported first, with CPython's
socket, and keep it. No test.support resource (network...) is enabled.

A test that does not finish within --per-test seconds is recorded as
"hang": the worker process that ran it is killed and a new one carries on
with the tests after it, so one stuck test costs only its own result.
Each record also has "seconds", the test's own time.

With --jobs N, N such drivers run at once, each over every N-th test (with
the fixtures of its classes, as unittest runs them), and their records are
joined: the same tests, with the same outcomes as in one process (checked
when this was written: identical on both backends and on CPython's), in
the wall time of the slowest share (most long tests wait on a timeout
rather than use a core).

Not found by unittest discovery (its name does not start with "test").
Also writes OUT.tsv, "id<TAB>outcome<TAB>detail" a line, sorted.
"""

import argparse
import faulthandler
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# What test_socket imports besides socket, imported before the swap so that
# they bind CPython's socket (test.support.socket_helper does, at import).
_PRELOAD = (
    "test.support",
    "test.support.os_helper",
    "test.support.socket_helper",
    "test.support.threading_helper",
    "errno", "io", "itertools", "select", "tempfile", "time", "traceback",
    "queue", "platform", "array", "contextlib", "weakref", "signal", "math",
    "pickle", "struct", "random", "shutil", "string", "_thread", "threading",
    "multiprocessing", "fcntl", "socketserver", "ssl", "selectors", "asyncio",
)


def load_test_socket(module_name):
    """test.test_socket, executed with ``socket`` bound to `module_name`."""
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from test import support

    support.use_resources = []  # as regrtest without -u: no network
    if module_name == "polysock":
        sys.path.insert(0, os.path.dirname(HERE))
        replacement = importlib.import_module("polysock")
    else:
        replacement = importlib.import_module("socket")
    spec = importlib.util.find_spec("test.test_socket")
    module = importlib.util.module_from_spec(spec)
    sys.modules["test.test_socket"] = module
    saved = sys.modules["socket"]
    sys.modules["socket"] = replacement
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["socket"] = saved
    return module


def all_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from all_tests(item)
        else:
            yield item


class Recorder(unittest.TestResult):
    """Writes each test's outcome as it ends (a later hang loses nothing)."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.outcome = {}
        self.started = time.monotonic()

    def _set(self, test, outcome, detail=""):
        # A failing subtest or cleanup after success still fails the test.
        tid = test.id() if not isinstance(test, unittest.case._SubTest) else test.test_case.id()
        if self.outcome.get(tid) in ("fail", "error") and outcome == "pass":
            return
        self.outcome[tid] = outcome
        seconds = round(time.monotonic() - self.started, 3)
        self.out.write(json.dumps({"id": tid, "outcome": outcome, "seconds": seconds,
                                   "detail": detail[-600:]}) + "\n")
        self.out.flush()

    def addSuccess(self, test):
        self._set(test, "pass")

    def addFailure(self, test, err):
        self._set(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        self._set(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        self._set(test, "skip", reason)

    def addExpectedFailure(self, test, err):
        self._set(test, "pass")

    def addUnexpectedSuccess(self, test):
        self._set(test, "fail", "unexpected success")

    def addSubTest(self, test, subtest, err):
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self._set(subtest, kind, self._exc_info_to_string(err, test))


def worker(args):
    """Runs the tests whose ids are not in args.done, in order, appending
    to args.out; writes "start" before each so the driver knows a hang."""
    module = load_test_socket(args.module)
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as f:
            done = {json.loads(line)["id"] for line in f if line.strip()}
    wanted = [t for t in in_shard(all_tests(suite), args.shard, args.shards)
              if t.id() not in done]
    with open(args.out, "a") as out:
        result = Recorder(out)
        # Module and class fixtures, as unittest runs them, over the
        # remaining tests only.
        remaining = unittest.TestSuite(wanted)
        original_run = unittest.TestCase.run

        def run(self, result=None):
            out.write(json.dumps({"id": self.id(), "outcome": "start"}) + "\n")
            out.flush()
            result.started = time.monotonic()
            faulthandler.dump_traceback_later(args.per_test, exit=True, file=sys.stderr)
            try:
                return original_run(self, result)
            finally:
                faulthandler.cancel_dump_traceback_later()

        unittest.TestCase.run = run
        remaining.run(result)
        result_none = [t.id() for t in wanted if t.id() not in result.outcome]
        for tid in result_none:
            # Skipped by a class/module fixture failure: unittest reports it
            # on the fixture, not the test.
            out.write(json.dumps({"id": tid, "outcome": "error", "detail": "fixture"}) + "\n")
    return 0


def in_shard(tests, shard, shards):
    """Every `shards`-th test from the `shard`-th, in order: the long tests,
    which sit together in a few classes, spread over the shares. Each
    process runs the class fixtures of the classes it has tests of."""
    for index, test in enumerate(tests):
        if index % shards == shard:
            yield test


def sharded(args):
    """Runs --jobs drivers at once, each over its share of the tests
    (in_shard), and joins their records into args.out."""
    procs = []
    for shard in range(args.jobs):
        cmd = [sys.executable, os.path.abspath(__file__), "--module", args.module,
               "--out", "%s.%d" % (args.out, shard), "--per-test", str(args.per_test),
               "--shard", "%d/%d" % (shard, args.jobs)]
        procs.append(subprocess.Popen(cmd))
    failed = [p.wait() for p in procs]
    with open(args.out, "w") as out:
        for shard in range(args.jobs):
            with open("%s.%d" % (args.out, shard)) as f:
                out.write(f.read())
    if any(failed):
        return 1
    write_summary(args.out)
    return 0


def driver(args):
    """Re-runs the worker until every test has an outcome; a test left at
    "start" when the worker died is recorded as "hang"."""
    if args.jobs > 1:
        return sharded(args)
    if os.path.exists(args.out):
        os.remove(args.out)
    for _attempt in range(200):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker",
               "--module", args.module, "--out", args.out,
               "--per-test", str(args.per_test),
               "--shard", "%d/%d" % (args.shard, args.shards)]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started, finished = None, set()
        with open(args.out) as f:
            for line in f:
                rec = json.loads(line)
                if rec["outcome"] == "start":
                    started = rec["id"]
                else:
                    finished.add(rec["id"])
        if proc.returncode == 0:
            break
        if started is None or started in finished:
            sys.stderr.write(proc.stderr.decode(errors="replace")[-3000:])
            return 1
        with open(args.out, "a") as f:
            tail = proc.stderr.decode(errors="replace")[-600:]
            f.write(json.dumps({"id": started, "outcome": "hang", "detail": tail}) + "\n")
    write_summary(args.out)
    return 0


def write_summary(path):
    """`path`.tsv: one "id<TAB>outcome<TAB>detail" line per test (the
    detail's last line), for the Rust test that compares two runs."""
    final = {}
    for line in open(path):
        rec = json.loads(line)
        if rec["outcome"] != "start":
            final[rec["id"]] = rec
    with open(path + ".tsv", "w") as f:
        for tid in sorted(final):
            rec = final[tid]
            lines = [l.strip() for l in rec.get("detail", "").splitlines() if l.strip()]
            detail = lines[-1][:200] if lines else ""
            f.write("%s\t%s\t%s\n" % (tid, rec["outcome"], detail.replace("\t", " ")))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--module", choices=("polysock", "socket"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-test", type=float, default=30.0)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes running shares of the classes at once")
    parser.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.shard, args.shards = (int(n) for n in args.shard.split("/"))
    if args.jobs < 1 or not 0 <= args.shard < args.shards:
        parser.error("--jobs must be >= 1")
    return worker(args) if args.worker else driver(args)


if __name__ == "__main__":
    sys.exit(main())
