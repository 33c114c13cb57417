"""The machine the benchmark runs on: repository paths, the e2e fixtures on sys.path, process
statistics read from /proc, tool versions and the load of the box (other helpers may be compiling).
"""
import os
import re
import resource
import shutil
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def raise_fd_limit(wanted=16384):
    """1 000 idle sessions need ~1 000 fds in the client and 2 000+ in every proxy; children
    inherit this limit, so raise it before starting anything."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def _stat_cpu_seconds(stat_path):
    """utime + stime from a /proc stat file (a process's or one thread's)."""
    text = Path(stat_path).read_text()
    # The command name (field 2) may contain spaces; fields after the closing ')' are fixed.
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid):
    """utime + stime of a whole process (all its threads), from /proc/<pid>/stat."""
    return _stat_cpu_seconds(f"/proc/{pid}/stat")


# The project names its threads (src/common/thread_name.h); its main thread runs the first event loop.
THREAD_GROUPS = (("tp-loop-", "event loops"), ("tp-auth-", "Auth workers"), ("tp-audit-upload", "audit upload"))
THREAD_GROUP_NAMES = tuple(g for _, g in THREAD_GROUPS) + ("other",)


def thread_cpu(pid):
    """{tid: (group, utime + stime)} for each thread of a project process ({} for a process whose
    threads the project did not name, e.g. PgBouncer). Groups: "event loops" (the main thread and
    tp-loop-N: the sessions), "Auth workers" (tp-auth-N: the Auth API, which stores the audit
    events), "audit upload" (the agent's uploader) and "other"."""
    out, named = {}, False
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            seconds = _stat_cpu_seconds(task / "stat")
        except OSError:
            continue  # the thread ended
        group = "event loops" if task.name == str(pid) else next(
            (g for prefix, g in THREAD_GROUPS if comm.startswith(prefix)), "other")
        named = named or comm.startswith("tp-")
        out[task.name] = (group, seconds)
    return out if named else {}


def cpu_by_thread_group(before, after):
    """CPU seconds per group between two thread_cpu() snapshots, thread by thread: a thread that
    started in between counts from zero, one that ended in between is not counted."""
    out = {}
    for tid, (group, seconds) in after.items():
        out[group] = out.get(group, 0.0) + seconds - before.get(tid, (group, 0.0))[1]
    return out


def rss_kib(pid):
    """Resident set size in KiB (VmRSS, /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def total_cpu(pids):
    return sum(cpu_seconds(p) for p in pids)


def total_rss(pids):
    return sum(rss_kib(p) for p in pids)


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


def _proc_table():
    """{pid: (comm, ppid, own cpu ticks, reaped children's cpu ticks, start time)} for every
    process; the start time (in ticks since boot) tells a reused pid from the process before it."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        f = text[text.rindex(")") + 2:].split()
        table[int(entry.name)] = (comm, int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]), int(f[19]))
    return table


def box_ticks():
    """(busy, idle) clock ticks of the whole machine so far: idle is idle and iowait from
    /proc/stat, busy everything else the CPUs did (PostgreSQL, the load generator, every proxy, the
    kernel's network processing, steal). Busy is the CPUs' elapsed time less idle, not the kernel's
    own busy counters: those are sampled at each tick, and on a partly idle box the ticks miss
    bursts shorter than a tick (a ping-pong of short bursts between two processes measured a third
    of the CPU time the two processes themselves reported), while idle time is measured exactly."""
    lines = Path("/proc/stat").read_text().split("\n")
    now = time.monotonic()
    f = [int(x) for x in lines[0].split()[1:]]
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    idle = f[3] + f[4]
    return now * CLK_TCK * cpus - idle, idle


def box_usage(before, after, transactions):
    """The machine's CPU per transaction (µs, everything on it) and its idle share between two
    box_ticks() snapshots."""
    busy, idle = after[0] - before[0], after[1] - before[1]
    return {
        "box_cpu_us_per_tx": busy / CLK_TCK * 1e6 / transactions if transactions else float("nan"),
        "box_idle_share": idle / (busy + idle) if busy + idle else float("nan"),
    }


DATABASE_COMMANDS = ("postgres", "mariadbd", "mysqld")
BOX_OWNERS = ("database", "client", "proxies", "rest")


def box_snapshot():
    """box_ticks() and every process's CPU: what box_usage and box_split compare."""
    return box_ticks(), _proc_table()


# How long a BoxMeter lets the previous load's sessions end: PostgreSQL backends exit a moment
# after their client, and one that exits while /proc is read is missing from the snapshot and
# then counted whole in its parent's reaped time. Box ticks stop at once; only processes settle.
SETTLE_S = 0.5


class BoxMeter:
    """The whole box's CPU over one load: box_usage and box_split in one dict."""

    def __init__(self, proxy_pids):
        self.proxy_pids = list(proxy_pids)
        time.sleep(SETTLE_S)
        self.before = box_snapshot()

    def stop(self):
        ticks = box_ticks()
        time.sleep(SETTLE_S)
        self.after = (ticks, _proc_table())

    def usage(self, transactions):
        return {**box_usage(self.before[0], self.after[0], transactions),
                "box_split_us_per_tx": box_split(self.before, self.after, transactions, self.proxy_pids)}


def box_split(before, after, transactions, proxy_pids, me=None):
    """Who spent the whole box's busy time between two box_snapshot()s, in µs per transaction:
    `database` (processes named postgres or mariadbd, with the backends the postmaster reaped),
    `client` (the processes this one ran and reaped: pgbench, sysbench), `proxies` (`proxy_pids`)
    and `rest` (the busy time no process above accounts for: kernel threads, interrupts, this
    script, anything else on the box).

    A process's time counts once, wherever it is: its own ticks while it lives, its parent's
    reaped-children ticks once it has exited; a process reaped during the window takes its ticks
    from before the window with it, so those are taken off again."""
    me = os.getpid() if me is None else me
    (busy_before, _), table_before = before
    (busy_after, _), table_after = after
    proxies = set(proxy_pids)

    # The named owners; "rest" is what the box spent beyond them, so other processes count nowhere.
    def own_owner(pid, comm):
        if pid in proxies:
            return "proxies"
        return "database" if comm in DATABASE_COMMANDS else None

    def reaped_owner(pid, comm):
        return "client" if pid == me else own_owner(pid, comm)

    ticks = dict.fromkeys(BOX_OWNERS, 0)

    def add(owner, n):
        if owner:
            ticks[owner] += n

    for pid, (comm, _, own, reaped, start) in table_after.items():
        was = table_before.get(pid)
        if was is not None and was[4] != start:
            was = None  # a reused pid: a new process
        add(own_owner(pid, comm), own - (was[2] if was else 0))
        add(reaped_owner(pid, comm), reaped - (was[3] if was else 0))
    for pid, (comm, ppid, own, reaped, start) in table_before.items():
        now = table_after.get(pid)
        if now is not None and now[4] == start:
            continue  # still there (a zombie too: its time is not its parent's yet)
        parent = table_before.get(ppid) or table_after.get(ppid)
        if parent is not None:  # reaped by `parent` during the window, its whole life with it
            add(reaped_owner(ppid, parent[0]), -(own + reaped))
    ticks["rest"] = (busy_after - busy_before) - sum(ticks.values())
    if not transactions:
        return {k: float("nan") for k in BOX_OWNERS}
    return {k: v / CLK_TCK * 1e6 / transactions for k, v in ticks.items()}


class LoadMonitor(threading.Thread):
    """Samples, every `interval` seconds, how much CPU the box spent outside this benchmark's
    process tree (other helpers compiling, say): the machine's busy time from /proc/stat minus the
    CPU of this process and all its descendants (their own time plus that of reaped children)."""

    def __init__(self, interval=10.0):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples = []          # (time.monotonic(), CPUs used by others) per interval
        self.by_command = {}       # comm -> CPU seconds of processes outside the tree
        self._stop_event = threading.Event()

    def _snapshot(self):
        table = _proc_table()
        children = {}
        for pid, (_, ppid, *_) in table.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo.extend(children.get(pid, []))
        tree_ticks = sum(table[p][2] + table[p][3] for p in tree if p in table)
        return time.monotonic(), box_ticks()[0], tree_ticks, table, tree

    def run(self):
        prev = self._snapshot()
        while not self._stop_event.wait(self.interval):
            cur = self._snapshot()
            dt = cur[0] - prev[0]
            others = ((cur[1] - prev[1]) - (cur[2] - prev[2])) / CLK_TCK / dt
            self.samples.append((cur[0], max(0.0, others)))
            for pid, (comm, _, ticks, *_) in cur[3].items():
                if pid in cur[4]:
                    continue
                if comm.startswith("kworker"):
                    comm = "kworker"
                before = prev[3].get(pid)
                # Kernel workers rename themselves per work item: match on the pid, not the name.
                delta = ticks - before[2] if before else ticks
                if delta > 0:
                    self.by_command[comm] = self.by_command.get(comm, 0.0) + delta / CLK_TCK
            prev = cur

    def between(self, t0, t1):
        """Average CPUs used by others in samples taken in [t0, t1 + interval]."""
        vals = [v for t, v in self.samples if t0 <= t <= t1 + self.interval]
        return sum(vals) / len(vals) if vals else None

    def stop(self):
        self._stop_event.set()
        if self.ident is not None:  # started: a run that failed before it began has nothing to join
            self.join(timeout=self.interval + 5)

    def summary(self):
        if not self.samples:
            return None
        top = sorted(self.by_command.items(), key=lambda kv: -kv[1])[:6]
        values = [v for _, v in self.samples]
        return {"avg_cpus": sum(values) / len(values), "max_cpus": max(values),
                "samples": len(self.samples), "interval_s": self.interval,
                "top_commands_cpu_s": {k: round(v, 1) for k, v in top}}


def _first_line(cmd):
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (cp.stdout or cp.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def ensure_built(bin_dir):
    """Brings teleport, tctl and tsh up to date with the sources when `bin_dir` is the bin/ of a
    Ninja build (the default build-bench/bin): a report names the commit it measured, so its
    binaries must be built from that commit. Other directories are used as they are."""
    build_dir = Path(bin_dir).parent
    if not (build_dir / "build.ninja").exists():
        return
    log(f"ninja -C {build_dir} teleport tctl tsh (the binaries must match the commit; "
        "minutes if the sources changed much)")
    cp = subprocess.run(["ninja", "-C", str(build_dir), "teleport", "tctl", "tsh"],
                        capture_output=True, text=True)
    if cp.returncode != 0:
        raise RuntimeError(f"building the project in {build_dir} failed:\n{cp.stdout[-3000:]}")


def slow_rep_movsb():
    """An AMD CPU with FSRM under glibc < 2.40: where `teleport start` raises glibc's rep movsb
    threshold for itself (src/common/fast_copies.h)."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    amd = "vendor_id\t: AuthenticAMD" in cpuinfo
    fsrm = any(line.startswith("flags") and " fsrm" in line for line in cpuinfo.splitlines())
    name, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")
    return amd and fsrm and name == "glibc" and tuple(int(x) for x in version.split(".")[:2]) < (2, 40)


def glibc_note():
    note = os.confstr("CS_GNU_LIBC_VERSION")
    if slow_rep_movsb():
        note += (" (AMD CPU with FSRM: the project's processes raise glibc.cpu.x86_rep_movsb_threshold to the "
                 "L2 size, src/common/fast_copies.h; PostgreSQL, the clients and the peers keep glibc's default)")
    return note


def tool_versions(bin_dir):
    versions = {
        "PostgreSQL": _first_line(["/usr/lib/postgresql/15/bin/postgres", "--version"]),
        "pgbench": _first_line(["pgbench", "--version"]),
        "PgBouncer": _first_line(["pgbouncer", "--version"]),
        "HAProxy": _first_line(["haproxy", "-v"]),
        "MariaDB": _first_line(["mariadbd", "--version"]),
        "sysbench": _first_line(["sysbench", "--version"]),
        "OpenSSL": _first_line(["openssl", "version"]),
        "glibc": glibc_note(),
        "kernel": _first_line(["uname", "-sr"]),
    }
    teleport = Path(bin_dir) / "teleport"
    if teleport.exists():
        versions["project (teleport)"] = _first_line([str(teleport), "version"])
        versions["project build"] = build_type(Path(bin_dir).parent)
    versions["project commit"] = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    if dirty:
        versions["project commit"] += " + uncommitted changes in src/"
    if not (Path(bin_dir).parent / "build.ninja").exists() and teleport.exists():
        versions["project commit"] += (f" (the checkout; the binaries in {bin_dir} were not built by "
                                       f"bench/run: teleport is from {built_at(bin_dir)})")
    return versions


PROJECT_BINARIES = ("teleport", "tctl", "tsh")


def missing_binaries(bin_dir):
    """Which of teleport, tctl and tsh `bin_dir` lacks."""
    return [n for n in PROJECT_BINARIES if not (Path(bin_dir) / n).exists()]


def built_at(bin_dir):
    """When teleport in `bin_dir` was built (its modification time), for binaries bench did not build."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime((Path(bin_dir) / "teleport").stat().st_mtime))


def build_type(build_dir):
    cache = Path(build_dir) / "CMakeCache.txt"
    if not cache.exists():
        return "unknown"
    m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache.read_text(), re.M)
    return m.group(1) if m else "unknown"


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


PACKAGE_OF = {"pgbench": "postgresql-15", "psql": "postgresql-15", "pgbouncer": "pgbouncer", "haproxy": "haproxy",
              "sysbench": "sysbench", "gnuplot": "gnuplot-nox", "mariadbd": "mariadb-server"}


def require_tools(names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        packages = sorted({PACKAGE_OF.get(n, n) for n in missing})
        raise SystemExit(f"bench: missing {', '.join(missing)}; install with "
                         f"apt-get install {' '.join(packages)}")
