//! Compiles each C program in c_tests/ against include/polysock.h and the
//! shared library cargo just built, runs it, and fails if any of its tests
//! fail. Each program forks per test with a time limit (see
//! c_tests/harness.h); this driver adds an overall limit too.

mod common;

use std::process::Command;

macro_rules! c_tests {
    ($($name:ident),* $(,)?) => {
        $( #[test] fn $name() { common::run_c_program(stringify!($name)); } )*
    };
}

c_tests! {
    test_echo,
    test_errors,
    test_lifecycle,
    test_timeouts,
    test_threads,
    test_resources,
    test_bad_input,
    test_options,
    test_constants,
}

/// The header is plain C11 and C++11, warning-free at the strictest levels.
#[test]
fn header_compiles_as_strict_c_and_cpp() {
    let dir = common::tmp_dir("header");
    let src = dir.join("use_header.c");
    std::fs::write(
        &src,
        "#include \"polysock.h\"\nint main(void) { return polysock_version() == 0; }\n",
    )
    .unwrap();
    let include = common::include_dir();
    for (compiler, std, lang) in [("gcc", "-std=c11", "c"), ("g++", "-std=c++11", "c++")] {
        let mut cmd = Command::new(compiler);
        cmd.args([
            std,
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            "-x",
            lang,
        ]);
        cmd.arg("-I").arg(&include).arg(&src);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("running {compiler}: {e}"));
        assert!(
            out.status.success(),
            "{compiler} {std} rejects polysock.h:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
