//! Build script: the shared library's SONAME, and the C header.
//!
//! The header is generated into OUT_DIR and copied to
//! target/<profile>/include/polysock.h. The committed include/polysock.h is
//! rewritten only when POLYSOCK_WRITE_HEADER=1; a test fails when it is
//! stale.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=POLYSOCK_WRITE_HEADER");
    let target = std::env::var("TARGET").unwrap();
    // The C tests build with the cc crate, which needs the target triple.
    println!("cargo:rustc-env=POLYSOCK_TARGET={target}");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os == "freebsd" {
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,-soname,libpolysock.so.{}",
            env("CARGO_PKG_VERSION_MAJOR")
        );
    }

    let crate_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(generated_macros());
    let out = PathBuf::from(env("OUT_DIR")).join("polysock.h");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header")
        .write_to_file(&out);
    println!(
        "cargo:rustc-env=POLYSOCK_GENERATED_HEADER={}",
        out.display()
    );

    if let Some(profile_dir) = profile_dir(&out) {
        let dir = profile_dir.join("include");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::copy(&out, dir.join("polysock.h"));
        // Programs linked against libpolysock.so ask for its SONAME at run
        // time; name it in the build tree too, as an installer would.
        #[cfg(unix)]
        if os == "linux" || os == "android" || os == "freebsd" {
            let link =
                profile_dir.join(format!("libpolysock.so.{}", env("CARGO_PKG_VERSION_MAJOR")));
            if std::fs::read_link(&link).is_err() {
                let _ = std::os::unix::fs::symlink("libpolysock.so", &link);
            }
        }
    }
    if std::env::var_os("POLYSOCK_WRITE_HEADER").is_some_and(|v| v == "1") {
        std::fs::copy(&out, crate_dir.join("include/polysock.h"))
            .expect("writing include/polysock.h");
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// target/<profile>/ from target/<profile>/build/polysock-*/out/polysock.h.
fn profile_dir(header: &Path) -> Option<PathBuf> {
    Some(header.parent()?.parent()?.parent()?.parent()?.to_path_buf())
}

/// The version macros and the platform's socket constants, as literal
/// values of the platform the header is generated on, from the same list
/// the library's constants table is built from.
fn generated_macros() -> String {
    let mut s = String::new();
    let v = |n| env(n);
    let _ = writeln!(
        s,
        "#define POLYSOCK_VERSION_MAJOR {}",
        v("CARGO_PKG_VERSION_MAJOR")
    );
    let _ = writeln!(
        s,
        "#define POLYSOCK_VERSION_MINOR {}",
        v("CARGO_PKG_VERSION_MINOR")
    );
    let _ = writeln!(
        s,
        "#define POLYSOCK_VERSION_PATCH {}",
        v("CARGO_PKG_VERSION_PATCH")
    );
    let _ = writeln!(
        s,
        "#define POLYSOCK_VERSION_STRING \"{}\"",
        v("CARGO_PKG_VERSION")
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "/* The platform's socket constants with the POLYSOCK_ prefix, also"
    );
    let _ = writeln!(
        s,
        " * available at run time through polysock_constant_lookup(). Values are"
    );
    let _ = writeln!(
        s,
        " * those of the platform this header was generated on (Linux for the"
    );
    let _ = writeln!(
        s,
        " * committed include/polysock.h; a build writes the header for its own"
    );
    let _ = writeln!(
        s,
        " * platform to target/<profile>/include/). A constant the platform lacks"
    );
    let _ = writeln!(s, " * is absent. */");
    for (name, value) in socket_constants() {
        let value = if value < 0 {
            format!("({value})")
        } else {
            value.to_string()
        };
        let _ = writeln!(s, "#define POLYSOCK_{name} {value}");
    }
    s
}

macro_rules! socket_constants {
    ($( $(#[$meta:meta])* $name:ident $(= $value:expr)? ),* $(,)?) => {
        fn socket_constants() -> Vec<(&'static str, i64)> {
            vec![ $( $(#[$meta])* (stringify!($name), constant_value!($name $(, $value)?)), )* ]
        }
    };
}

/// libc's value, or the one written where libc lacks it.
macro_rules! constant_value {
    ($name:ident) => {
        libc::$name as i64
    };
    ($name:ident, $value:expr) => {
        $value as i64
    };
}
include!("src/core/constant_list.rs");
