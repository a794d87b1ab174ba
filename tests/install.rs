//! `make install` as a packager runs it: into a temp DESTDIR under a
//! PREFIX, then the tree, the shared library's SONAME and symbol versions,
//! the pkg-config file, and a C program built with `pkg-config` against
//! the installed tree alone, linked shared and static, run. `make
//! uninstall` removes every file again.

#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const PREFIX: &str = "/opt/polysock";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");
const MINOR: &str = env!("CARGO_PKG_VERSION_MINOR");

/// The target directory this test run was built in (target/<profile>/deps/
/// holds the test executable): `make` builds its dist profile there.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Runs `make <args>` in the repository, bounded; panics with its output.
/// One at a time: two makes would link the same outputs at once.
fn make(args: &[&str], log: &str) -> String {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(common::root()).args(args);
    cmd.env("CARGO_TARGET_DIR", target_dir());
    // The install under test is the default build, whatever flags this
    // test run was built with.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let log = common::tmp_dir("install").join(log);
    // A cold dist build compiles the dependencies and runs LTO.
    let (ok, out) = common::run_logged(&mut cmd, &log, Duration::from_secs(20 * 60));
    assert!(ok, "make {args:?} failed:\n{out}");
    out
}

/// A fresh DESTDIR with `make install PREFIX=/opt/polysock` done in it.
fn install_into(name: &str) -> PathBuf {
    let dest = common::tmp_dir("install").join(name);
    let _ = std::fs::remove_dir_all(&dest);
    make(
        &[
            "install",
            &format!("DESTDIR={}", dest.display()),
            &format!("PREFIX={PREFIX}"),
        ],
        &format!("{name}.make.log"),
    );
    dest
}

/// The tree the tests share (installed once per test run).
fn installed() -> &'static Path {
    static DEST: OnceLock<PathBuf> = OnceLock::new();
    DEST.get_or_init(|| install_into("dest"))
}

fn prefix_in(dest: &Path) -> PathBuf {
    dest.join(PREFIX.trim_start_matches('/'))
}

fn libdir() -> PathBuf {
    prefix_in(installed()).join("lib")
}

/// Every file and link under `root`, relative, with links shown as
/// `name -> target`.
fn tree(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let to = std::fs::read_link(&path).unwrap();
                out.insert(format!("{rel} -> {}", to.display()));
            } else if meta.is_dir() {
                stack.push(path);
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

fn output_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn installs_exactly_the_library_tree() {
    let prefix = prefix_in(installed());
    let expected: BTreeSet<String> = [
        "include/polysock.h".to_string(),
        "lib/libpolysock.a".to_string(),
        format!("lib/libpolysock.so.{VERSION}"),
        format!("lib/libpolysock.so.{MAJOR} -> libpolysock.so.{VERSION}"),
        format!("lib/libpolysock.so -> libpolysock.so.{VERSION}"),
        "lib/pkgconfig/polysock.pc".to_string(),
    ]
    .into_iter()
    .collect();
    assert_eq!(tree(installed()), tree_under(&prefix, &expected));
    assert_eq!(
        std::fs::read_to_string(prefix.join("include/polysock.h")).unwrap(),
        std::fs::read_to_string(common::include_dir().join("polysock.h")).unwrap(),
        "the installed header is not the committed include/polysock.h"
    );
    let soname = output_of(
        Command::new("readelf")
            .arg("-d")
            .arg(libdir().join(format!("libpolysock.so.{VERSION}"))),
    );
    assert!(
        soname.contains(&format!("Library soname: [libpolysock.so.{MAJOR}]")),
        "SONAME is not libpolysock.so.{MAJOR}:\n{soname}"
    );
}

/// `expected`, relative to the DESTDIR instead of the prefix.
fn tree_under(prefix: &Path, expected: &BTreeSet<String>) -> BTreeSet<String> {
    let rel = prefix.strip_prefix(installed()).unwrap();
    expected
        .iter()
        .map(|e| format!("{}/{e}", rel.display()))
        .collect()
}

/// The version nodes polysock.map defines, in order.
fn map_nodes() -> Vec<String> {
    let map = std::fs::read_to_string(common::root().join("polysock.map")).unwrap();
    let mut text = String::new();
    let mut rest = map.as_str();
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = &rest[start + rest[start..].find("*/").unwrap() + 2..];
    }
    text.push_str(rest);
    let mut nodes = Vec::new();
    let mut depth = 0;
    let mut word = String::new();
    for c in text.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    nodes.push(word.trim().to_string());
                }
                depth += 1;
            }
            '}' => {
                depth -= 1;
                word.clear();
            }
            ';' if depth == 0 => word.clear(),
            _ if depth == 0 => word.push(c),
            _ => {}
        }
    }
    nodes
}

#[test]
fn version_script_ends_with_this_version() {
    let nodes = map_nodes();
    assert_eq!(
        nodes.last().map(String::as_str),
        Some(format!("POLYSOCK_{MAJOR}.{MINOR}").as_str()),
        "the newest node of polysock.map must be this version's (Cargo.toml {VERSION}): {nodes:?}"
    );
}

#[test]
fn exports_only_versioned_polysock_functions() {
    let lib = libdir().join(format!("libpolysock.so.{VERSION}"));
    let dump = output_of(Command::new("objdump").arg("-T").arg(&lib));
    let nodes: BTreeSet<String> = map_nodes().into_iter().collect();
    let mut exported = BTreeSet::new();
    for line in dump
        .lines()
        .filter(|l| l.contains(" DF ") || l.contains(" DO "))
    {
        if line.contains("*UND*") {
            continue;
        }
        // address, flags, section, size, version, name
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (version, name) = (fields[fields.len() - 2], fields[fields.len() - 1]);
        if line.contains("*ABS*") && name == version {
            // The definition of a version node itself.
            assert!(nodes.contains(name), "unknown version node {name}");
            continue;
        }
        assert!(
            name.starts_with("polysock_"),
            "{} exports {name} ({version})",
            lib.display()
        );
        assert!(
            nodes.contains(version),
            "{name} has version {version}, not one of polysock.map's {nodes:?}"
        );
        exported.insert(name.to_string());
    }
    let header =
        std::fs::read_to_string(prefix_in(installed()).join("include/polysock.h")).unwrap();
    assert_eq!(
        exported,
        common::declared_functions(&header),
        "the installed library's exports differ from the installed header's functions"
    );
}

/// `pkg-config <args> polysock`, seeing only the installed tree (through
/// the sysroot, as a cross or staged build would).
fn pkg_config(args: &[&str]) -> String {
    let dest = installed();
    let out = output_of(
        Command::new("pkg-config")
            .args(args)
            .arg("polysock")
            .env_remove("PKG_CONFIG_PATH")
            .env("PKG_CONFIG_LIBDIR", libdir().join("pkgconfig"))
            .env("PKG_CONFIG_SYSROOT_DIR", dest),
    );
    out.trim().to_string()
}

fn native_static_libs() -> String {
    let file = target_dir().join("dist/native-static-libs");
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_string()
}

#[test]
fn pkg_config_describes_the_installed_tree() {
    let prefix = prefix_in(installed());
    assert_eq!(pkg_config(&["--modversion"]), VERSION);
    assert_eq!(
        pkg_config(&["--cflags"]),
        format!("-I{}", prefix.join("include").display())
    );
    let libs = format!("-L{} -lpolysock", prefix.join("lib").display());
    assert_eq!(pkg_config(&["--libs"]), libs);
    // Libs.private is what rustc named for this static library.
    let private = native_static_libs();
    assert!(private.contains("-l"), "no native libraries: {private:?}");
    assert_eq!(
        pkg_config(&["--static", "--libs"]),
        format!("{libs} {private}")
    );
}

/// Compiles tests/install/smoke.c in an empty directory with `flags` only.
fn compile_smoke(name: &str, flags: &[String]) -> PathBuf {
    let dir = common::tmp_dir("install").join(format!("build-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(name);
    let mut cmd = common::c_compiler();
    cmd.current_dir(&dir)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(common::root().join("tests/install/smoke.c"))
        .arg("-o")
        .arg(&exe)
        .args(flags);
    let out = cmd.output().expect("running the C compiler");
    assert!(
        out.status.success(),
        "compiling smoke.c ({name}) with {flags:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn split(flags: &str) -> Vec<String> {
    flags.split_whitespace().map(String::from).collect()
}

fn needed(exe: &Path) -> Vec<String> {
    output_of(Command::new("readelf").arg("-d").arg(exe))
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .map(String::from)
        .collect()
}

/// Runs the program with `ld_path` as its only library path; returns where
/// it says polysock's code came from.
fn run_smoke(exe: &Path, ld_path: Option<&Path>) -> PathBuf {
    let log = common::tmp_dir("install").join(format!(
        "{}.log",
        exe.file_name().unwrap().to_string_lossy()
    ));
    let mut cmd = Command::new(exe);
    cmd.env_remove("LD_LIBRARY_PATH");
    if let Some(dir) = ld_path {
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    let (ok, out) = common::run_logged(&mut cmd, &log, Duration::from_secs(60));
    assert!(ok && out.contains("echo ok"), "{}:\n{out}", exe.display());
    let from = out
        .lines()
        .find_map(|l| l.strip_prefix("loaded from "))
        .unwrap_or_else(|| panic!("no 'loaded from' line:\n{out}"));
    std::fs::canonicalize(from).unwrap()
}

#[test]
fn c_program_links_shared_with_pkg_config() {
    let flags = split(&pkg_config(&["--cflags", "--libs"]));
    let exe = compile_smoke("smoke-shared", &flags);
    let needs = needed(&exe);
    assert!(
        needs
            .iter()
            .any(|l| l.contains(&format!("[libpolysock.so.{MAJOR}]"))),
        "does not need libpolysock.so.{MAJOR}: {needs:?}"
    );
    let from = run_smoke(&exe, Some(&libdir()));
    assert_eq!(
        from,
        std::fs::canonicalize(libdir().join(format!("libpolysock.so.{VERSION}"))).unwrap(),
        "polysock came from somewhere else than the installed library"
    );
}

#[test]
fn c_program_links_static_with_pkg_config() {
    // Both libraries are installed, so the linker is told to take the
    // archive for -lpolysock, as a static build does; every other flag is
    // pkg-config's.
    let mut flags = split(&pkg_config(&["--cflags", "--static", "--libs"]));
    let at = flags
        .iter()
        .position(|f| f == "-lpolysock")
        .expect("-lpolysock in pkg-config --libs");
    flags.insert(at + 1, "-Wl,-Bdynamic".into());
    flags.insert(at, "-Wl,-Bstatic".into());
    let exe = compile_smoke("smoke-static", &flags);
    let needs = needed(&exe);
    assert!(
        !needs.iter().any(|l| l.contains("libpolysock")),
        "a static build still needs libpolysock: {needs:?}"
    );
    let from = run_smoke(&exe, None);
    assert_eq!(from, std::fs::canonicalize(&exe).unwrap());
}

#[test]
fn uninstall_removes_every_file() {
    let dest = install_into("dest-uninstall");
    assert!(!tree(&dest).is_empty());
    make(
        &[
            "uninstall",
            &format!("DESTDIR={}", dest.display()),
            &format!("PREFIX={PREFIX}"),
        ],
        "uninstall.make.log",
    );
    assert_eq!(tree(&dest), BTreeSet::new(), "left behind");
}
