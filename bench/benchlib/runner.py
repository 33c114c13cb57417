"""`bench/run`: starts the database and every path, measures them metric by metric (so each
metric is taken for all paths within a few minutes of each other on a shared box), and writes the
report. Every load is bounded in time; everything listens on 127.0.0.1 only.
"""
import argparse
import datetime
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from fixtures import certs

from . import mysql, pgmeasure, report
from .env import (ROOT, LoadMonitor, cpu_model, ensure_built, loadavg, log, missing_binaries, raise_fd_limit,
                  require_tools, tool_versions)
from .paths import BenchPostgres, HaProxy, PgBouncer, pki_dir

PG_PATHS = ["direct", "project", "project-tunnel", "pgbouncer", "haproxy"]
MY_PATHS = ["mysql-direct", "mysql-project", "mysql-project-tunnel", "mysql-haproxy"]
PROJECT_PATHS = {"project", "project-tunnel", "mysql-project", "mysql-project-tunnel"}


def _value_or_raise(v):
    if isinstance(v, Exception):
        raise v
    return v


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="short runs for development (5 s loads, 200 idle sessions, 128 MiB COPY)")
    p.add_argument("--duration", type=int, help="seconds per pgbench -S / sysbench run (default 30)")
    p.add_argument("--warmup", type=int, help="warm-up seconds before each TPS run (default 10)")
    p.add_argument("--conn-duration", type=int, help="seconds of pgbench -C (default 15)")
    p.add_argument("--clients", default="16,64", help="pgbench client counts (default 16,64)")
    p.add_argument("--single-duration", type=int,
                   help="seconds of the one-client latency run, pgbench -S -c 1 (default 15; 0: skip it)")
    p.add_argument("--conn-clients", type=int, default=8, help="pgbench -C clients (default 8)")
    p.add_argument("--paths", default=",".join(PG_PATHS),
                   help=f"PostgreSQL paths, comma-separated, or none (default {','.join(PG_PATHS)})")
    p.add_argument("--mysql-paths", default=",".join(MY_PATHS),
                   help=f"MySQL paths, comma-separated, or none (default {','.join(MY_PATHS)})")
    p.add_argument("--mysql-threads", default="4,16",
                   help="sysbench thread counts (default 4,16: 4 fits the project's tunnel pool, "
                        "16 connects in a burst)")
    p.add_argument("--idle-sessions", type=int, help="idle sessions for the memory figure (default 1000)")
    p.add_argument("--copy-mib", type=int, help="size of the COPY result set in MiB (default 1024)")
    p.add_argument("--ttfq-samples", type=int, help="connections timed one by one (default 200)")
    p.add_argument("--scale", type=int, help="pgbench scale factor (default 10)")
    p.add_argument("--bin-dir", default=os.environ.get("TP_BIN_DIR", str(ROOT / "build-bench" / "bin")),
                   help="where teleport, tctl and tsh are (default $TP_BIN_DIR or build-bench/bin)")
    p.add_argument("--severity", default="INFO", help="the project's log severity (default INFO)")
    p.add_argument("--io-threads", type=int, default=None,
                   help="teleport.io_threads for the proxy and the agent (default: the project's, one per CPU)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"), help="results directory")
    p.add_argument("--tag", help="suffix of the result file names (default: 'quick' with --quick)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs) afterwards")
    p.add_argument("--render", metavar="JSON", help="only redraw the .md and .png from a results .json")
    a = p.parse_args(argv)
    quick = a.quick
    a.duration = a.duration or (5 if quick else 30)
    if a.single_duration is None:
        a.single_duration = 3 if quick else 15
    a.warmup = a.warmup if a.warmup is not None else (2 if quick else 10)
    a.conn_duration = a.conn_duration or (3 if quick else 15)
    a.idle_sessions = a.idle_sessions or (200 if quick else 1000)
    a.copy_mib = a.copy_mib or (128 if quick else 1024)
    a.ttfq_samples = a.ttfq_samples or (30 if quick else 200)
    a.scale = a.scale or (2 if quick else 10)
    a.clients = [int(c) for c in a.clients.split(",") if c]
    a.mysql_threads = [int(t) for t in a.mysql_threads.split(",") if t]
    a.paths = [] if a.paths == "none" else [x for x in a.paths.split(",") if x]
    a.mysql_paths = [] if a.mysql_paths == "none" else [x for x in a.mysql_paths.split(",") if x]
    for x in a.paths:
        if x not in PG_PATHS:
            p.error(f"--paths: unknown path {x!r}; choose from {', '.join(PG_PATHS)}")
    for x in a.mysql_paths:
        if x not in MY_PATHS:
            p.error(f"--mysql-paths: unknown path {x!r}; choose from {', '.join(MY_PATHS)}")
    if a.single_duration < 0:
        p.error(f"--single-duration must be 0 (no one-client run) or more seconds, not {a.single_duration}")
    if a.tag is None and quick:
        a.tag = "quick"
    return a


class Run:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="tp-bench-"))
        os.chmod(self.work, 0o755)  # the postgres and mysql users must reach their directories
        self.started = []
        self.results = {}   # path key -> {"label", "metrics": {...}, "errors": [...]}
        self.meta = {}
        self.phases = []    # (metric dict, start, end) for the load of other processes
        self.monitor = LoadMonitor()

    def own(self, thing):
        self.started.append(thing)
        return thing

    def record(self, path, metric, fn, since=None):
        """Runs `fn` and keeps its value as `metric` of `path`; `since`: when the measurement began,
        for one that `fn` only hands over (taken for all paths at once)."""
        entry = self.results.setdefault(path.key, {"label": path.label, "metrics": {}, "errors": []})
        log(f"{path.key}: {metric}")
        t0 = time.monotonic() if since is None else since
        try:
            value = fn()
            entry["metrics"][metric] = value
            if isinstance(value, dict):
                value["others_cpus"] = None  # filled in at the end, when later samples exist
                self.phases.append((value, t0, time.monotonic()))
            return value
        except Exception as e:  # one failing measurement must not lose the others
            entry["errors"].append(f"{metric}: {e}")
            log(f"{path.key}: {metric} FAILED: {report._one_line(str(e), 300)}")
            return None

    def path_error(self, key, label, message):
        entry = self.results.setdefault(key, {"label": label, "metrics": {}, "errors": []})
        entry["errors"].append(message)
        log(f"{key}: {message}")

    # --- setup --------------------------------------------------------------------------------

    def start_project(self, pg, maria):
        from .project import Project
        bin_dir = Path(self.args.bin_dir)
        ensure_built(bin_dir)
        missing = missing_binaries(bin_dir)
        if missing:
            raise RuntimeError(f"{', '.join(missing)} missing in {bin_dir}: build with "
                               f"ninja -C {bin_dir.parent} teleport tctl tsh, or pass --bin-dir")
        log("starting the project (auth + proxy, agent) and logging in with tsh")
        return self.own(Project(self.work, bin_dir, self.pki, pg, maria, self.args.severity,
                                     self.args.io_threads).start())

    def pg_paths(self, pg, project, project_error):
        a, paths = self.args, []
        for key in a.paths:
            try:
                if key == "direct":
                    paths.append(pg.direct_path())
                elif key == "pgbouncer":
                    pool = a.idle_sessions + max(a.clients) + 20
                    paths.append(self.own(PgBouncer(self.work, self.pki, pg, pool).start()).path())
                elif key == "haproxy":
                    paths.append(self.own(HaProxy(self.work, "haproxy-pg", pg.port).start()).pg_path(pg))
                elif project is None:
                    self.path_error(key, key, f"not measured: {project_error}")
                elif key == "project":
                    paths.append(project.pg_native_path())
                elif key == "project-tunnel":
                    paths.append(project.pg_tunnel_path())
            except Exception as e:
                self.path_error(key, key, f"could not start: {e}")
        usable = []
        for path in paths:
            try:
                pgmeasure.check_path(path)
                usable.append(path)
            except Exception as e:
                self.path_error(path.key, path.label, f"not measured: {report._one_line(str(e))}")
        return usable

    # --- measurements -------------------------------------------------------------------------

    def measure_pg(self, paths):
        a = self.args
        for path in paths:
            if path.pids:
                self.record(path, "idle_memory", lambda: pgmeasure.idle_session_memory(
                    path, a.idle_sessions, budget_s=max(120, a.idle_sessions * 0.5)))
                try:
                    if path.reset:
                        path.reset()
                    self.pg.wait_backends_below(20)
                except Exception as e:
                    self.path_error(path.key, path.label, f"after the idle sessions: {e}")
        log("time to first query, all paths in turn")
        since = time.monotonic()
        ttfq = pgmeasure.time_to_first_query(paths, a.ttfq_samples, budget_s=60 + a.ttfq_samples)
        for path in paths:
            self.record(path, "time_to_first_query", lambda: _value_or_raise(ttfq[path.key]), since=since)
        for path in paths:
            self.record(path, "connection_rate", lambda: pgmeasure.connection_rate(
                path, a.conn_clients, a.conn_duration))
        if a.single_duration > 0 and 1 not in a.clients:
            # One query at a time: what a path adds to each query's latency when nothing queues.
            for path in paths:
                self.record(path, "select_c1", lambda: pgmeasure.select_tps(
                    path, 1, a.single_duration, min(a.warmup, 3)))
        for clients in a.clients:
            for path in paths:
                self.record(path, f"select_c{clients}", lambda: pgmeasure.select_tps(
                    path, clients, a.duration, a.warmup))
        log("one large result set, all paths in turn")
        since = time.monotonic()
        copies = pgmeasure.copy_throughput(paths, a.copy_mib * 1048576, rounds=1 if a.quick else 3,
                                           timeout_s=600)
        for path in paths:
            self.record(path, "copy", lambda: _value_or_raise(copies[path.key]), since=since)

    def mysql_paths(self, maria, project, project_error):
        paths = []
        for key in self.args.mysql_paths:
            try:
                if key == "mysql-direct":
                    paths.append(maria.direct_path())
                elif key == "mysql-haproxy":
                    h = self.own(HaProxy(self.work, "haproxy-mysql", maria.port).start())
                    paths.append(mysql.MyPath("mysql-haproxy", "HAProxy (TCP mode)", "127.0.0.1",
                                              h.port, maria.password, maria.client_ssl,
                                              pids={"haproxy": h.pid}, hop_roles=("haproxy",)))
                elif project is None:
                    self.path_error(key, key, f"not measured: {project_error}")
                elif key == "mysql-project-tunnel":
                    from .project import MY_DB
                    project.tsh("db", "login", MY_DB, f"--db-user={mysql.BENCH_USER}",
                                f"--db-name={mysql.SB_DB}")
                    port, pid = project.start_tunnel(MY_DB)
                    paths.append(mysql.MyPath("mysql-project-tunnel", "project via tsh proxy db --tunnel",
                                              "127.0.0.1", port, "unused", maria.client_ssl,
                                              pids=dict(project.pids(), tsh=pid),
                                              hop_roles=("proxy",), ssl=False))
                else:
                    paths.append(project.mysql_native_path())
            except Exception as e:
                self.path_error(key, key, f"could not start: {e}")
        usable = []
        for path in paths:
            try:
                mysql.check_path(path, self.table_size)
                usable.append(path)
            except Exception as e:
                self.path_error(path.key, path.label, f"not measured: {report._one_line(str(e))}")
        return usable

    def measure_mysql(self, paths):
        a = self.args
        for threads in a.mysql_threads:
            for path in paths:
                self.record(path, f"point_select_t{threads}", lambda: mysql.point_select(
                    path, threads, a.duration, a.warmup, self.table_size))

    # --- the run ------------------------------------------------------------------------------

    def execute(self):
        a = self.args
        # Only what the chosen paths need, so that measuring the project alone needs no peer installed.
        tools = {"pgbench", "psql", "gnuplot"} | {t for t in ("pgbouncer", "haproxy") if t in a.paths}
        if a.mysql_paths:
            tools |= {"sysbench", "mariadbd"}
        if "mysql-haproxy" in a.mysql_paths:
            tools.add("haproxy")
        require_tools(sorted(tools))
        raise_fd_limit()
        self.monitor.start()
        self.meta = {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
            "command": "bench/run " + " ".join(sys.argv[1:]),
            "machine": f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.node()}",
            "cpus": os.cpu_count(),
            "loadavg_start": loadavg(),
            "versions": tool_versions(a.bin_dir),
            "settings": {k: v for k, v in vars(a).items() if k not in ("out", "tag", "render")},
        }
        log(f"work directory {self.work}; load average {' '.join(self.meta['loadavg_start'])}")
        self.pki = certs.make_pki(pki_dir(self.work))
        need_mysql = bool(a.mysql_paths)
        need_project = any(p in PROJECT_PATHS for p in a.paths + a.mysql_paths)
        self.table_size = 10000 if a.quick else 100000
        pg = self.pg = self.own(BenchPostgres(self.work, self.pki, a.idle_sessions + 150, a.scale,
                                    "pg-" + secrets.token_hex(8)).start())
        maria = None
        if need_mysql:
            maria = self.own(mysql.BenchMaria(self.work, self.pki, "my-" + secrets.token_hex(8),
                                              self.table_size).start())
        project, project_error = None, "not requested"
        if need_project:
            try:
                project = self.start_project(pg, maria)
            except Exception as e:
                project_error = f"the project did not start: {e}"
                log(project_error)
                if os.environ.get("BENCH_DEBUG"):
                    traceback.print_exc()
        paths = self.pg_paths(pg, project, project_error) if a.paths else []
        self.measure_pg(paths)
        if maria is not None:
            self.measure_mysql(self.mysql_paths(maria, project, project_error))
        if project is not None:
            self.meta["project_logs"] = [str(p) for p in project.logs()]

    def finish_monitor(self):
        self.meta["loadavg_end"] = loadavg()
        self.monitor.stop()
        self.meta["other_load"] = self.monitor.summary()
        for value, t0, t1 in self.phases:
            value["others_cpus"] = self.monitor.between(t0, t1)

    def cleanup(self):
        for thing in reversed(self.started):
            try:
                thing.stop()
            except Exception as e:
                log(f"cleanup: {e}")
        if self.args.keep:
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def render(json_path):
    """Rewrites <stem>.md and <stem>.png next to a results .json (after changing the report)."""
    path = Path(json_path)
    doc = json.loads(path.read_text())
    args = argparse.Namespace(**doc["meta"]["settings"])
    md = report.write(path.parent, path.stem, doc["meta"], doc["results"], args)
    log(f"wrote {md}")
    return 0


class Terminated(BaseException):  # not caught by the per-measurement `except Exception`
    pass


def _on_sigterm(signum, frame):
    raise Terminated(f"bench/run received signal {signum}")


def main(argv):
    args = parse_args(argv)
    if args.render:
        return render(args.render)
    # A SIGTERM (someone else's cleanup) still stops our servers and writes what was measured.
    signal.signal(signal.SIGTERM, _on_sigterm)
    run = Run(args)
    t0 = time.monotonic()
    interrupted = None
    try:
        run.execute()
    except (Terminated, KeyboardInterrupt) as e:
        interrupted = str(e) or "interrupted"
        log(f"{interrupted}: stopping, writing the partial results")
    finally:
        run.cleanup()
        run.finish_monitor()
    if interrupted:
        run.meta["interrupted"] = interrupted
    run.meta["elapsed_s"] = round(time.monotonic() - t0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = datetime.date.today().isoformat() + (f"-{args.tag}" if args.tag else "")
    (out / f"{stem}.json").write_text(json.dumps({"meta": run.meta, "results": run.results},
                                                 indent=1, sort_keys=True) + "\n")
    md = report.write(out, stem, run.meta, run.results, args)
    log(f"wrote {md} (and {stem}.png, {stem}.json)")
    return 1 if interrupted else 0
