//! `pip install bindings/python` into a fresh virtualenv works, and the
//! installed copy has both backends: the native module, and libpolysock.so
//! inside the package for the ctypes one. pip links this test run's library
//! (POLYSOCK_LIB_DIR) instead of running cargo; it fetches setuptools from
//! PyPI for its isolated build, as any user's pip does. Skipped, with a
//! message, where python3 or its venv module is missing (never in CI).

mod common;
mod python_pkg;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// venv creation, pip's build (setuptools download, one C compile), import.
const LIMIT: Duration = Duration::from_secs(300);

/// Run by the installed interpreter from outside the repository: which copy
/// it imports, which backend it loads, and a round trip through it.
const CHECK: &str = r#"
import os, sys
import polysock
from polysock import _native
here = os.path.dirname(polysock.__file__)
assert here.startswith(sys.prefix), "imported %s, not the installed copy" % here
assert os.path.dirname(_native.__file__) == here, _native.__file__
assert polysock.library_path == os.path.join(here, "libpolysock.so"), polysock.library_path
for a, b in (_native.socketpair(), polysock.socketpair()):
    a.sendall(b"installed")
    assert b.recv(64) == b"installed"
    a.close()
    b.close()
print("ok", here)
"#;

fn run(cmd: &mut Command, log: &Path, what: &str) -> String {
    let (ok, output) = common::run_logged(cmd, log, LIMIT);
    assert!(ok, "{what} failed:\n{output}");
    output
}

#[test]
fn pip_install_into_a_fresh_venv() {
    let has_venv = python_pkg::python3_present()
        && Command::new("python3")
            .args(["-c", "import venv, ensurepip"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !has_venv {
        common::missing_runtime(
            "Python with venv",
            "python3 or its venv/ensurepip modules not found",
            "install python3, python3-venv and python3-dev",
        );
        return;
    }
    let scratch = common::tmp_dir("python_install");
    let venv = scratch.join("venv");
    let _ = std::fs::remove_dir_all(&venv);
    let log = scratch.join("install.log");
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        &log,
        "python3 -m venv",
    );
    let python = venv.join("bin").join("python");
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "-q",
    ])
    .arg(python_pkg::source_dir())
    .env_remove("PYTHONPATH")
    .env_remove("PIP_REQUIRE_VIRTUALENV");
    python_pkg::build_env(&mut pip, &scratch);
    run(&mut pip, &log, "pip install bindings/python");

    let output = run(
        Command::new(&python)
            .args(["-X", "dev", "-c", CHECK])
            .current_dir(&scratch)
            .env_remove("POLYSOCK_LIB")
            .env_remove("PYTHONPATH"),
        &scratch.join("check.log"),
        "the installed package",
    );
    assert!(output.starts_with("ok "), "{output}");
}
