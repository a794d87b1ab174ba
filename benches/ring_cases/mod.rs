//! The ring's cases (benches/ring.c), run by compare.rs in the same
//! command: more than two sides each, so their own table. Every round runs
//! each side once, the order rotating from round to round (A B C, B C A,
//! C A B, ...), so no side always goes first or last; medians and spreads
//! as for the other cases, and the goals' ratios from the medians.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Group {
    name: &'static str,
    sides: &'static [&'static str],
    size: u64,
    unit: &'static str,
    /// (numerator side, denominator side, goal or "", the chart's label:
    /// ratios with a goal are charted, per CPU-second)
    ratios: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

const GROUPS: &[Group] = &[
    Group {
        name: "echo10k",
        sides: &["ring", "poller", "epoll", "libuv"],
        size: 20,
        unit: "echoed messages/s (10,000 TCP connections, 64 B; CPU: the server process's)",
        ratios: &[
            ("ring", "epoll", ">= 1.25", "echo10k ring/epoll"),
            ("ring", "libuv", ">= 1.25", "echo10k ring/libuv"),
            ("poller", "epoll", ">= 0.95", "echo10k poller/epoll"),
            ("epoll", "libuv", "", ""),
        ],
    },
    Group {
        name: "udp",
        sides: &["gso", "mmsg", "sendto"],
        size: 1_000_000,
        unit: "1,200-byte datagrams received/s (CPU: sender and receiver threads)",
        ratios: &[
            ("gso", "sendto", ">= 3 (datagrams/s)", "udp gso/sendto"),
            ("mmsg", "sendto", "", ""),
            ("gso", "mmsg", "", ""),
        ],
    },
];

/// One side's medians and spreads: (wall rate, CPU rate).
struct Side {
    name: &'static str,
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

/// Runs the selected groups; returns the markdown (empty when none was
/// selected) and the chart's bars (ratios per CPU-second).
pub fn run(
    bench: &Path,
    rounds: usize,
    scale: f64,
    filters: &[String],
) -> (String, Vec<(&'static str, f64)>) {
    let selected: Vec<&Group> = GROUPS
        .iter()
        .filter(|g| filters.is_empty() || filters.iter().any(|f| g.name.contains(f.as_str())))
        .collect();
    let mut md = String::new();
    let mut bars = Vec::new();
    if selected.is_empty() {
        return (md, bars);
    }
    let (exe, libuv) = build(bench);
    if !libuv {
        eprintln!(
            "echo10k: libuv is not installed (no uv.h; apt-get install libuv1-dev): its side is skipped"
        );
    }
    for g in selected {
        let size = ((g.size as f64) * scale).max(1.0) as u64;
        let mut sides: Vec<Side> = g
            .sides
            .iter()
            .filter(|s| libuv || **s != "libuv")
            .map(|&name| Side {
                name,
                wall: Vec::new(),
                cpu: Vec::new(),
            })
            .collect();
        for round in 0..rounds {
            let n = sides.len();
            for k in 0..n {
                let side = &mut sides[(round + k) % n];
                let (w, c) = super::run(&exe, g.name, side.name, size, Path::new(""));
                side.wall.push(w);
                side.cpu.push(c);
            }
        }
        let _ = writeln!(md, "\n{}: {}\n", g.name, g.unit);
        let _ = writeln!(
            md,
            "| side | median/s | spread | median per CPU-second | CPU spread |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|");
        let mut medians = Vec::new();
        for s in &mut sides {
            let (w, c) = (super::median(&mut s.wall), super::median(&mut s.cpu));
            let _ = writeln!(
                md,
                "| {} | {w:.0} | {:.1}% | {c:.0} | {:.1}% |",
                s.name,
                super::spread(&s.wall, w),
                super::spread(&s.cpu, c)
            );
            medians.push((s.name, w, c));
        }
        let _ = writeln!(md, "\n| ratio | wall | per CPU-second | goal |");
        let _ = writeln!(md, "|---|---:|---:|---|");
        for &(a, b, goal, label) in g.ratios {
            let find = |n| medians.iter().find(|m| m.0 == n);
            let (Some(x), Some(y)) = (find(a), find(b)) else {
                let _ = writeln!(md, "| {a}/{b} | n/a | n/a | {goal} (side missing) |");
                continue;
            };
            let (rw, rc) = (x.1 / y.1, x.2 / y.2);
            let _ = writeln!(md, "| {a}/{b} | {rw:.3} | {rc:.3} | {goal} |");
            eprintln!("{}: {a}/{b} {rw:.3} wall, {rc:.3} per CPU-second", g.name);
            if !label.is_empty() {
                bars.push((label, rc));
            }
        }
    }
    (md, bars)
}

/// Compiles benches/ring.c next to compare.rs's program `bench`, against
/// the same library, with libuv where its header and library are
/// installed; returns the program and whether libuv is in it.
fn build(bench: &Path) -> (PathBuf, bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("benches/ring.c");
    let exe = bench.with_file_name("polysock-ring-bench");
    let lib_dir = bench.with_file_name("bench-lib");
    let compile = |libuv: bool| {
        let mut cmd = Command::new("cc");
        cmd.args([
            "-O2",
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pthread",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lpolysock");
        if libuv {
            cmd.args(["-DHAVE_LIBUV", "-luv"]);
        }
        cmd.stderr(std::process::Stdio::null());
        cmd.status().expect("running cc").success()
    };
    if Path::new("/usr/include/uv.h").exists() && compile(true) {
        return (exe, true);
    }
    assert!(compile(false), "compiling benches/ring.c failed");
    (exe, false)
}
