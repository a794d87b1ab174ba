//! The mutation patches (tests/mutations/*.patch, run by
//! scripts/mutations.sh, results in docs/testing-mutations.md) are the
//! proof that each fault and stress test fails when its behaviour breaks.
//! That proof is only as good as the patches: one that no longer applies to
//! the source proves nothing, and nine of the nineteen had stopped applying
//! before this check existed. Each must still apply to src/ as it is, and
//! name a test that exists. (Running the mutations themselves rebuilds the
//! library once per patch, so that stays out of `cargo test`.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn patches() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(common::root().join("tests/mutations"))
        .expect("tests/mutations")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    all.sort();
    all
}

/// Whether git can check patches against this source tree (a git checkout
/// with git installed); says why not otherwise (and fails in CI).
fn git_work_tree(root: &Path) -> bool {
    let inside = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(root)
        .output();
    match inside {
        Ok(out) if out.status.success() => true,
        Ok(_) => {
            common::missing_runtime(
                "a git checkout",
                "the source is not a git work tree",
                "run the tests from a clone",
            );
            false
        }
        Err(e) => {
            common::missing_runtime("git", &format!("git: {e}"), "apt-get install git");
            false
        }
    }
}

#[test]
fn every_mutation_patch_applies_to_the_source() {
    let root = common::root();
    if !git_work_tree(&root) {
        return;
    }
    let all = patches();
    assert!(all.len() >= 19, "only {} patches", all.len());
    let stale: Vec<String> = all
        .iter()
        .filter_map(|p| {
            let out = Command::new("git")
                .args(["apply", "--check"])
                .arg(p)
                .current_dir(&root)
                .output()
                .expect("git apply");
            (!out.status.success()).then(|| {
                format!(
                    "{}: {}",
                    p.file_name().unwrap().to_string_lossy(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            })
        })
        .collect();
    assert!(
        stale.is_empty(),
        "mutation patches that no longer apply to src/ (remake each against \
         the current code, breaking the same behaviour, and run \
         scripts/mutations.sh on it):\n{}",
        stale.join("\n")
    );
}

#[test]
fn every_mutation_patch_names_a_test_that_exists() {
    for p in patches() {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("Test: "))
            .unwrap_or_else(|| panic!("{name}: no 'Test: <binary> <test>' line"));
        let (binary, test) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{name}: 'Test: {line}' names no test"));
        let source = std::fs::read_to_string(common::root().join(format!("tests/{binary}.rs")))
            .unwrap_or_else(|e| panic!("{name}: tests/{binary}.rs: {e}"));
        assert!(
            source.contains(&format!("fn {test}(")),
            "{name}: tests/{binary}.rs has no test {test}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("Mutation: ")),
            "{name}: no 'Mutation: <what it breaks>' line"
        );
    }
}
