//! The ABI as a whole: the committed header matches the sources, every
//! exported symbol is declared in it with the prefix, the SONAME is set,
//! and the version macros agree with the library.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

fn committed_header() -> String {
    std::fs::read_to_string(common::include_dir().join("polysock.h")).expect("include/polysock.h")
}

/// include/polysock.h is exactly what cbindgen generates from the sources
/// now. (The header's constant values are the generating platform's, so
/// this comparison is made on Linux, where the committed header comes from.)
#[test]
#[cfg(target_os = "linux")]
fn committed_header_is_fresh() {
    let generated = std::fs::read_to_string(env!("POLYSOCK_GENERATED_HEADER")).unwrap();
    assert!(
        generated == committed_header(),
        "include/polysock.h is stale: regenerate it with `POLYSOCK_WRITE_HEADER=1 cargo build` and commit it"
    );
}

fn exported_symbols() -> BTreeSet<String> {
    let lib = common::lib_dir().join("libpolysock.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("running nm");
    assert!(out.status.success(), "nm failed on {}", lib.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_addr, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            // Text and data symbols are the ABI; skip version-node markers.
            matches!(kind, "T" | "D" | "B" | "R" | "W").then(|| name.to_string())
        })
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn every_export_is_prefixed_and_declared() {
    let exports = exported_symbols();
    let declared = common::declared_functions(&committed_header());
    assert!(exports.len() > 20, "suspiciously few exports: {exports:?}");
    for sym in &exports {
        assert!(
            sym.starts_with("polysock_"),
            "exported symbol without the prefix: {sym}"
        );
        assert!(
            declared.contains(sym),
            "exported but not declared in polysock.h: {sym}"
        );
    }
    for f in &declared {
        assert!(
            exports.contains(f),
            "declared in polysock.h but not exported: {f}"
        );
    }
}

/// The checker above must be able to fail: it sees a symbol the header
/// lacks.
#[test]
fn declaration_parser_finds_functions_and_only_them() {
    let header = "int32_t polysock_close(polysock_t h);\n#define POLYSOCK_X 1\n/* polysock_nope(1) */\nconst char *polysock_strerror(int32_t code);\n";
    let found = common::declared_functions(header);
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["polysock_close", "polysock_strerror"]
    );
}

#[test]
#[cfg(target_os = "linux")]
fn soname_is_versioned() {
    let lib = common::lib_dir().join("libpolysock.so");
    let out = Command::new("readelf")
        .arg("-d")
        .arg(&lib)
        .output()
        .expect("running readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    assert!(
        text.contains(&format!("Library soname: [libpolysock.so.{major}]")),
        "no SONAME in:\n{text}"
    );
}

#[test]
fn version_macros_match_cargo() {
    let header = committed_header();
    for (part, value) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert!(
            header.contains(&format!("#define POLYSOCK_VERSION_{part} {value}\n")),
            "POLYSOCK_VERSION_{part} is not {value}"
        );
    }
    let v = unsafe { std::ffi::CStr::from_ptr(polysock::ffi::error::polysock_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

/// Every function in the header is documented where it is declared (the
/// doc comment cbindgen copies from its `///` lines).
#[test]
fn every_declared_function_is_documented() {
    let header = committed_header();
    let lines: Vec<&str> = header.lines().collect();
    let declared = common::declared_functions(&header);
    let mut undocumented = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = declared.iter().find(|f| line.contains(&format!("{f}("))) else {
            continue;
        };
        if line.trim_start().starts_with('*') || line.trim_start().starts_with("/*") {
            continue; // a mention inside a comment
        }
        let previous = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        if !previous.is_some_and(|l| l.trim_end().ends_with("*/")) {
            undocumented.push(name.clone());
        }
    }
    assert!(
        undocumented.is_empty(),
        "functions without a doc comment in polysock.h: {undocumented:?}"
    );
}
