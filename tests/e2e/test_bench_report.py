"""bench/run's whole-box figure: the machine's CPU per transaction (every process and the kernel's
network work) and its idle share, from /proc/stat around each load, and how the report shows it
(bench/README.md, "What is measured")."""
import math
import subprocess
import sys
import time

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from benchlib import env, report, runner  # noqa: E402


def test_box_usage_is_busy_time_per_transaction_and_the_idle_share():
    ticks = env.CLK_TCK
    before, after = (10 * ticks, 5 * ticks), (12 * ticks, 6 * ticks)  # 2 s busy, 1 s idle
    usage = env.box_usage(before, after, 1000)
    assert abs(usage["box_cpu_us_per_tx"] - 2000.0) < 1e-6
    assert abs(usage["box_idle_share"] - 1.0 / 3.0) < 1e-9
    assert math.isnan(env.box_usage(before, after, 0)["box_cpu_us_per_tx"])  # no transactions


def test_box_ticks_count_this_process_spinning():
    before = env.box_ticks()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    after = env.box_ticks()
    assert after[0] - before[0] >= 0.2 * env.CLK_TCK  # this spin alone was 0.3 s of one CPU
    assert after[1] >= before[1]


def test_box_split_gives_each_owner_its_share_once():
    T = env.CLK_TCK
    me, postmaster, backend, old_backend, proxy, kworker = 100, 200, 201, 202, 300, 2
    # {pid: (comm, ppid, own ticks, reaped children's ticks, start)}
    before = {me: ("python3", 1, 5 * T, 0, 10), postmaster: ("postgres", 1, 1 * T, 40 * T, 20),
              backend: ("postgres", postmaster, 3 * T, 0, 30), old_backend: ("postgres", postmaster, 7 * T, 0, 31),
              proxy: ("teleport", 1, 50 * T, 0, 40), kworker: ("kworker/0:1-events", 0, 1 * T, 0, 1),
              400: ("sleep", me, 0, 0, 50)}
    after = {me: ("python3", 1, 5 * T, 4 * T, 10),               # reaped pgbench (4 s, all in the window)
             postmaster: ("postgres", 1, 1 * T, 40 * T + 9 * T, 20),  # reaped old_backend: 7 s before, 2 s in
             backend: ("postgres", postmaster, 6 * T, 0, 30),      # 3 s in the window
             proxy: ("teleport", 1, 52 * T, 0, 40),                # 2 s
             kworker: ("kworker/0:1-flush", 0, 1 * T, 0, 1),       # renamed, nothing spent
             400: ("sleep", 1, 1 * T, 0, 99)}                      # the pid reused by a new process: 1 s, rest
    busy_before, busy_after = 1000 * T, 1000 * T + 13 * T
    split = env.box_split(((busy_before, 0), before), ((busy_after, 0), after), 1000, [proxy], me=me)
    assert {k: round(v) for k, v in split.items()} == {"database": 5000, "client": 4000, "proxies": 2000, "rest": 2000}
    assert all(math.isnan(v) for v in env.box_split(((0, 0), {}), ((0, 0), {}), 0, []).values())


def test_box_split_counts_a_client_this_process_ran():
    before = env.box_snapshot()
    subprocess.run(["/usr/bin/python3", "-c", "import time\nend = time.monotonic() + 0.3\nwhile time.monotonic() < end: pass"],
                   check=True, timeout=30)
    after = env.box_snapshot()
    split = env.box_split(before, after, 1, [])
    assert split["client"] >= 0.2e6  # the child's 0.3 s of one CPU, reaped by this process
    assert split["database"] == 0 and split["proxies"] == 0


def test_the_report_has_a_whole_box_row_per_load():
    results = {
        "direct": {"metrics": {"select_c16": {"tps": 20000.0, "box_cpu_us_per_tx": 80.4, "box_idle_share": 0.012}}},
        "project": {"metrics": {"select_c16": {"tps": 9000.0, "box_cpu_us_per_tx": 179.2, "box_idle_share": 0.007,
                                               "box_split_us_per_tx": {"database": 80.6, "client": 22.1,
                                                                       "proxies": 75.0, "rest": 1.5}}}},
        "pgbouncer": {"metrics": {"select_c16": {"tps": 13000.0}}},  # a run from before the figure
        "mysql-project": {"metrics": {"point_select_t4": {"tps": 6000.0, "box_cpu_us_per_tx": 301.0,
                                                          "box_idle_share": 0.25}}},
    }
    rows = dict(report.pg_rows(results, ["direct", "project", "pgbouncer"], [16]))
    assert rows[f"{report.BOX_ROW}, 16 clients"] == ["80 (1 % idle)", "179 (1 % idle)", "–"]
    assert rows[f"{report.SPLIT_ROW}, 16 clients"] == ["–", "81 / 22 / 75 / 2", "–"]
    rows = dict(report.mysql_rows(results, ["mysql-project"], [4]))
    assert rows[f"{report.BOX_ROW}, 4 threads"] == ["301 (25 % idle)"]


def test_the_tps_target_names_both_paths_whole_box_cost():
    results = {
        "project": {"metrics": {"select_c16": {"tps": 9000.0, "box_cpu_us_per_tx": 179.2}}},
        "pgbouncer": {"metrics": {"select_c16": {"tps": 13000.0, "box_cpu_us_per_tx": 121.4}}},
    }
    name, (measured, status) = report.targets(results, [16])[0]
    assert name == "project TPS at 16 clients >= PgBouncer's"
    assert measured == "9,000 vs 13,000 (whole box 179 vs 121 µs CPU per tx)"
    assert status == "**missed**"
    results["project"]["metrics"]["select_c16"]["box_split_us_per_tx"] = {"database": 103.2}
    results["pgbouncer"]["metrics"]["select_c16"]["box_split_us_per_tx"] = {"database": 68.7}
    assert report.targets(results, [16])[0][1][0] == (
        "9,000 vs 13,000 (whole box 179 vs 121 µs CPU per tx, of which PostgreSQL 103 vs 69)")
    del results["pgbouncer"]["metrics"]["select_c16"]["box_cpu_us_per_tx"]  # a run from before the figure
    assert report.targets(results, [16])[0][1][0] == "9,000 vs 13,000"


def test_one_client_rows_give_the_latency_each_path_adds():
    def run(avg_ms, p99_ms, box_us, cpu=None):
        r = {"latency_avg_ms": avg_ms, "latency_p99_ms": p99_ms, "box_cpu_us_per_tx": box_us, "box_idle_share": 0.55}
        if cpu:
            r["cpu_s_per_10k"] = cpu
        return r
    results = {
        "direct": {"metrics": {"select_c1": run(0.166, 0.234, 135.0)}},
        "project": {"metrics": {"select_c1": run(0.369, 1.036, 323.0, {"proxy": 0.895, "agent": 0.956})}},
        "pgbouncer": {"metrics": {"select_c1": run(0.229, 0.316, 196.0, {"pgbouncer": 0.709})}},
        "haproxy": {"metrics": {}},  # the run failed for this path
    }
    rows = dict(report.pg_rows(results, ["direct", "project", "pgbouncer", "haproxy"], [16]))
    assert rows["latency at 1 client, avg / p99 (µs; avg added over direct)"] == [
        "166 / 234", "369 / 1036, +203 µs", "229 / 316, +63 µs", "–"]
    assert rows["CPU s per 10 000 tx, all proxying processes, 1 client"] == ["–", "1.851", "0.709", "–"]
    assert rows[f"{report.BOX_ROW}, 1 client"][1] == "323 (55 % idle)"
    # A run without the one-client load (older results, or --single-duration 0) has no such rows.
    del results["project"]["metrics"]["select_c1"], results["direct"]["metrics"]["select_c1"]
    del results["pgbouncer"]["metrics"]["select_c1"]
    assert not any("1 client" in name for name, _ in report.pg_rows(results, ["direct", "project"], [16]))


def test_bench_run_measures_one_client_unless_told_not_to():
    assert runner.parse_args([]).single_duration == 15
    assert runner.parse_args(["--quick"]).single_duration == 3
    assert runner.parse_args(["--single-duration", "0"]).single_duration == 0
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "run"), "--single-duration", "-1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--single-duration must be 0 (no one-client run) or more seconds, not -1" in r.stderr


def test_bench_profile_refuses_a_load_without_clients():
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "profile"), "select", "--clients", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--clients must be at least 1, not 0" in r.stderr
