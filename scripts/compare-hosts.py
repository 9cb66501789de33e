#!/usr/bin/env python3
"""Side-by-side cost of two `sieve` builds on the bundled models.

Runs every bundled model on the same generated data with both binaries, alternating them run by
run so machine noise hits both alike, and prints medians and ratios: guest wall time as the host
reports it, and the whole process's CPU time (user + system), which a shared machine disturbs less. Both binaries must produce the same output digest.

    scripts/compare-hosts.py OLD_SIEVE NEW_SIEVE [--scale 100] [--runs 5] [--data DIR] [--task T]...
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

TASKS = [
    "vehicle-insurance-fraud",
    "private-lending-fraud",
    "false-mediation-confirmation",
    "judicial-auction-violations",
    "restricted-debtor-travel",
]


def run(binary, home, task, data):
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [binary, "run", task, "--data", data, "--json"],
        env={**os.environ, "SIEVE_HOME": home},
        capture_output=True,
        check=False,
    )
    elapsed = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time (user + system) of the whole process: steadier than wall time on a shared machine.
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    report = json.loads(out.stdout)
    if report["outcome"] != "completed":
        sys.exit(f"{binary} {task}: {report['outcome']}: {report['detail']}")
    return report["wall_ms"], elapsed, report["output_digest"], report["fuel"], cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", help="where generated datasets live (kept between invocations)")
    parser.add_argument("--task", action="append", help="only this task (repeatable)")
    args = parser.parse_args()
    data_root = args.data or tempfile.mkdtemp(prefix="sieve-compare-")
    homes = {b: tempfile.mkdtemp(prefix="sieve-home-") for b in (args.old, args.new)}
    print("| task | old guest ms | new guest ms | new / old (guest wall) | old process CPU ms | new process CPU ms "
          "| **new / old (process CPU)** | old fuel | new fuel |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task in args.task or TASKS:
        data = os.path.join(data_root, f"{task}-{args.scale}")
        if not os.path.isdir(data):
            subprocess.run([args.new, "gen", task, "--scale", str(args.scale), "--out", data],
                           check=True, capture_output=True)
        for binary in (args.old, args.new):  # warm the compiled-code caches
            run(binary, homes[binary], task, data)
        samples = {args.old: [], args.new: []}
        for i in range(args.runs):
            order = (args.old, args.new) if i % 2 == 0 else (args.new, args.old)
            for binary in order:
                samples[binary].append(run(binary, homes[binary], task, data))
        digests = {s[2] for b in samples for s in samples[b]}
        if len(digests) != 1:
            sys.exit(f"{task}: the two builds disagree: {digests}")
        med = {b: (statistics.median(s[0] for s in samples[b]), statistics.median(s[4] for s in samples[b]))
               for b in samples}
        fuel = {b: samples[b][0][3] for b in samples}
        (og, op), (ng, np_) = med[args.old], med[args.new]
        print(f"| {task} | {og:.0f} | {ng:.0f} | {ng / og:.3f}x | {op:.0f} | {np_:.0f} | **{np_ / op:.3f}x** "
              f"| {fuel[args.old]:.3g} | {fuel[args.new]:.3g} |")


if __name__ == "__main__":
    main()
