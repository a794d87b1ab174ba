//! The Python package as the Python tests use it: built with its native
//! backend (bindings/python/setup.py, against this test run's library), or
//! installed (POLYSOCK_PYTHON names an interpreter that has it, as CI's
//! venv does), and a tree in which bindings/python/tests import that copy.

#![allow(dead_code)]

use super::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Building the package: a C compile and a copy (no cargo: the library is
/// this test run's).
const BUILD_LIMIT: Duration = Duration::from_secs(180);

/// The interpreter that has polysock installed, when one is named.
pub fn installed_python() -> Option<PathBuf> {
    std::env::var_os("POLYSOCK_PYTHON").map(PathBuf::from)
}

pub fn python3_present() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// bindings/python.
pub fn source_dir() -> PathBuf {
    common::root().join("bindings").join("python")
}

/// Environment for a setup.py or pip run that links this test run's
/// library (libpolysock.a and .so) instead of running cargo.
pub fn build_env(cmd: &mut Command, scratch: &Path) {
    cmd.env("POLYSOCK_LIB_DIR", common::lib_dir())
        .env("POLYSOCK_BUILD_BASE", scratch.join("build"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
}

/// `setup.py build` of the package into target/tmp/<name>/lib, against this
/// test run's library: the directory of the built `polysock` package.
pub fn build_package(name: &str) -> PathBuf {
    let scratch = common::tmp_dir(name);
    let lib = scratch.join("lib");
    let _ = std::fs::remove_dir_all(&lib);
    let mut cmd = Command::new("python3");
    cmd.arg("setup.py")
        .args(["-q", "build", "--build-lib"])
        .arg(&lib)
        .current_dir(source_dir());
    build_env(&mut cmd, &scratch);
    let (ok, output) = common::run_logged(&mut cmd, &scratch.join("build.log"), BUILD_LIMIT);
    assert!(ok, "setup.py build failed:\n{output}");
    lib.join("polysock")
}

/// The `polysock` package directory that `python` imports (run from a
/// directory outside the repository, so that it is the installed one).
pub fn installed_package(python: &Path) -> PathBuf {
    let out = Command::new(python)
        .args([
            "-c",
            "import os, polysock; print(os.path.dirname(polysock.__file__))",
        ])
        .current_dir(std::env::temp_dir())
        .env_remove("PYTHONPATH")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{} cannot import polysock:\n{}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A tree laid out as the repository (bindings/python/{polysock, tests,
/// examples}, include/) whose `polysock` is `package`: the suite's
/// support.py imports the package from beside its tests, so this makes it
/// import `package`, and the tests' paths to the header and the examples
/// still resolve.
pub fn suite_tree(name: &str, package: &Path) -> PathBuf {
    let root = common::tmp_dir(name).join("tree");
    let _ = std::fs::remove_dir_all(&root);
    let python = root.join("bindings").join("python");
    std::fs::create_dir_all(&python).unwrap();
    let link = |target: &Path, at: &Path| {
        std::os::unix::fs::symlink(target, at)
            .unwrap_or_else(|e| panic!("linking {}: {e}", at.display()))
    };
    link(package, &python.join("polysock"));
    link(&source_dir().join("tests"), &python.join("tests"));
    link(&source_dir().join("examples"), &python.join("examples"));
    link(&common::include_dir(), &root.join("include"));
    root
}
