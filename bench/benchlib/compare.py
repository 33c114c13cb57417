"""`bench/compare`: two builds of the project, side by side on one PostgreSQL, in alternating rounds.

A full `bench/run` on a shared two-core VM moves by ±30 % from one run to the next, more than most
changes do. Two builds measured in turn within minutes, A B B A A B ..., see the same machine: the
spread of each build's rounds shows the noise, and a difference is only called one when the two
builds' rounds do not overlap.

    bench/compare --base 99ebc68                 # a commit: built in build-compare/<commit>
    bench/compare --base /path/to/old/bin        # or the bin/ directory of another build

Each round runs `pgbench -S` (`--clients`, `-j 2`) through each build's native PostgreSQL listener
and takes the CPU of its proxy and agent from /proc; `--copy-mib N` adds one COPY of N MiB per
build and round. Results: bench/results/<date>-compare[-tag].md and .json.
"""
import argparse
import datetime
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from fixtures import certs

from . import pgmeasure
from .env import (ROOT, LoadMonitor, built_at, cpu_model, ensure_built, loadavg, log, missing_binaries, raise_fd_limit,
                  require_tools, tool_versions)
from .paths import BenchPostgres, pki_dir
from .project import Project
from .report import _one_line, f, table
from .runner import Terminated

ROLES = ("proxy", "agent")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True,
                   help="the build to compare against: a git revision (built in build-compare/<commit>) "
                        "or a directory holding teleport, tctl and tsh")
    p.add_argument("--bin-dir", default=os.environ.get("TP_BIN_DIR", str(ROOT / "build-bench" / "bin")),
                   help="the build under test (default $TP_BIN_DIR or build-bench/bin)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per build (default 3)")
    p.add_argument("--duration", type=int, default=20, help="seconds of pgbench -S per round (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up seconds before each round (default 5)")
    p.add_argument("--clients", type=int, default=16, help="pgbench clients (default 16)")
    p.add_argument("--copy-mib", type=int, default=0,
                   help="also stream one COPY result of this many MiB per build and round (default 0: none)")
    p.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    p.add_argument("--io-threads", type=int, default=None, help="teleport.io_threads for both builds")
    p.add_argument("--severity", default="INFO", help="the project's log severity (default INFO)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"), help="results directory")
    p.add_argument("--tag", help="suffix of the result file names")
    a = p.parse_args(argv)
    if not a.base.strip():
        p.error("--base is empty: give a git revision or the bin/ directory of a build")
    if a.rounds < 1 or a.duration < 1 or a.clients < 1 or a.copy_mib < 0:
        p.error("--rounds, --duration and --clients must be at least 1, --copy-mib at least 0")
    return a


def _git(*args, check=True):
    """git's output; on failure SystemExit with its message, or "" when not `check`."""
    cp = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=120)
    if cp.returncode != 0:
        if not check:
            return ""
        raise SystemExit(f"bench/compare: git {' '.join(args)} failed: {cp.stderr.strip()}")
    return cp.stdout.strip()


def base_bin_dir(base):
    """The bin/ directory of the base build: `base` itself if it holds the binaries, else a build of
    the git revision `base` in build-compare/<commit> (a worktree; built once, reused after)."""
    d = Path(base)
    if d.is_dir():
        missing = missing_binaries(d)
        if missing:
            raise SystemExit(f"bench/compare: --base {base}: {', '.join(missing)} not there; give the bin/ "
                             "directory of a build, or a git revision")
        return d, f"{d} (teleport built {built_at(d)})"
    commit = _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False)
    if not commit:
        raise SystemExit(f"bench/compare: --base {base!r} is neither a directory nor a git revision")
    short = commit[:10]
    tree = ROOT / "build-compare" / short
    if not (tree / ".git").exists():
        log(f"git worktree add {tree} {short}")
        tree.parent.mkdir(exist_ok=True)
        _git("worktree", "add", "--detach", str(tree), commit)
    build = tree / "build-bench"
    if not (build / "build.ninja").exists():
        log(f"configuring {build}")
        cp = subprocess.run(["cmake", "-S", str(tree), "-B", str(build), "-G", "Ninja", "-DTP_BUILD_TESTS=OFF"],
                            capture_output=True, text=True)
        if cp.returncode != 0:
            raise SystemExit(f"bench/compare: cmake for {short} failed:\n{cp.stdout[-2000:]}{cp.stderr[-2000:]}")
    ensure_built(build / "bin")
    return build / "bin", f"{short} (built in {build})"


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values), "n": len(values)}


def verdict(base, new, lower_is_better):
    """How `new` compares with `base` (summaries of their rounds)."""
    if not base or not new or not base["mean"]:
        return "–"
    change = (new["mean"] - base["mean"]) / base["mean"]
    if min(base["n"], new["n"]) < 2:
        return f"{change:+.1%}, one round of a build: no spread to judge by"
    better = new["max"] < base["min"] if lower_is_better else new["min"] > base["max"]
    worse = new["min"] > base["max"] if lower_is_better else new["max"] < base["min"]
    if better:
        word = "better in every round"
    elif worse:
        word = "**worse in every round**"
    else:
        word = "within the rounds' spread"
    return f"{change:+.1%}, {word}"


# What each round yields: (key, label, lower is better, how many digits).
METRICS = [
    ("tps", "TPS", False, 0),
    ("latency_avg_ms", "latency avg (ms)", True, 2),
    ("latency_p99_ms", "latency p99 (ms)", True, 2),
    ("cpu_proxy", "CPU s per 10 000 tx, proxy", True, 3),
    ("cpu_agent", "CPU s per 10 000 tx, agent", True, 3),
    ("cpu_both", "CPU s per 10 000 tx, proxy + agent", True, 3),
    ("box_cpu_us_per_tx", "CPU µs per tx, whole box", True, 0),
    ("box_database_us_per_tx", "CPU µs per tx, PostgreSQL", True, 0),
    ("copy_mib_per_s", "COPY MiB/s", False, 0),
    ("copy_cpu_proxy", "COPY CPU s per GiB, proxy", True, 2),
    ("copy_cpu_agent", "COPY CPU s per GiB, agent", True, 2),
]


def one_round(path, a):
    t0 = time.monotonic()
    r = pgmeasure.select_tps(path, a.clients, a.duration, a.warmup)
    per = r["cpu_s_per_10k"]
    out = {"tps": r["tps"], "latency_avg_ms": r["latency_avg_ms"], "latency_p99_ms": r["latency_p99_ms"],
           "cpu_proxy": per.get("proxy"), "cpu_agent": per.get("agent"),
           "cpu_both": sum(per.get(role, 0.0) for role in ROLES),
           "box_cpu_us_per_tx": r.get("box_cpu_us_per_tx"),
           "box_database_us_per_tx": r.get("box_split_us_per_tx", {}).get("database")}
    if a.copy_mib:
        c = pgmeasure.copy_throughput([path], a.copy_mib * 1048576, rounds=1, timeout_s=600)[path.key]
        if isinstance(c, Exception):
            raise c
        out.update(copy_mib_per_s=c["mib_per_s"], copy_cpu_proxy=c["cpu_s_per_gib"].get("proxy"),
                   copy_cpu_agent=c["cpu_s_per_gib"].get("agent"))
    out["_t"] = (t0, time.monotonic())
    return out


def write_report(out_dir, stem, meta, rounds, a):
    names = {"base": f"base: {meta['base']}", "new": f"new: {meta['new']}"}
    metrics = [m for m in METRICS if any(m[0] in r for r in rounds)]
    lines = [f"# Comparison {stem}", "",
             f"Run {meta['date']} with `{meta['command']}` ({meta['elapsed_s']} s); {meta['machine']}. "
             "Everything on 127.0.0.1.", "",
             f"- {names['base']}", f"- {names['new']}", "",
             f"Both builds run side by side on one PostgreSQL 15 (scale {a.scale}); each round is "
             f"`pgbench -S -c {a.clients} -j 2` for {a.duration} s after {a.warmup} s of warm-up through "
             "the build's native PostgreSQL listener (mTLS → proxy → reverse tunnel → agent → PostgreSQL, "
             "TLS)" + (f", then one {a.copy_mib} MiB `COPY ... TO STDOUT`" if a.copy_mib else "") +
             f"; {a.rounds} rounds per build, in the order A B B A A B ... so that a box that speeds up or "
             "slows down falls on both. CPU is utime + stime from /proc. A difference is called one only "
             "when every round of one build beats every round of the other.", ""]
    if meta.get("interrupted"):
        lines += [f"**Interrupted** ({meta['interrupted']}): the rounds below are those that finished.", ""]
    rows = []
    for key, label, lower, digits in metrics:
        s = {b: summarize([r.get(key) for r in rounds if r["build"] == b]) for b in ("base", "new")}
        cell = {b: (f"{f(s[b]['mean'], digits)} ({f(s[b]['min'], digits)}–{f(s[b]['max'], digits)})"
                    if s[b] else "–") for b in s}
        rows.append((label, [cell["base"], cell["new"], verdict(s["base"], s["new"], lower)]))
    lines += ["## Summary (mean, and the range of the rounds)", "",
              table(["metric", "base", "new", "new against base"], rows), ""]
    header = ["round", "build"] + [m[1] for m in metrics] + ["others' CPU load (CPUs)"]
    body = []
    for r in rounds:
        body.append((str(r["round"]), [r["build"]] + [f(r.get(k), d) for k, _, _, d in metrics] +
                     [f(r.get("others_cpus"), 2)]))
    lines += ["## Rounds", "", table(header, body), ""]
    if meta.get("errors"):
        lines += ["## Errors", ""] + [f"- {_one_line(e, 500)}" for e in meta["errors"]] + [""]
    lines += [f"Raw numbers: [{stem}.json]({stem}.json).", ""]
    md = Path(out_dir) / f"{stem}.md"
    md.write_text("\n".join(lines))
    return md


def _on_sigterm(signum, frame):
    raise Terminated(f"bench/compare received signal {signum}")


def main(argv):
    a = parse_args(argv)
    require_tools(["pgbench", "psql"])
    raise_fd_limit()
    signal.signal(signal.SIGTERM, _on_sigterm)
    new_dir = Path(a.bin_dir)
    ensure_built(new_dir)
    missing = missing_binaries(new_dir)
    if missing:
        raise SystemExit(f"bench/compare: {', '.join(missing)} missing in {new_dir}: build with "
                         f"ninja -C {new_dir.parent} teleport tctl tsh, or pass --bin-dir")
    base_dir, base_desc = base_bin_dir(a.base)
    versions = tool_versions(new_dir)
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "command": "bench/compare " + " ".join(argv), "machine": f"{cpu_model()}, {os.cpu_count()} CPUs",
            "base": base_desc, "new": f"{versions['project commit']} ({new_dir})", "versions": versions,
            "loadavg_start": loadavg(), "errors": []}
    work = Path(tempfile.mkdtemp(prefix="tp-compare-"))
    os.chmod(work, 0o755)
    monitor = LoadMonitor(interval=5.0)
    monitor.start()
    started, rounds = [], []
    t_start = time.monotonic()
    try:
        pki = certs.make_pki(pki_dir(work))
        pg = BenchPostgres(work, pki, 200, a.scale, "pg-" + secrets.token_hex(8)).start()
        started.append(pg)
        paths = {}
        for build, bin_dir in (("base", base_dir), ("new", new_dir)):
            log(f"starting the {build} build from {bin_dir}")
            project = Project(work / build, bin_dir, pki, pg, None, a.severity, a.io_threads).start()
            started.append(project)
            paths[build] = project.pg_native_path()
            paths[build].key = build
            pgmeasure.check_path(paths[build])
        order = []
        for i in range(a.rounds):
            order += [("base", "new"), ("new", "base")][i % 2]
        done = {"base": 0, "new": 0}
        for build in order:
            done[build] += 1
            log(f"round {done[build]} of {a.rounds}: {build}")
            try:
                r = one_round(paths[build], a)
            except Exception as e:  # one failed round must not lose the others
                meta["errors"].append(f"{build}, round {done[build]}: {e}")
                log(f"{build}: round failed: {_one_line(str(e), 300)}")
                continue
            r.update(build=build, round=done[build])
            rounds.append(r)
    except (Terminated, KeyboardInterrupt) as e:
        meta["interrupted"] = str(e) or "interrupted"
        log(f"{meta['interrupted']}: stopping, writing what was measured")
    finally:
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:
                log(f"cleanup: {e}")
        monitor.stop()
        shutil.rmtree(work, ignore_errors=True)
    for r in rounds:
        t0, t1 = r.pop("_t")
        r["others_cpus"] = monitor.between(t0, t1)
    meta["elapsed_s"] = round(time.monotonic() - t_start)
    meta["loadavg_end"] = loadavg()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = datetime.date.today().isoformat() + "-compare" + (f"-{a.tag}" if a.tag else "")
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "settings": vars(a), "rounds": rounds},
                                                 indent=1, sort_keys=True) + "\n")
    md = write_report(out, stem, meta, rounds, a)
    log(f"wrote {md} (and {stem}.json)")
    return 1 if meta.get("interrupted") or not rounds else 0
