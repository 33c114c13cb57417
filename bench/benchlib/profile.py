"""`bench/profile`: where the project's proxy and agent spend their CPU under one load, for the
fix-and-measure loop the issue asks for when a target is missed.

    bench/profile select      # pgbench -S -c 16 (steady-state queries; --clients 1: one at a time)
    bench/profile conn        # pgbench -C -S -c 8 (connection setup)
    bench/profile copy        # one 256 MiB COPY ... TO STDOUT
    bench/profile mysql-select   # sysbench oltp_point_select, 16 threads, through MariaDB
    bench/profile idle        # 200 idle sessions: RSS and heap growth per session
    bench/profile idle --heaptrack   # ... and what holds that memory, by owner

It starts PostgreSQL (and MariaDB for mysql-select) and the project exactly as bench/run does,
records `perf record --call-graph dwarf` of both processes during the load, and prints: CPU and
context switches per unit of work, CPU by library, and the project's own functions by inclusive
share. perf data stays in --out.
"""
import argparse
import collections
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixtures import certs

from . import libpq, mysql
from .env import ROOT, cpu_seconds, ensure_built, log, raise_fd_limit, rss_kib, slow_rep_movsb
from .paths import BenchPostgres, pki_dir
from .project import Project


def ctx_switches(pid):
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(status):
                if "ctxt_switches" in line:
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def perf_summary(data, top):
    def report(*args):
        cp = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "-g", "none", *args],
                            capture_output=True, text=True, timeout=600)
        return [ln for ln in cp.stdout.splitlines() if "%" in ln and not ln.startswith("#")]
    by_dso = report("--no-children", "--sort", "dso")[:8]
    own = [ln for ln in report("--children", "--sort", "symbol")
           if re.search(r"\[\.\] (tp::|SSL_|PKCS5|X509_|PEM_|sqlite3_step|OSSL_DECODER)", ln)
           and not re.search(r"tp::run_teleport|cmd_start", ln)][:top]
    return by_dso, own


MYSQL_TABLE_SIZE = 10000

HEAPTRACK_PRELOAD = Path("/usr/lib/heaptrack/libheaptrack_preload.so")
HEAPTRACK_INTERPRET = Path("/usr/lib/heaptrack/libexec/heaptrack_interpret")


def heaptrack_bin_dir(bin_dir, work, out):
    """A bin dir whose `teleport start` runs under heaptrack's preload from its first allocation (so
    that it sees Asio's aligned_alloc, which `heaptrack -p` misses), writing raw data to
    out/raw.<pid>; tctl and tsh are the real ones."""
    for f in (HEAPTRACK_PRELOAD, HEAPTRACK_INTERPRET):
        if not f.exists():
            raise SystemExit(f"bench/profile: {f} not found: apt-get install heaptrack")
    real = Path(bin_dir).resolve()
    d = work / "heaptrack-bin"
    d.mkdir()
    for name in ("tctl", "tsh"):
        (d / name).symlink_to(real / name)
    # Where `teleport start` would start itself again for fast copies (src/common/fast_copies.h),
    # the wrapper gives it the threshold it would choose, so that it does not: heaptrack's data from
    # before the exec would be lost, and what follows it would go to a file of the same name.
    tunables = (f"  export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=$(getconf LEVEL2_CACHE_SIZE)\n"
                if slow_rep_movsb() else "")
    wrapper = d / "teleport"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = start ]; then\n'
        f"  export LD_PRELOAD={HEAPTRACK_PRELOAD} DUMP_HEAPTRACK_OUTPUT={out}/raw.$$\n"
        f"{tunables}"
        "fi\n"
        f'exec {real / "teleport"} "$@"\n')
    wrapper.chmod(0o755)
    return d


# The first frame (innermost first) that names the owner of an allocation: ours, or a coroutine of ours.
_OWNER = re.compile(r"(tp::|serve|relay|route|transfer|client_to_server|server_to_client|accept_loop)")
_OPENSSL = re.compile(r"(SSL_|ssl|tls_|CRYPTO_|EVP_|X509|OSSL|d2i_|ASN1|BN_|EC_|ossl)")


def heap_owners(raw, sessions, top):
    """Leaked bytes (held when the process was killed) per session: by kind (OpenSSL, Asio's
    coroutine frames and operations, the rest) and by owning function. Start-up state is included,
    spread over the sessions."""
    data = raw.with_suffix(".heaptrack")
    with open(raw, "rb") as src, open(data, "wb") as dst:
        subprocess.run([str(HEAPTRACK_INTERPRET)], stdin=src, stdout=dst, stderr=subprocess.DEVNULL,
                       check=True, timeout=600)
    stacks = raw.with_suffix(".stacks")
    subprocess.run(["heaptrack_print", "-f", str(data), "--print-leaks", "0", "--print-peaks", "0",
                    "--print-allocators", "0", "--print-temporary", "0", "--flamegraph-cost-type", "leaked",
                    "--print-flamegraph", str(stacks)], capture_output=True, check=True, timeout=600)
    kinds, owners = collections.Counter(), collections.Counter()
    for line in open(stacks):
        stack, _, cost = line.rstrip().rpartition(" ")
        if not cost.isdigit() or int(cost) == 0:
            continue
        frames = [f.split(" (")[0] for f in stack.split(";") if f]
        at = next((i for i in range(len(frames) - 1, -1, -1) if _OWNER.match(frames[i])), None)
        owner = frames[at] if at is not None else "(no project frame)"
        inner = frames[at + 1:] if at is not None else frames
        kind = "other"
        if any("aligned_new" in f for f in frames):  # Asio allocates frames and operations there
            kind = "Asio frames and operations"
        elif owner.startswith("tp::net::tls_io::") or any(_OPENSSL.match(f) for f in inner):
            kind = "OpenSSL"
        kinds[kind] += int(cost)
        owners[(kind, owner[:100])] += int(cost)
    per = 1024.0 * sessions
    lines = [f"  {sum(kinds.values()) / per:.1f} KiB per session held in all: "
             + ", ".join(f"{k} {v / per:.1f}" for k, v in kinds.most_common())]
    lines += [f"  {v / per:6.2f} KiB  {k[0]:<27} {k[1]}" for k, v in owners.most_common(top)]
    return lines


def run_load(kind, path, seconds, clients=16):
    if kind == "mysql-select":
        r = mysql.point_select(path, clients, seconds, 0, MYSQL_TABLE_SIZE)
        return r["transactions"], "transaction"
    env = path.pg_env()
    if kind == "select":
        cp = subprocess.run(["pgbench", "-n", "-S", "-c", str(clients), "-j", str(min(2, clients)),
                             "-T", str(seconds)],
                            env=env, capture_output=True, text=True, timeout=seconds + 120)
        return int(re.search(r"processed: (\d+)", cp.stdout).group(1)), "transaction"
    if kind == "conn":
        cp = subprocess.run(["pgbench", "-n", "-C", "-S", "-c", "8", "-j", "2", "-T", str(seconds)],
                            env=env, capture_output=True, text=True, timeout=seconds + 120)
        return int(re.search(r"processed: (\d+)", cp.stdout).group(1)), "connection"
    if kind == "copy":
        rows = 256 * 1048576 // 1000
        sql = f"COPY (SELECT repeat('x', 999) FROM generate_series(1, {rows})) TO STDOUT"
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env,
                       stdout=subprocess.DEVNULL, check=True, timeout=600)
        return 256, "MiB"
    raise ValueError(kind)


def main(argv):
    p = argparse.ArgumentParser(prog="bench/profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("load", choices=["select", "conn", "copy", "mysql-select", "idle"])
    p.add_argument("--seconds", type=int, default=10, help="length of the select/conn load")
    p.add_argument("--clients", type=int, default=16,
                   help="pgbench clients (sysbench threads) of select and mysql-select (default 16)")
    p.add_argument("--bin-dir", default=os.environ.get("TP_BIN_DIR", str(ROOT / "build-bench" / "bin")))
    p.add_argument("--out", default=None, help="directory for the perf data (default: a temp dir)")
    p.add_argument("--top", type=int, default=30, help="how many of the project's functions to list")
    p.add_argument("--io-threads", type=int, default=None, help="teleport.io_threads (default: the project's)")
    p.add_argument("--heaptrack", action="store_true",
                   help="idle: run the project under heaptrack and list what holds each session's memory")
    a = p.parse_args(argv)
    if a.heaptrack and a.load != "idle":
        p.error("--heaptrack measures idle sessions only: run bench/profile idle --heaptrack")
    if a.clients < 1:
        p.error(f"--clients must be at least 1, not {a.clients}")
    raise_fd_limit()
    ensure_built(a.bin_dir)
    work = Path(tempfile.mkdtemp(prefix="tp-profile-"))
    os.chmod(work, 0o755)
    out = Path(a.out or work / "perf")
    out.mkdir(parents=True, exist_ok=True)
    pki = certs.make_pki(pki_dir(work))
    pg = BenchPostgres(work, pki, 400, 2, "pg-profile-pw").start()
    maria = project = None
    bin_dir = heaptrack_bin_dir(a.bin_dir, work, out) if a.heaptrack else a.bin_dir
    try:
        if a.load == "mysql-select":
            maria = mysql.BenchMaria(work, pki, "my-profile-pw", MYSQL_TABLE_SIZE).start()
        project = Project(work, bin_dir, pki, pg, maria=maria, io_threads=a.io_threads).start()
        path = project.mysql_native_path() if maria is not None else project.pg_native_path()
        if a.load == "idle":
            base = {r: rss_kib(pid) for r, pid in path.pids.items()}
            idle = libpq.IdleSessions(path.params)
            idle.open(200, time.monotonic() + 300)
            time.sleep(2)
            held = {r: rss_kib(pid) for r, pid in path.pids.items()}
            if a.heaptrack:
                # Killed while the sessions are open: what each process holds is heaptrack's "leaked".
                # Both stop first, so that the agent does not start closing sessions when the proxy goes.
                for sig in (signal.SIGSTOP, signal.SIGKILL):
                    for pid in path.pids.values():
                        os.kill(pid, sig)
                time.sleep(1)
            idle.close()
            for r in held:
                print(f"{r}: {(held[r] - base[r]) / 200:.1f} KiB per idle session "
                      f"({base[r] / 1024:.1f} -> {held[r] / 1024:.1f} MiB)")
            if a.heaptrack:
                for role, pid in path.pids.items():
                    print(f"\n=== {role}: held per idle session (heaptrack)")
                    print("\n".join(heap_owners(out / f"raw.{pid}", 200, a.top)))
                print(f"\nheaptrack data: {out}")
            return 0
        run_load("mysql-select" if maria else "select", path, 3, a.clients)  # warm-up: tunnel pool, caches, allocator
        perfs = {role: subprocess.Popen(
            ["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-p", str(pid),
             "-o", str(out / f"{a.load}-{role}.data")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for role, pid in path.pids.items()}
        time.sleep(1)
        c0 = {r: (cpu_seconds(pid), ctx_switches(pid)) for r, pid in path.pids.items()}
        units, unit = run_load(a.load, path, a.seconds, a.clients)
        c1 = {r: (cpu_seconds(pid), ctx_switches(pid)) for r, pid in path.pids.items()}
        for proc_ in perfs.values():
            proc_.send_signal(2)
            proc_.wait(timeout=300)
        log(f"{a.load}: {units} {unit}s")
        for role in path.pids:
            cpu = c1[role][0] - c0[role][0]
            ctx = c1[role][1] - c0[role][1]
            print(f"\n=== {role}: {cpu * 1000.0 / units:.3f} ms CPU and {ctx / units:.2f} context "
                  f"switches per {unit}")
            by_dso, own = perf_summary(out / f"{a.load}-{role}.data", a.top)
            print("CPU by library (self):")
            print("\n".join("  " + ln.strip()[:150] for ln in by_dso))
            print("project functions and crypto entry points (inclusive, self):")
            print("\n".join("  " + ln.strip()[:170] for ln in own))
        print(f"\nperf data: {out}")
        return 0
    finally:
        if project is not None:
            project.stop()
        pg.stop()
        if maria is not None:
            maria.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
