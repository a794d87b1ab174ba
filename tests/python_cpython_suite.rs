//! CPython's own test_socket, run on polysock's Python package (its
//! `import socket` given `polysock`, bindings/python/tests/cpython_suite.py)
//! and on CPython's socket module, side by side: fails when fewer than
//! the floor (GATE_NATIVE_PERMILLE, GATE_CTYPES_PERMILLE) of the tests that
//! pass on CPython's module pass on polysock, with the default backend
//! (native when it provides BACKEND.md's whole contract, else ctypes) and
//! with the ctypes backend. Prints both counts
//! and every test whose outcome differs. Skipped, with a message, where
//! python3 or its `test` package is missing (never in CI: .ci/run checks
//! `import test.test_socket`).

mod common;
mod python_pkg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One run of the suite (JOBS processes): about a minute on CPython's module,
/// two on polysock's on a loaded machine (a per-test limit of 30 s bounds a
/// stuck test).
const LIMIT: Duration = Duration::from_secs(480);

/// Processes per run (cpython_suite.py --jobs): each runs every JOBS-th
/// test; the outcomes are those of one process, and most of the long tests
/// wait on a timeout rather than use a core.
const JOBS: &str = "3";

/// The share of CPython's passing tests that must pass on polysock, per
/// backend, in tenths of a percent; both meet the goal of 95%. Both
/// backends pass all 610 (the native module since it shares an fd another
/// object owns, as the ctypes backend does, and both since create_connection
/// goes through a replaced `socket.socket`), so each floor is 99.5%, a margin
/// of 0.5% (3 tests) for a test that a loaded machine makes flaky.
const GATE_NATIVE_PERMILLE: usize = 995;
const GATE_CTYPES_PERMILLE: usize = 995;

/// Tests that check a CPython-internal detail rather than the socket API;
/// they are left out of both counts. Each with its reason.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "test.test_socket.GeneralModuleTests.test_SocketType_is_socketobject",
        "asserts socket.SocketType is _socket.socket, CPython's C type itself",
    ),
    (
        "test.test_socket.GeneralModuleTests.testRefCountGetNameInfo",
        "reads sys.getrefcount of CPython's getnameinfo arguments",
    ),
];

type Outcomes = BTreeMap<String, (String, String)>;

fn run(python: &Path, tree: &Path, module: &str, backend: &str) -> Outcomes {
    let dir = common::tmp_dir(&format!("cpython-suite-{module}-{backend}"));
    let out = dir.join("results.jsonl");
    let mut cmd = Command::new(python);
    cmd.arg("tests/cpython_suite.py")
        .args(["--jobs", JOBS, "--module", module, "--out"])
        .arg(&out)
        .current_dir(tree.join("bindings").join("python"))
        .env_remove("POLYSOCK_LIB")
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("POLYSOCK_BACKEND", backend);
    let (ok, output) = common::run_logged(&mut cmd, &dir.join("run.log"), LIMIT);
    assert!(
        ok,
        "cpython_suite.py --module {module} ({backend}) failed:\n{output}"
    );
    let tsv = std::fs::read_to_string(out.with_extension("jsonl.tsv")).unwrap();
    tsv.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let id = parts.next()?.to_string();
            let outcome = parts.next()?.to_string();
            let detail = parts.next().unwrap_or("").to_string();
            Some((id, (outcome, detail)))
        })
        .collect()
}

fn excluded(id: &str) -> bool {
    EXCLUDED.iter().any(|(name, _)| *name == id)
}

/// (passing on both, passing on CPython's module), printing the differences.
fn compare(label: &str, cpython: &Outcomes, polysock: &Outcomes) -> (usize, usize) {
    let mut both = 0;
    let mut reference = 0;
    let mut lost = Vec::new();
    for (id, (outcome, _)) in cpython {
        if outcome != "pass" || excluded(id) {
            continue;
        }
        reference += 1;
        match polysock.get(id) {
            Some((o, _)) if o == "pass" => both += 1,
            Some((o, detail)) => lost.push(format!("  {id}: {o}: {detail}")),
            None => lost.push(format!("  {id}: not run")),
        }
    }
    let gained: Vec<_> = polysock
        .iter()
        .filter(|(id, (o, _))| o == "pass" && cpython.get(*id).map(|c| &c.0) != Some(o))
        .map(|(id, _)| format!("  {id}"))
        .collect();
    println!(
        "test_socket on polysock ({label}): {both} of the {reference} tests that pass on \
         CPython's socket pass ({:.1}%; {} excluded)",
        100.0 * both as f64 / reference.max(1) as f64,
        EXCLUDED.len()
    );
    println!(
        "passing on CPython's socket, not on polysock ({label}): {}",
        lost.len()
    );
    for line in &lost {
        println!("{line}");
    }
    println!("passing on polysock ({label}) only: {}", gained.len());
    for line in &gained {
        println!("{line}");
    }
    (both, reference)
}

fn has_test_package(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import test.test_socket"])
        .env_remove("PYTHONPATH")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn cpython_test_socket_passes_on_polysock() {
    let (python, package): (PathBuf, PathBuf) = match python_pkg::installed_python() {
        Some(python) => {
            let package = python_pkg::installed_package(&python);
            (python, package)
        }
        None => {
            if !python_pkg::python3_present() {
                common::missing_runtime(
                    "Python",
                    "python3 not found",
                    "install python3 (Debian: apt-get install python3 python3-dev)",
                );
                return;
            }
            (
                "python3".into(),
                python_pkg::build_package("python-cpython-suite"),
            )
        }
    };
    if !has_test_package(&python) {
        common::missing_runtime(
            "Python's test package",
            "`import test.test_socket` fails",
            "install CPython's test package (Debian: apt-get install libpython3.11-testsuite)",
        );
        return;
    }
    let tree = python_pkg::suite_tree("python-cpython-suite", &package);
    let runs: Vec<Outcomes> = std::thread::scope(|scope| {
        let jobs = [("socket", ""), ("polysock", ""), ("polysock", "ctypes")];
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(module, backend)| {
                let (python, tree) = (&python, &tree);
                scope.spawn(move || run(python, tree, module, backend))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let native = compare("default backend", &runs[0], &runs[1]);
    let ctypes = compare("ctypes", &runs[0], &runs[2]);
    let gates = [
        ("default backend", native, GATE_NATIVE_PERMILLE),
        ("ctypes", ctypes, GATE_CTYPES_PERMILLE),
    ];
    for (label, (both, reference), floor) in gates {
        assert!(
            both * 1000 >= reference * floor,
            "test_socket on polysock ({label}): {both} of {reference} pass, below {}%",
            floor as f64 / 10.0
        );
    }
}
