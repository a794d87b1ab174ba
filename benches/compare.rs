//! `cargo bench`: polysock against raw libc, measured in the same run.
//!
//! Builds benches/bench.c (one C program with both implementations of each
//! case) against the library cargo just built, then runs every case in
//! rounds, alternating which implementation goes first, and prints the
//! median rate of each, the ratio polysock/raw, and the spread (max-min
//! over median) of each side, both per second of wall time and per second
//! of CPU time (the process's; for poller10k the server thread's, since its
//! clients run in a raw child process; for the per-call cases the measured
//! sections'). The table is also written to benches/results.md and a bar
//! chart to benches/results.svg. The cases of benches/ring.c (more than two
//! sides each) run from ring_cases/.
//!
//! POLYSOCK_BENCH_ROUNDS (default 7) and POLYSOCK_BENCH_SCALE (default 1.0,
//! multiplies every case's size) tune the run. The sendfile case's file is
//! made once next to the bench binary (under target/) and deleted after.
//!
//! POLYSOCK_BENCH_INSTRUCTIONS=1 instead counts the instructions each side
//! executes in user space per operation (valgrind's callgrind, run at two
//! sizes: the difference divided by the difference in operations, so setup
//! cancels out), which a loaded machine does not disturb; it writes
//! benches/instructions.md (after its hand-kept before/after history).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

mod ring_cases;

/// A case: its bench.c name, its size, what it measures, and the goal;
/// for instruction counts, what one operation is, how many there are per
/// unit of size, and the two (small) sizes to run.
struct Case {
    name: &'static str,
    size: u64,
    unit: &'static str,
    goal: &'static str,
    op: &'static str,
    ops_per_size: u64,
    counted: [u64; 2],
    /// Its goal is per CPU-second (the chart shows that ratio).
    by_cpu: bool,
}

const CALL_GOAL: &str = "time ratio <= 1.02 (rate >= 0.98)";

const CASES: &[Case] = &[
    Case {
        name: "pingpong",
        size: 50_000,
        unit: "round trips/s (64 B, TCP)",
        goal: "time ratio <= 1.02 (rate >= 0.98)",
        op: "round trip",
        ops_per_size: 1,
        counted: [1_000, 2_000],
        by_cpu: false,
    },
    Case {
        name: "bulk",
        size: 65_536,
        unit: "MiB/s (4 GiB in 64 KiB writes)",
        goal: ">= 0.98",
        op: "64 KiB write",
        ops_per_size: 1,
        counted: [200, 400],
        by_cpu: false,
    },
    Case {
        name: "connect",
        size: 50_000,
        unit: "connect+accept+close/s",
        goal: ">= 1.0",
        op: "connection",
        ops_per_size: 1,
        counted: [500, 1_000],
        by_cpu: false,
    },
    Case {
        name: "sendfile",
        size: 1024,
        unit: "MiB/s (1 GiB file: polysock sendfile vs raw read+send, 64 KiB buffer)",
        goal: ">= 1.2 (sendfile over read+send)",
        op: "MiB",
        ops_per_size: 1,
        counted: [16, 32],
        by_cpu: false,
    },
    Case {
        name: "poller10k",
        size: 20,
        unit: "echoed messages/s (10,000 connections, 64 B; CPU: the server thread's)",
        goal: ">= 0.95 per server CPU-second (poller vs raw epoll)",
        op: "echoed message (server only)",
        ops_per_size: 10_000,
        counted: [1, 2],
        by_cpu: true,
    },
    Case {
        name: "sendto",
        size: 200_000,
        unit: "sendto calls/s (64 B datagrams to \"127.0.0.1\")",
        goal: CALL_GOAL,
        op: "sendto",
        ops_per_size: 1,
        counted: [1_024, 2_048],
        by_cpu: false,
    },
    Case {
        name: "recvfrom",
        size: 200_000,
        unit: "recvfrom calls/s (64 B datagrams, with the sender's address)",
        goal: CALL_GOAL,
        op: "recvfrom",
        ops_per_size: 1,
        counted: [1_024, 2_048],
        by_cpu: false,
    },
    Case {
        name: "mmsg",
        size: 200_000,
        unit: "datagrams/s (64 B; polysock sendmmsg+recvmmsg in batches of 32 vs a raw sendto+recvfrom loop)",
        goal: ">= 1.2 (batches over a loop)",
        op: "datagram sent and received",
        ops_per_size: 1,
        counted: [1_024, 2_048],
        by_cpu: false,
    },
    Case {
        name: "mmsgraw",
        size: 200_000,
        unit: "datagrams/s (64 B; sendmmsg+recvmmsg in batches of 32, polysock vs raw)",
        goal: CALL_GOAL,
        op: "datagram sent and received",
        ops_per_size: 1,
        counted: [1_024, 2_048],
        by_cpu: false,
    },
    Case {
        name: "poll",
        size: 20_000,
        unit: "polls/s (1,000 idle UDP sockets + 1 ready in the middle, timeout 1 s)",
        goal: CALL_GOAL,
        op: "poll of 1,001 sockets",
        ops_per_size: 1,
        counted: [256, 512],
        by_cpu: false,
    },
];

fn main() {
    // `cargo bench` passes --bench and filters; a filter selects cases.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = env_or("POLYSOCK_BENCH_ROUNDS", 7);
    let scale: f64 = env_or("POLYSOCK_BENCH_SCALE", 1.0);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = build_bench(&root);
    // The file the sendfile case sends, made by its first run.
    let data = DataFile(exe.with_file_name(format!("bench-data-{}.bin", std::process::id())));

    let selected: Vec<&Case> = CASES
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.name.contains(f.as_str())))
        .collect();
    if std::env::var_os("POLYSOCK_BENCH_INSTRUCTIONS").is_some() {
        count_instructions(&root, &exe, &selected, &data, filters.is_empty());
        return;
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| case | unit | raw (median) | polysock (median) | polysock/raw | spread raw | spread polysock | polysock/raw per CPU-second | CPU spread raw | CPU spread polysock | goal |"
    );
    let _ = writeln!(
        table,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    let mut bars = Vec::new();
    for case in selected {
        let size = ((case.size as f64) * scale).max(1.0) as u64;
        let (mut raw, mut ps) = (Vec::new(), Vec::new());
        let (mut raw_cpu, mut ps_cpu) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Interleave: alternate which side runs first each round.
            let order = if round % 2 == 0 {
                ["raw", "polysock"]
            } else {
                ["polysock", "raw"]
            };
            for imp in order {
                let (v, cpu) = run(&exe, case.name, imp, size, &data.0);
                if imp == "raw" {
                    raw.push(v);
                    raw_cpu.push(cpu);
                } else {
                    ps.push(v);
                    ps_cpu.push(cpu);
                }
            }
        }
        let (mr, mp) = (median(&mut raw), median(&mut ps));
        let ratio = mp / mr;
        // The same work per CPU-second: steadier than wall time on two
        // noisy cores.
        let (cr, cp) = (median(&mut raw_cpu), median(&mut ps_cpu));
        let _ = writeln!(
            table,
            "| {} | {} | {:.0} | {:.0} | {:.3} | {:.1}% | {:.1}% | {:.3} | {:.1}% | {:.1}% | {} |",
            case.name,
            case.unit,
            mr,
            mp,
            ratio,
            spread(&raw, mr),
            spread(&ps, mp),
            cp / cr,
            spread(&raw_cpu, cr),
            spread(&ps_cpu, cp),
            case.goal
        );
        bars.push((case.name, if case.by_cpu { cp / cr } else { ratio }));
        data.remove();
        eprintln!(
            "{}: raw {mr:.0}, polysock {mp:.0}, ratio {ratio:.3}; per CPU-second {:.3}",
            case.name,
            cp / cr
        );
    }
    // The ring's cases have more than two sides: tables of their own.
    let (ring_md, ring_bars) = ring_cases::run(&exe, rounds, scale, &filters);
    bars.extend(ring_bars);
    let header = format!(
        "{rounds} rounds per case, sides interleaved, medians; spread = (max-min)/median.\n\n"
    );
    println!("\n{header}{table}{ring_md}");
    if filters.is_empty() {
        let _ = std::fs::write(
            root.join("benches/results.md"),
            format!("{header}{table}{ring_md}"),
        );
        let _ = std::fs::write(root.join("benches/results.svg"), svg(&bars));
    }
}

/// Instructions per operation for each side of each case (see the top of
/// this file), printed and, for a full run, written to
/// benches/instructions.md.
fn count_instructions(root: &Path, exe: &Path, cases: &[&Case], data: &DataFile, all: bool) {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| case | per | raw | polysock | polysock - raw | polysock/raw |"
    );
    let _ = writeln!(table, "|---|---|---:|---:|---:|---:|");
    for case in cases {
        let per_op = |imp| {
            let [a, b] = case
                .counted
                .map(|n| callgrind(exe, case.name, imp, n, &data.0));
            (b - a) / ((case.counted[1] - case.counted[0]) * case.ops_per_size) as f64
        };
        let (raw, ps) = (per_op("raw"), per_op("polysock"));
        let _ = writeln!(
            table,
            "| {} | {} | {raw:.0} | {ps:.0} | {:.0} | {:.3} |",
            case.name,
            case.op,
            ps - raw,
            ps / raw
        );
        data.remove();
        eprintln!(
            "{}: raw {raw:.0}, polysock {ps:.0} instructions per {}",
            case.name, case.op
        );
    }
    let header = "Instructions executed in user space per operation (callgrind; kernel work is not counted), \
                  from two runs of each side: (count at size b - count at size a) / (operations b - a).\n\n";
    println!("\n{header}{table}");
    if all {
        // The file's history (before/after counts per change) stays; only
        // what follows the marker is this run's.
        let path = root.join("benches/instructions.md");
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let kept = old.split(LATEST).next().unwrap_or("");
        let _ = std::fs::write(&path, format!("{kept}{LATEST}\n\n{header}{table}"));
    }
}

/// Where benches/instructions.md's latest full run begins.
const LATEST: &str =
    "<!-- latest run: written by POLYSOCK_BENCH_INSTRUCTIONS=1 cargo bench --bench compare -->";

/// The instructions one run executes in its main process (callgrind).
fn callgrind(exe: &Path, case: &str, imp: &str, size: u64, data: &Path) -> f64 {
    let child = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args([case, imp, &size.to_string()])
        .env("POLYSOCK_BENCH_FILE", data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running valgrind (apt-get install valgrind)");
    let pid = child.id();
    let out = child.wait_with_output().expect("running valgrind");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{case} {imp} under callgrind failed: {err}"
    );
    // "==PID== Collected : N" for the process itself (not a forked child).
    let tag = format!("=={pid}== Collected : ");
    err.lines()
        .find_map(|l| l.strip_prefix(&tag))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count in callgrind's output: {err}"))
}

/// Deleted after its case, and on the way out whatever happens.
struct DataFile(PathBuf);

impl DataFile {
    fn remove(&self) {
        let _ = std::fs::remove_file(&self.0);
        let mut part = self.0.clone().into_os_string();
        part.push(".part");
        let _ = std::fs::remove_file(part);
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        self.remove();
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn spread(v: &[f64], median: f64) -> f64 {
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    (hi - lo) / median * 100.0
}

/// The library this `cargo bench` built (target/release/deps, or its
/// parent), linked through a directory that also names its SONAME.
fn build_bench(root: &Path) -> PathBuf {
    let exe_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let lib = [exe_dir.clone(), exe_dir.parent().unwrap().to_path_buf()]
        .into_iter()
        .find(|d| d.join("libpolysock.so").exists())
        .expect("libpolysock.so next to the bench binary");
    let link_dir = exe_dir.join("bench-lib");
    std::fs::create_dir_all(&link_dir).unwrap();
    for name in ["libpolysock.so", "libpolysock.so.0"] {
        let _ = std::fs::remove_file(link_dir.join(name));
        std::os::unix::fs::symlink(lib.join("libpolysock.so"), link_dir.join(name)).unwrap();
    }
    let exe = exe_dir.join("polysock-bench");
    let status = Command::new("cc")
        .args([
            "-O2",
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pthread",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("benches/bench.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&link_dir)
        // DT_RPATH, which LD_LIBRARY_PATH does not override: cargo points
        // that at target/release, whose libpolysock.so.0 is whatever
        // `cargo build --release` made last, not this run's library.
        .arg("-Wl,--disable-new-dtags")
        .arg(format!("-Wl,-rpath,{}", link_dir.display()))
        .arg("-lpolysock")
        .status()
        .expect("running cc");
    assert!(status.success(), "compiling benches/bench.c failed");
    exe
}

/// One run: (rate, rate per CPU-second of the process).
fn run(exe: &Path, case: &str, imp: &str, size: u64, data: &Path) -> (f64, f64) {
    let out = Command::new(exe)
        .args([case, imp, &size.to_string()])
        .env("POLYSOCK_BENCH_FILE", data)
        .output()
        .expect("running the bench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{case} {imp} failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |i| {
        text.split_whitespace()
            .nth(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("bad output: {text}"))
    };
    (field(2), field(4))
}

/// A bar chart of the ratios, with the 1.0 line.
fn svg(bars: &[(&str, f64)]) -> String {
    let (w, row, left) = (640.0, 36.0, 110.0);
    let h = 40.0 + row * bars.len() as f64;
    let scale = (w - left - 60.0) / 1.2;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"18\">polysock rate / raw libc rate (higher is better)</text>\n"
    );
    for (i, (name, ratio)) in bars.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let bw = ratio.min(1.2) * scale;
        let _ = writeln!(s, "<text x=\"8\" y=\"{}\">{name}</text>", y + 18.0);
        let _ = writeln!(
            s,
            "<rect x=\"{left}\" y=\"{}\" width=\"{bw:.1}\" height=\"24\" fill=\"#4a7ab5\"/>",
            y + 4.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\">{ratio:.3}</text>",
            left + bw + 6.0,
            y + 20.0
        );
    }
    let x1 = left + scale;
    let _ = writeln!(
        s,
        "<line x1=\"{x1:.1}\" y1=\"26\" x2=\"{x1:.1}\" y2=\"{h}\" stroke=\"#c33\" stroke-dasharray=\"4 3\"/>"
    );
    s.push_str("</svg>\n");
    s
}
