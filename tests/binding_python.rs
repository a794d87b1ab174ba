//! Runs the Python binding's unittest suite (bindings/python/tests), its
//! native-module tests included, against a whole package (native module and
//! bundled library). The package is the one `POLYSOCK_PYTHON` has installed when that is set
//! (CI pip-installs it into a venv), else the package built here by setup.py
//! against this test run's library. Skipped, with a message, where python3
//! is not installed (never in CI).

mod common;
mod python_pkg;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The whole suite; each of its waits is bounded far below this.
const LIMIT: Duration = Duration::from_secs(300);

/// The interpreter and the package directory the suites run with; built
/// once for both tests.
fn package() -> &'static (PathBuf, PathBuf) {
    static PACKAGE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PACKAGE.get_or_init(|| match python_pkg::installed_python() {
        Some(python) => {
            let package = python_pkg::installed_package(&python);
            (python, package)
        }
        None => ("python3".into(), python_pkg::build_package("python")),
    })
}

/// Runs the suite with POLYSOCK_BACKEND set to `backend` (None: unset).
fn run_suite(backend: Option<&str>) {
    let (python, package) = package();
    let name = format!("python-{}", backend.unwrap_or("default"));
    let tree = python_pkg::suite_tree(&name, package);
    let log = common::tmp_dir(&name).join("unittest.log");
    let mut cmd = Command::new(python);
    cmd.args([
        "-X", "dev", "-m", "unittest", "discover", "-s", "tests", "-v",
    ])
    .current_dir(tree.join("bindings").join("python"))
    .env_remove("POLYSOCK_LIB")
    .env_remove("PYTHONPATH")
    .env("PYTHONDONTWRITEBYTECODE", "1");
    match backend {
        Some(b) => cmd.env("POLYSOCK_BACKEND", b),
        None => cmd.env_remove("POLYSOCK_BACKEND"),
    };
    let (ok, output) = common::run_logged(&mut cmd, &log, LIMIT);
    println!("package: {}\n{output}", package.display());
    assert!(
        ok,
        "the Python binding's tests failed (backend {backend:?}):\n{output}"
    );
}

fn python_missing() -> bool {
    if python_pkg::installed_python().is_none() && !python_pkg::python3_present() {
        common::missing_runtime(
            "Python",
            "python3 not found",
            "install python3 (Debian: apt-get install python3 python3-dev)",
        );
        return true;
    }
    false
}

#[test]
fn python_unittest_suite() {
    if !python_missing() {
        run_suite(None);
    }
}

#[test]
fn python_unittest_suite_ctypes() {
    if !python_missing() {
        run_suite(Some("ctypes"));
    }
}
