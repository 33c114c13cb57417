"""The PostgreSQL measurements, one function each, every one bounded in time. Each takes a
`PgPath` and returns a dict of raw numbers; CPU and memory come from /proc for the path's
proxying processes (`path.pids`).
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

from . import libpq
from .env import BoxMeter, cpu_by_thread_group, cpu_seconds, log, rss_kib, thread_cpu


def _pgbench(path, args, duration):
    """Runs pgbench with a hard timeout well past its own -T; returns its parsed summary."""
    cmd = ["pgbench", "-n", *args]
    try:
        cp = subprocess.run(cmd, env=path.pg_env(), capture_output=True, text=True,
                            timeout=duration + 120)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{path.key}: pgbench {' '.join(args)} did not finish in time") from e
    if cp.returncode != 0:
        raise RuntimeError(f"{path.key}: pgbench {' '.join(args)} failed ({cp.returncode}):\n"
                           f"{cp.stdout[-1500:]}\n{cp.stderr[-1500:]}")

    def num(pattern):
        m = re.search(pattern, cp.stdout)
        return float(m.group(1)) if m else None

    failed = num(r"number of failed transactions: (\d+)")
    if failed:
        raise RuntimeError(f"{path.key}: pgbench reported {int(failed)} failed transactions:\n"
                           f"{cp.stdout[-1500:]}")
    return {
        "tps": num(r"tps = ([\d.]+)"),
        "transactions": int(num(r"number of transactions actually processed: (\d+)") or 0),
        "latency_avg_ms": num(r"latency average = ([\d.]+) ms"),
        "conn_avg_ms": num(r"average connection time = ([\d.]+) ms"),
        "initial_conn_ms": num(r"initial connection time = ([\d.]+) ms"),
    }


def _latencies_us(prefix):
    """Per-transaction latencies from `pgbench -l` files (third column, microseconds)."""
    values = []
    for name in glob.glob(prefix + ".*"):
        with open(name) as f:
            for line in f:
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[2].isdigit():
                    values.append(int(parts[2]))
    values.sort()
    return values


def _percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def _cpu_snapshot(path):
    return {role: cpu_seconds(pid) for role, pid in path.pids.items()}


def _thread_snapshot(path):
    return {role: thread_cpu(pid) for role, pid in path.pids.items()}


def warm_up(path, clients, seconds):
    if seconds > 0:
        _pgbench(path, ["-S", "-c", str(clients), "-j", "2", "-T", str(seconds)], seconds)


def select_tps(path, clients, duration, warmup):
    """`pgbench -S -c N -j 2 -T duration -l` after a warm-up: TPS, average and p99 latency from the
    per-transaction log, and CPU seconds of each proxying process per 10 000 transactions."""
    warm_up(path, clients, warmup)
    logdir = tempfile.mkdtemp(prefix=f"bench-pgbench-{path.key}-")
    prefix = os.path.join(logdir, "tx")
    try:
        box = BoxMeter(path.all_pids())  # after the warm-up's sessions have ended
        before, groups_before = _cpu_snapshot(path), _thread_snapshot(path)
        t0 = time.monotonic()
        r = _pgbench(path, ["-S", "-c", str(clients), "-j", "2", "-T", str(duration), "-l",
                            "--log-prefix", prefix], duration)
        wall = time.monotonic() - t0
        after, groups_after = _cpu_snapshot(path), _thread_snapshot(path)
        box.stop()
        lat = _latencies_us(prefix)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    txns = r["transactions"]
    cpu = {role: after[role] - before[role] for role in after}
    out = {
        "clients": clients,
        "duration_s": duration,
        "tps": r["tps"],
        "transactions": txns,
        "logged_transactions": len(lat),
        "latency_avg_ms": (sum(lat) / len(lat) / 1000.0) if lat else float("nan"),
        "latency_p99_ms": _percentile(lat, 0.99) / 1000.0,
        "latency_p50_ms": _percentile(lat, 0.50) / 1000.0,
        "cpu_s": cpu,
        "cpu_s_per_10k": {role: (s * 10000.0 / txns if txns else float("nan"))
                          for role, s in cpu.items()},
        "cpu_s_per_10k_by_thread": {
            role: {g: (s * 10000.0 / txns if txns else float("nan"))
                   for g, s in cpu_by_thread_group(groups_before[role], threads).items()}
            for role, threads in groups_after.items() if threads},
        "wall_s": wall,
        **box.usage(txns),
    }
    return out


def connection_rate(path, clients, duration):
    """`pgbench -C -S`: a new connection for every transaction. pgbench's tps is then the rate of
    new connections (each doing one SELECT)."""
    before = _cpu_snapshot(path)
    r = _pgbench(path, ["-C", "-S", "-c", str(clients), "-j", "2", "-T", str(duration)], duration)
    after = _cpu_snapshot(path)
    conns = r["transactions"]
    return {
        "clients": clients,
        "duration_s": duration,
        "connections_per_s": r["tps"],
        "connections": conns,
        "avg_connection_ms": r["conn_avg_ms"],
        "cpu_s_per_1k_connections": {role: (after[role] - before[role]) * 1000.0 / conns
                                     if conns else float("nan") for role in after},
    }


def time_to_first_query(paths, samples, budget_s):
    """Connect + `SELECT 1` + disconnect with libpq, one connection at a time, taking the paths in
    turn (round-robin) so that load from other processes on the box falls on all of them alike.
    Returns {path key: {"median_ms", ...} or an Exception}."""
    deadline = time.monotonic() + budget_s
    times = {p.key: [] for p in paths}
    out = {}
    live = list(paths)
    for _ in range(samples):
        if time.monotonic() > deadline or not live:
            break
        for p in list(live):
            try:
                times[p.key] += libpq.time_to_first_query(p.params, 1, deadline + 60)
            except Exception as e:
                out[p.key] = e
                live.remove(p)
    for p in live:
        ms = sorted(times[p.key])
        out[p.key] = {"samples": len(ms), "median_ms": libpq.median(ms),
                      "p90_ms": _percentile(ms, 0.90), "min_ms": ms[0]}
    return out


def idle_session_memory(path, sessions, budget_s):
    """RSS of the proxying processes before and while `sessions` idle sessions are open."""
    if not path.pids:
        return None
    base = {role: rss_kib(pid) for role, pid in path.pids.items()}
    idle = libpq.IdleSessions(path.params)
    t0 = time.monotonic()
    try:
        idle.open(sessions, t0 + budget_s)
        open_s = time.monotonic() - t0
        time.sleep(2.0)  # let the proxies settle (buffers flushed, handshakes freed)
        held = {role: rss_kib(pid) for role, pid in path.pids.items()}
    finally:
        idle.close()
    per = {role: (held[role] - base[role]) / sessions for role in held}
    return {"sessions": sessions, "open_s": open_s, "rss_base_kib": base, "rss_held_kib": held,
            "kib_per_session": per}


def _copy_once(path, sql, size_bytes, timeout_s):
    t0 = time.perf_counter()
    try:
        cp = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                            env=path.pg_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{path.key}: COPY of {size_bytes} bytes took over {timeout_s}s") from e
    if cp.returncode != 0:
        raise RuntimeError(f"{path.key}: COPY failed: {cp.stderr[-1000:]}")
    return time.perf_counter() - t0


def copy_throughput(paths, size_bytes, rounds, timeout_s):
    """Streams one result set of ~size_bytes (`COPY (SELECT ...) TO STDOUT` through psql into
    /dev/null) through each path, the paths taken in turn for `rounds` rounds, so that a box that
    slows down or speeds up during the metric affects every path alike. Per path: the best round in
    MiB/s, every round's seconds, and CPU seconds per GiB of each proxying process over its rounds.
    Returns {path key: that dict or an Exception}."""
    row_len = 1000  # 999 characters + newline in COPY's text format
    rows = max(1, size_bytes // row_len)
    total = rows * row_len
    sql = f"COPY (SELECT repeat('x', {row_len - 1}) FROM generate_series(1, {rows})) TO STDOUT"
    seconds = {p.key: [] for p in paths}
    cpu = {p.key: {role: 0.0 for role in p.pids} for p in paths}
    out = {}
    live = list(paths)
    for _ in range(rounds):
        for p in list(live):
            before = _cpu_snapshot(p)
            try:
                seconds[p.key].append(_copy_once(p, sql, total, timeout_s))
            except Exception as e:
                out[p.key] = e
                live.remove(p)
                continue
            after = _cpu_snapshot(p)
            for role in after:
                cpu[p.key][role] += after[role] - before[role]
    for p in live:
        best = min(seconds[p.key])
        gib = total * len(seconds[p.key]) / 1073741824.0
        out[p.key] = {"bytes": total, "runs": seconds[p.key], "best_s": best, "in_turn": True,
                      "mib_per_s": total / best / 1048576.0,
                      "cpu_s_per_gib": {role: c / gib for role, c in cpu[p.key].items()}}
    return out


def check_path(path):
    """One query through the path, so a broken path fails fast with the client's own message."""
    cp = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1"],
                        env=path.pg_env(), capture_output=True, text=True, timeout=60)
    if cp.returncode != 0 or cp.stdout.strip() != "1":
        raise RuntimeError(f"{path.key}: SELECT 1 failed: {cp.stderr.strip() or cp.stdout.strip()}")
    log(f"{path.key}: SELECT 1 works")
