//! Shared by the integration tests: where the built library and the header
//! are, and how to compile and run a C program against them.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Names of the functions the header declares.
pub fn declared_functions(header: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let line = line.trim();
        if line.starts_with('#')
            || line.starts_with("//")
            || line.starts_with('*')
            || line.starts_with("/*")
        {
            continue;
        }
        if let Some(paren) = line.find('(') {
            let before = &line[..paren];
            if let Some(name) = before
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next_back()
            {
                if name.starts_with("polysock_") {
                    names.insert(name.to_string());
                }
            }
        }
    }
    names
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn include_dir() -> PathBuf {
    root().join("include")
}

/// A directory holding libpolysock.so and the libpolysock.so.<major>
/// name its SONAME asks for (cargo builds the first; an installer or
/// cargo-c makes the second), both links to what cargo just built.
pub fn linkable_lib_dir() -> PathBuf {
    let built = lib_dir().join("libpolysock.so");
    let dir = tmp_dir("lib");
    let soname = format!("libpolysock.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    for name in ["libpolysock.so", soname.as_str()] {
        // Tests run in parallel: replace the link atomically (a new link
        // renamed over the old), so no test ever sees it missing.
        let tmp = dir.join(format!(
            ".{name}.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&built, &tmp)
            .unwrap_or_else(|e| panic!("linking {}: {e}", tmp.display()));
        std::fs::rename(&tmp, dir.join(name))
            .unwrap_or_else(|e| panic!("renaming {}: {e}", tmp.display()));
    }
    dir
}

/// Where this test run's libpolysock.so is: `cargo test` rebuilds the
/// cdylib in target/<profile>/deps/ (it only refreshes the copy one level up
/// on `cargo build`), so deps/ comes first.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let profile = deps.parent().unwrap();
    for dir in [deps, profile] {
        if dir.join("libpolysock.so").exists() {
            return dir.to_path_buf();
        }
    }
    panic!("libpolysock.so not found next to {}", exe.display());
}

pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The C compiler the cc crate picks for this target.
pub fn c_compiler() -> Command {
    let target = env!("POLYSOCK_TARGET");
    cc::Build::new()
        .target(target)
        .host(target)
        .opt_level(1)
        .cargo_metadata(false)
        .warnings(false)
        .get_compiler()
        .to_command()
}

/// Compiles c_tests/<name>.c into an executable linked with libpolysock.
pub fn compile_c(name: &str) -> PathBuf {
    compile_c_file(&root().join("c_tests").join(format!("{name}.c")), name)
}

/// Compiles one C file into an executable `name` linked with libpolysock,
/// with warnings as errors.
pub fn compile_c_file(src: &Path, name: &str) -> PathBuf {
    let exe = tmp_dir("c_tests").join(name);
    let lib = linkable_lib_dir();
    let mut cmd = c_compiler();
    cmd.args([
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-pthread",
    ]);
    cmd.arg("-I")
        .arg(include_dir())
        .arg("-I")
        .arg(root().join("c_tests"));
    cmd.arg(src).arg("-o").arg(&exe);
    cmd.arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpolysock");
    let out = cmd.output().expect("running the C compiler");
    assert!(
        out.status.success(),
        "compiling {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// A TCP port free on 127.0.0.1 now, for a server that must be told its
/// port (Blade's http server, the example echo server) rather than binding
/// port 0 and reporting what the kernel chose. A port the kernel handed out
/// for port 0 and then released can be handed out again at once (to another
/// test's listener or to a connecting client), so these come from below
/// the kernel's ephemeral range, which only explicit binds reach: the
/// process's tests draw distinct ports from one counter, and each process
/// starts at an offset of its own, so parallel suites do not collide.
pub fn unused_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 10_000;
    let ephemeral_low: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(FIRST);
    assert!(
        span >= 1_000,
        "ip_local_port_range starts at {ephemeral_low}: no room below it for test ports"
    );
    let offset = std::process::id().wrapping_mul(97) % span;
    for _ in 0..span {
        let port = FIRST + (offset + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port on 127.0.0.1 in {FIRST}..{ephemeral_low}");
}

/// Waits for `child` at most `limit`, killing it then: its exit status, or
/// None when it had to be killed.
pub fn wait_limited(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` with stdin closed and its output in the file `log` (a
/// chatty child never blocks on a pipe), killed after `limit`; returns
/// (success, output).
pub fn run_logged(cmd: &mut Command, log: &Path, limit: Duration) -> (bool, String) {
    let file = std::fs::File::create(log).unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {:?}: {e}", cmd.get_program()));
    let status = wait_limited(&mut child, limit);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    match status {
        Some(s) if s.success() => (true, text),
        Some(s) => (false, format!("{text}\n({s})")),
        None => (false, format!("{text}\nkilled after {limit:?}")),
    }
}

/// Runs `exe` with `args`, killed after `limit`; returns (success, output).
pub fn run_with_limit(exe: &Path, args: &[&str], limit: Duration) -> (bool, String) {
    // The log goes to target/, never beside `exe` (a script may live in
    // the source tree).
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let log = tmp_dir("logs").join(format!("{name}.{}.log", std::process::id()));
    let mut cmd = Command::new(exe);
    // cargo test puts target/<profile>/ on LD_LIBRARY_PATH, which beats the
    // program's RUNPATH: an older libpolysock.so.0 left there by `cargo
    // build` would be tested instead of this run's library.
    cmd.env_remove("LD_LIBRARY_PATH").args(args);
    run_logged(&mut cmd, &log, limit)
}

/// Compiles and runs one C test program; panics with its output on failure.
pub fn run_c_program(name: &str) {
    let exe = compile_c(name);
    let (ok, output) = run_with_limit(&exe, &[], Duration::from_secs(120));
    println!("{output}");
    assert!(ok, "C test program {name} failed:\n{output}");
}

/// Whether a missing runtime fails the test instead of skipping it: in CI
/// (`CI` set to anything but empty, "0" or "false") or with
/// `POLYSOCK_REQUIRE_RUNTIMES=1`. CI must prove every binding it claims.
pub fn runtimes_required() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
            .unwrap_or(false)
    };
    set("CI") || set("POLYSOCK_REQUIRE_RUNTIMES")
}

/// What every binding test calls when its runtime is not there, then
/// returns. On a developer's machine it says "skipped: <reason>" where
/// CI's log shows it (straight to stderr, past the harness's capture of
/// println!) and the test passes; where runtimes are required (see
/// `runtimes_required`) it panics, naming the runtime, the reason and
/// `how` to get it.
pub fn missing_runtime(runtime: &str, reason: &str, how: &str) {
    if runtimes_required() {
        panic!(
            "{runtime} is required here (CI or POLYSOCK_REQUIRE_RUNTIMES=1) but missing: \
             {reason}; {how}"
        );
    }
    say_skipped(reason);
}

/// Prints "skipped: <reason>" where CI's log shows it: straight to
/// stderr, past the harness's capture of println!/eprintln!.
pub fn say_skipped(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// Where bindings/build-vms.sh builds the runtimes: target/vms (the
/// parent of CARGO_TARGET_TMPDIR is the target directory).
pub fn vms_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("vms")
}

/// `rel` under target/vms when build-vms.sh has finished building
/// runtime `name` there (its stamp is written last), else None.
pub fn built_vm(name: &str, rel: &str) -> Option<PathBuf> {
    let vms = vms_dir();
    vms.join(format!("{name}.stamp"))
        .is_file()
        .then(|| vms.join(rel))
}

/// How to get a runtime that build-vms.sh builds, for `missing_runtime`.
pub const BUILD_VMS_HOW: &str = "run bindings/build-vms.sh (it builds the snapshots of ../shared/vms into target/vms and names \
     the Debian packages it needs; .ci/run does this)";
