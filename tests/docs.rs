//! The C API reference (docs/apiref.py, `make docs`): it builds without a
//! warning and every function the header declares has its entry; a
//! function no README group names, a README name the header lacks, an
//! undocumented function or an error code outside README's table fails
//! the build instead of vanishing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Whether python3 runs here; says why not (and fails in CI) otherwise.
fn python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::missing_runtime(
            "python3",
            "python3 not found: the API reference is not built",
            "apt-get install python3",
        );
    }
    ok
}

/// Runs the generator; returns (success, its output, the page).
fn apiref(name: &str, header: &Path, readme: &Path) -> (bool, String, String) {
    let out = common::tmp_dir("apiref").join(name);
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = Command::new("python3");
    cmd.arg(common::root().join("docs/apiref.py"))
        .arg("--header")
        .arg(header)
        .arg("--readme")
        .arg(readme)
        .arg("--out")
        .arg(&out);
    let log = common::tmp_dir("apiref").join(format!("{name}.log"));
    let (ok, text) = common::run_logged(&mut cmd, &log, Duration::from_secs(60));
    let page = std::fs::read_to_string(out.join("index.html")).unwrap_or_default();
    (ok, text, page)
}

fn header() -> PathBuf {
    common::include_dir().join("polysock.h")
}

fn readme() -> PathBuf {
    common::root().join("README.md")
}

/// A copy of `original` in the test's temp dir, with `edit` applied.
fn edited(original: &Path, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(original).unwrap();
    let path = common::tmp_dir("apiref").join(name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// `text` with `insert` placed before the first occurrence of `before`.
fn insert_before(text: &str, before: &str, insert: &str) -> String {
    let at = text
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} not found"));
    format!("{}{insert}{}", &text[..at], &text[at..])
}

/// Runs the generator on a broken input; asserts it fails, naming `why`.
fn fails_with(name: &str, header: &Path, readme: &Path, why: &str) -> String {
    let (ok, log, page) = apiref(name, header, readme);
    assert!(!ok, "{name}: passed:\n{log}");
    assert!(log.contains(why), "{name}: no warning says {why:?}:\n{log}");
    page
}

#[test]
fn reference_builds_clean_with_every_function() {
    if !python() {
        return;
    }
    let (ok, log, page) = apiref("clean", &header(), &readme());
    assert!(ok, "docs/apiref.py failed:\n{log}");
    assert!(!log.contains("warning:"), "warnings:\n{log}");
    let declared = common::declared_functions(&std::fs::read_to_string(header()).unwrap());
    assert!(declared.len() > 20);
    for f in &declared {
        assert!(
            page.contains(&format!("<h3 id=\"{f}\">")),
            "{f} has no entry in the API reference"
        );
    }
    assert!(!page.contains("class=\"other\""), "an Other group exists");
    // The error-code table and the README sections came along.
    for needle in [
        "POLYSOCK_EPANIC",
        "id=\"error-codes\"",
        "id=\"api-conventions\"",
        "id=\"integrating-with-an-event-loop\"",
        "id=\"threads\"",
        "<td style=\"text-align:right\">20101</td>",
    ] {
        assert!(page.contains(needle), "the page lacks {needle}");
    }
}

#[test]
fn an_ungrouped_function_fails_but_is_shown_under_other() {
    if !python() {
        return;
    }
    let h = edited(&header(), "extra.h", |t| {
        let f = "/**\n * In no README group.\n */\nint32_t polysock_zz_ungrouped(void);\n\n";
        insert_before(&t, "#ifdef __cplusplus\n}", f)
    });
    let page = fails_with(
        "ungrouped",
        &h,
        &readme(),
        "polysock_zz_ungrouped is in no group",
    );
    let other = page.find("class=\"other\"").expect("no Other group");
    assert!(page[other..].contains("<h3 id=\"polysock_zz_ungrouped\">"));
}

#[test]
fn a_readme_name_the_header_lacks_fails() {
    if !python() {
        return;
    }
    let r = edited(&readme(), "README.md", |t| {
        insert_before(&t, "`polysock_socket`,", "`polysock_gone`, ")
    });
    fails_with("stale", &header(), &r, "names polysock_gone");
}

#[test]
fn an_undocumented_function_fails() {
    if !python() {
        return;
    }
    let h = edited(&header(), "undocumented.h", |t| {
        let start = t
            .find("/**\n * Closes a socket.")
            .expect("polysock_close's doc");
        let end = start + t[start..].find("*/\n").unwrap() + 3;
        format!("{}{}", &t[..start], &t[end..])
    });
    fails_with(
        "undocumented",
        &h,
        &readme(),
        "polysock_close has no doc comment",
    );
}

#[test]
fn an_error_code_missing_from_the_readme_table_fails() {
    if !python() {
        return;
    }
    let h = edited(&header(), "newcode.h", |t| {
        insert_before(
            &t,
            "#define POLYSOCK_EEOF",
            "#define POLYSOCK_ENEWCODE 20199\n\n",
        )
    });
    fails_with(
        "newcode",
        &h,
        &readme(),
        "POLYSOCK_ENEWCODE (20199) is not in README",
    );
}
