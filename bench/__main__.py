"""`make bench` / `python -m bench`: every bench, then one table of ratios.

    python -m bench                   share, sessions, pay, list, expiry, webhooks, billing, in that order
    python -m bench --quick           the same, smaller (a smoke run: its figures mean little)
    python -m bench NAME [ARGS...]    one bench: share, sessions, pay, list, expiry, webhooks or billing, with its own
                                      options (`python -m bench share --help`)

Each bench makes its own scratch database and Redis key prefix, starts what it needs on private
ports and stops it again, even on Ctrl-C. Every figure is a ratio against a baseline measured in
the same run: the machine is shared and noisy, so a bare time means little.
"""
from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.util import find_spec

from bench.common import ROOT, Row, mib, prepare_environment, sigterm_as_interrupt

# One name per bench, in the order they run.
BENCHES = ("share", "sessions", "pay", "list", "expiry", "webhooks", "billing")
# The list, expiry, webhooks and billing benches are modules of their own, run as subprocesses;
# their result line is folded into the table.
MODULES = {"list": "bench.list_links", "expiry": "bench.expiry", "webhooks": "bench.webhooks",
           "billing": "bench.billing"}
QUICK = {"share": ["--rounds", "1", "--duration", "3"], "sessions": ["--count", "2000"],
         "pay": ["--count", "200", "--rounds", "1"],
         "list": ["--rows", "100000", "--repeat", "10"], "expiry": ["--rows", "20000", "--fan-out", "1000"],
         "webhooks": ["--events", "300", "--paced", "60"], "billing": ["--due", "300"]}


def machine() -> str:
    model = "unknown CPU"
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} x {model}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def load_average() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def run_module(name: str, args: list[str]) -> list[Row]:
    """Run `python -m <module>`, echo its output, and read its result line and peak RSS."""
    module = MODULES[name]
    if find_spec(module) is None:
        print(f"{module} is not there: the {name} bench is skipped.", flush=True)
        return [Row(name, "not run", f"{module} missing")]
    process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    lines = []
    try:
        for line in process.stdout:
            print(f"  {line}", end="", flush=True)
            lines.append(line.rstrip("\n"))
    except BaseException:  # interrupted: let it clean up (its finally blocks drop its database)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        return [Row(name, "failed", f"exit code {process.returncode}")]
    rows = parse_result(name, lines)
    rows.append(Row("memory", f"bench process peak RSS ({name})", mib(usage.ru_maxrss),
                    "domain code in-process"))
    return rows


def parse_result(name: str, lines: list[str]) -> list[Row]:
    text = "\n".join(lines)
    if name == "list":
        found = re.search(r"worst deep/first ratio: ([0-9.]+)", text)
        if found:
            ratio = float(found[1])
            return [Row("list", "page at 90% depth vs page 1", "worst filter", "page 1", ratio, "<= 2", ratio <= 2)]
    if name == "expiry":
        found = re.search(r"best: (.+?) at ([0-9.]+)x the bare UPDATE", text)
        if found:
            ratio = float(found[2])
            return [Row("expiry", "sweep rows/s vs bare UPDATE", found[1], "bare UPDATE", ratio, ">= 0.7",
                        ratio >= 0.7)]
    if name == "webhooks":
        found = re.search(r"best: ([0-9,]+) deliveries/s at ([0-9.]+)x the bare loop of POSTs \(([0-9,]+)/s\)", text)
        delay = re.search(r"p50 ([0-9.]+) ms, p99 ([0-9.]+) ms", text)
        if found and delay:
            ratio = float(found[2])
            return [Row("webhooks", "deliveries/s vs a bare POST loop", f"{found[1]}/s", f"{found[3]}/s", ratio),
                    Row("webhooks", "commit to delivery p50 / p99", f"{delay[1]} / {delay[2]} ms")]
    if name == "billing":
        sweep = re.search(r"sweep/bare ([0-9.]+)", text)
        charged = re.search(r"charged/no-op ([0-9.]+)", text)
        rates = re.findall(r"\| (billing\.charge|bench\.noop_charge) +\| +[0-9.]+ \| +([0-9,]+) \|", text)
        found = []
        if sweep:
            found.append(Row("billing", "sweep rows/s vs bare UPDATE", "sweep, batch 500", "bare UPDATE",
                             float(sweep[1])))
        if charged and len(rates) == 2:
            found.append(Row("billing", "renewals charged per s", f"{rates[0][1]}/s", f"no-op {rates[1][1]}/s",
                             float(charged[1])))
        if found:
            return found
    last = next((line for line in reversed(lines) if "ratio" in line.lower() or "target" in line.lower()), "")
    return [Row(name, "result (not parsed)", last.strip()[:60])]


def run_one(name: str, args: list[str]) -> list[Row]:
    print(f"\n== {name} ==", flush=True)
    if name in MODULES:
        return run_module(name, args)
    if name == "share":
        from bench import share

        return share.main(args)
    if name == "pay":
        from bench import pay

        return pay.main(args)
    from bench import sessions

    return sessions.main(args)


def table(rows: list[Row]) -> str:
    header = ["bench", "measurement", "value", "baseline", "ratio", "target", "met"]
    cells = [[r.bench, r.what, r.value, r.baseline, "" if r.ratio is None else f"{r.ratio:.2f}", r.target,
              "" if r.met is None else ("yes" if r.met else "NO")] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def main(argv: list[str]) -> int:
    sigterm_as_interrupt()
    quick = "--quick" in argv
    argv = [a for a in argv if a != "--quick"]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv and argv[0] not in BENCHES:
        print(f"unknown bench {argv[0]!r}; one of {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    chosen = [(argv[0], argv[1:])] if argv else [(name, []) for name in BENCHES]
    if quick:
        chosen = [(name, QUICK[name] + args) for name, args in chosen]
    env = prepare_environment()  # before anything imports celeryconfig
    started, load_before = time.perf_counter(), load_average()
    print(f"bench run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; Redis key prefix "
          f"{env['REDIS_KEY_PREFIX']}", flush=True)
    rows: list[Row] = []
    for name, args in chosen:
        try:
            rows += run_one(name, args)
        except KeyboardInterrupt:
            print("\ninterrupted: every process this run started has been stopped", file=sys.stderr)
            return 130
        except Exception as error:  # one bench failing still prints the others' results
            print(f"{name} bench failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            rows.append(Row(name, "failed", type(error).__name__))
    minutes = (time.perf_counter() - started) / 60
    print(f"\n== summary ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}; load average {load_before} "
          f"before, {load_average()} after; {minutes:.1f} min{'; --quick' if quick else ''}) ==")
    print(table(rows))
    return 1 if any(r.what == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
