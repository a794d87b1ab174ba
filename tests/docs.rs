//! The C API reference (docs/apiref.py, `make docs`): it builds without a
//! warning, every function the header declares has its entry, and a
//! function no README group names, or a README name the header lacks,
//! fails the build instead of vanishing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn have_python() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
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

#[test]
fn reference_builds_clean_with_every_function() {
    if !have_python() {
        return common::missing_runtime(
            "python3",
            "python3 not found: the API reference is not built",
            "apt-get install python3",
        );
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

/// A copy of the header with one more documented function, at the end.
fn header_with_extra_function() -> PathBuf {
    let text = std::fs::read_to_string(header()).unwrap();
    let at = text.rfind("#ifdef __cplusplus").unwrap();
    let extra =
        "/**\n * A function no README group names.\n */\nint32_t polysock_zz_ungrouped(void);\n\n";
    let path = common::tmp_dir("apiref").join("extra.h");
    std::fs::write(&path, format!("{}{extra}{}", &text[..at], &text[at..])).unwrap();
    path
}

#[test]
fn an_ungrouped_function_fails_but_is_shown_under_other() {
    if !have_python() {
        return common::missing_runtime(
            "python3",
            "python3 not found: the API reference is not built",
            "apt-get install python3",
        );
    }
    let (ok, log, page) = apiref("ungrouped", &header_with_extra_function(), &readme());
    assert!(!ok, "an ungrouped function passed:\n{log}");
    assert!(
        log.contains("polysock_zz_ungrouped is in no group"),
        "no warning names it:\n{log}"
    );
    let other = page.find("class=\"other\"").expect("no Other group");
    assert!(page[other..].contains("<h3 id=\"polysock_zz_ungrouped\">"));
}

#[test]
fn a_readme_name_the_header_lacks_fails() {
    if !have_python() {
        return common::missing_runtime(
            "python3",
            "python3 not found: the API reference is not built",
            "apt-get install python3",
        );
    }
    let text = std::fs::read_to_string(readme()).unwrap();
    let old = "- **Lifecycle:** `polysock_socket`,";
    assert!(text.contains(old), "README's Lifecycle group moved");
    let readme = common::tmp_dir("apiref").join("README.md");
    std::fs::write(
        &readme,
        text.replace(old, "- **Lifecycle:** `polysock_gone`, `polysock_socket`,"),
    )
    .unwrap();
    let (ok, log, _) = apiref("stale", &header(), &readme);
    assert!(!ok, "a stale README name passed:\n{log}");
    assert!(log.contains("names polysock_gone"), "{log}");
}

#[test]
fn an_undocumented_function_fails() {
    if !have_python() {
        return common::missing_runtime(
            "python3",
            "python3 not found: the API reference is not built",
            "apt-get install python3",
        );
    }
    let text = std::fs::read_to_string(header()).unwrap();
    let doc_start = text
        .find("/**\n * Closes a socket.")
        .expect("polysock_close's doc");
    let doc_end = doc_start + text[doc_start..].find("*/\n").unwrap() + 3;
    let path = common::tmp_dir("apiref").join("undocumented.h");
    std::fs::write(&path, format!("{}{}", &text[..doc_start], &text[doc_end..])).unwrap();
    let (ok, log, _) = apiref("undocumented", &path, &readme());
    assert!(!ok, "an undocumented function passed:\n{log}");
    assert!(log.contains("polysock_close has no doc comment"), "{log}");
}

#[test]
fn an_error_code_missing_from_the_readme_table_fails() {
    if !have_python() {
        return common::missing_runtime(
            "python3",
            "python3 not found: the API reference is not built",
            "apt-get install python3",
        );
    }
    let text = std::fs::read_to_string(header()).unwrap();
    let at = text.find("#define POLYSOCK_EEOF").unwrap();
    let path = common::tmp_dir("apiref").join("newcode.h");
    std::fs::write(
        &path,
        format!(
            "{}#define POLYSOCK_ENEWCODE 20199\n\n{}",
            &text[..at],
            &text[at..]
        ),
    )
    .unwrap();
    let (ok, log, _) = apiref("newcode", &path, &readme());
    assert!(
        !ok,
        "an error code outside the README's table passed:\n{log}"
    );
    assert!(
        log.contains("POLYSOCK_ENEWCODE (20199) is not in README"),
        "{log}"
    );
}
