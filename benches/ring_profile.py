#!/usr/bin/env python3
"""Sorts perf cpu-clock samples of an echo10k server into where the time
goes: the TCP/loopback path both servers run, system calls + epoll (what a
completion loop saves), io_uring's own code, fd lookups, the scheduler, and
user space. Each sample goes to the first frame, leaf first, that names a
category (a spin-lock unlock under sock_def_readable is TCP's).

    mkfifo /tmp/ctl /tmp/ack
    POLYSOCK_BENCH_PERF_CTL=/tmp/ctl,/tmp/ack perf record -g -e cpu-clock \\
        -c 250000 --no-inherit -D -1 --control=fifo:/tmp/ctl,/tmp/ack \\
        -o ring.data -- polysock-ring-bench echo10k ring 30
    benches/ring_profile.py ring.data [more.data ...]

Prints each category's samples (the mean over the files) and share.
"""
import collections
import re
import subprocess
import sys

RULES = [
    ("fd lookup", r"fget$|fdget|sock_from_file$|sockfd_lookup|fput$|__fput_sync"),
    ("io_uring", r"(__)?io_|io_uring|tctx_task_work"),
    ("syscall+epoll", r"(__)?ep_|do_epoll|__x64_sys_epoll|sock_poll$|tcp_poll$|__sys_recvfrom|__sys_sendto"
                      r"|__x64_sys_(recvfrom|sendto)|do_syscall_64|entry_SYSCALL|syscall_exit|exit_to_user"),
    ("tcp", r"(__)?(tcp|inet|ip|sock|sk|skb|net|netif|dev|napi|bbr|raw_local|loopback|validate_xmit"
            r"|kfree_skb|alloc_skb|ipv4|dst|neigh|eth|nf_|consume_skb)"
            r"|process_backlog$|handle_softirqs$|__local_bh_enable_ip$|do_softirq$|lock_sock_nested$"
            r"|release_sock$|_copy_to_iter$|_copy_from_iter$|__check_object_size$|simple_copy_to_iter$"),
    ("sched/irq", r"(__)?schedule|finish_task_switch|try_to_wake_up|pick_next|dequeue|enqueue|hrtimer"
                  r"|ttwu|asm_sysvec|sysvec|irq|__irq"),
]
RULES = [(name, re.compile(rx)) for name, rx in RULES]


def category(frames):
    if not frames[0][0]:
        return "user"
    for kernel, sym in frames:
        if not kernel:
            break
        for name, rx in RULES:
            if rx.match(sym):
                return name
    return "kernel, other"


def samples(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym"],
                         capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    for block in out.split("\n\n"):
        frames = []
        for line in block.strip().split("\n"):
            parts = line.split(None, 1)
            if len(parts) == 2:
                frames.append((parts[0].startswith("ffff"), parts[1].split("+")[0]))
        if frames:
            counts[category(frames)] += 1
    return counts


def main():
    total = collections.Counter()
    for path in sys.argv[1:]:
        total.update(samples(path))
    n = max(len(sys.argv) - 1, 1)
    all_samples = sum(total.values())
    for name, count in total.most_common():
        print(f"{name:15s} {count / n:9.0f} {100 * count / all_samples:5.1f}%")
    print(f"{'total':15s} {all_samples / n:9.0f}")


if __name__ == "__main__":
    main()
