//! `cargo bench`: polysock against raw libc, measured in the same run.
//!
//! Builds benches/bench.c (one C program with both implementations of each
//! case) against the library cargo just built, then runs every case in
//! rounds, alternating which implementation goes first, and prints the
//! median rate of each, the ratio polysock/raw, and the spread (max-min
//! over median) of each side. The table is also written to
//! benches/results.md and a bar chart to benches/results.svg. The cases of
//! benches/ring.c (more than two sides each) run from ring_cases/.
//!
//! POLYSOCK_BENCH_ROUNDS (default 7) and POLYSOCK_BENCH_SCALE (default 1.0,
//! multiplies every case's size) tune the run. The sendfile case's file is
//! made once next to the bench binary (under target/) and deleted after.
//! poller10k's rate is per second of the server thread's CPU time: on a
//! small machine the clients, not the server, bound the wall-clock rate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

mod ring_cases;

/// A case: its bench.c name, its size, what it measures, and the goal.
struct Case {
    name: &'static str,
    size: u64,
    unit: &'static str,
    goal: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "pingpong",
        size: 50_000,
        unit: "round trips/s",
        goal: "time ratio <= 1.02 (rate >= 0.98)",
    },
    Case {
        name: "bulk",
        size: 65_536,
        unit: "MiB/s (4 GiB in 64 KiB writes)",
        goal: ">= 0.98",
    },
    Case {
        name: "connect",
        size: 50_000,
        unit: "connect+accept+close/s",
        goal: "time ratio <= 1.05 (rate >= 0.952)",
    },
    Case {
        name: "sendfile",
        size: 1024,
        unit: "MiB/s (1 GiB file: polysock sendfile vs raw read+send, 64 KiB buffer)",
        goal: ">= 1.2 (sendfile over read+send)",
    },
    Case {
        name: "poller10k",
        size: 20,
        unit: "echoed messages per server CPU-second (10,000 connections, 64 B)",
        goal: ">= 0.95 (poller vs raw epoll)",
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

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| case | unit | raw (median) | polysock (median) | polysock/raw | spread raw | spread polysock | polysock/raw per CPU-second | goal |"
    );
    let _ = writeln!(table, "|---|---|---:|---:|---:|---:|---:|---:|---|");
    let mut bars = Vec::new();
    for case in CASES
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.name.contains(f.as_str())))
    {
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
        // The same work per CPU-second of the process: steadier than wall
        // time on two noisy cores (n/a where the case is already per CPU).
        let (cr, cp) = (median(&mut raw_cpu), median(&mut ps_cpu));
        let cpu_ratio = if cr > 0.0 && cp > 0.0 {
            format!("{:.3}", cp / cr)
        } else {
            "n/a".to_string()
        };
        let _ = writeln!(
            table,
            "| {} | {} | {:.0} | {:.0} | {:.3} | {:.1}% | {:.1}% | {} | {} |",
            case.name,
            case.unit,
            mr,
            mp,
            ratio,
            spread(&raw, mr),
            spread(&ps, mp),
            cpu_ratio,
            case.goal
        );
        bars.push((case.name, ratio));
        data.remove();
        eprintln!(
            "{}: raw {mr:.0}, polysock {mp:.0}, ratio {ratio:.3}",
            case.name
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
