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
    test_poll,
    test_msg,
    test_msg_control,
    test_sendfile,
    test_reader,
    test_resolver,
    test_connection,
    test_ring,
    test_udp,
    test_tls,
    test_interrupt,
    test_unix_names,
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

/// The README's quick start: the example server and client build and talk.
#[test]
fn examples_echo_server_and_client() {
    let server = common::compile_c_file(
        &common::root().join("examples/echo_server.c"),
        "echo_server",
    );
    let client = common::compile_c_file(
        &common::root().join("examples/echo_client.c"),
        "echo_client",
    );
    // The example server takes its port on the command line.
    let port = common::unused_port().to_string();
    let mut srv = Command::new(&server)
        .env_remove("LD_LIBRARY_PATH") // see common::run_with_limit
        .args(["127.0.0.1", &port])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting echo_server");
    // Wait for "listening on ..." so the client does not race the bind.
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(srv.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("listening on"), "server said: {line}");
    let (ok, out) = common::run_with_limit(
        &client,
        &["127.0.0.1", &port, "hello over polysock"],
        std::time::Duration::from_secs(20),
    );
    let _ = srv.kill();
    let _ = srv.wait();
    assert!(ok, "echo_client failed: {out}");
    assert_eq!(out.trim(), "hello over polysock");
}
