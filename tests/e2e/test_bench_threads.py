"""Thread names: `teleport start` names its threads for what they do (event loops, the Auth
Service's workers, ...), and bench/ groups a process's CPU by them to tell proxying from the Auth
Service storing audit events (bench/README.md, "What is measured")."""
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Cluster

sys.path.insert(0, str(ROOT / "bench"))
from benchlib import env, report  # noqa: E402


def thread_names(pid):
    return {task.name: (task / "comm").read_text().strip() for task in Path(f"/proc/{pid}/task").iterdir()}


def test_teleport_names_its_threads_and_bench_groups_their_cpu(tmp_path):
    cluster = Cluster(tmp_path, proxy=True, teleport_yaml="  io_threads: 3\n").start()
    try:
        pid = cluster.process.proc.pid
        cluster.tctl("users", "ls")  # an Auth API call: runs on a worker
        names = thread_names(pid)
        assert names[str(pid)] == "teleport"  # pgrep/ps still find the process by its name
        assert {"tp-loop-1", "tp-loop-2", "tp-auth-0", "tp-auth-1", "tp-sqlite-purge"} <= set(names.values())
        groups = env.cpu_by_thread_group({}, env.thread_cpu(pid))  # since the process started
        assert {"event loops", "Auth workers", "other"} <= set(groups)
        assert all(seconds >= 0.0 for seconds in groups.values())
        assert abs(sum(groups.values()) - env.cpu_seconds(pid)) < 0.05  # every live thread counted once
    finally:
        cluster.stop()


def test_a_process_the_project_did_not_name_has_no_groups():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert env.thread_cpu(sleeper.pid) == {}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_threads_are_counted_one_by_one_between_two_snapshots():
    before = {"10": ("event loops", 1.0), "11": ("Auth workers", 0.5), "12": ("other", 2.0)}
    after = {"10": ("event loops", 1.5), "11": ("Auth workers", 0.75), "13": ("other", 0.25)}
    # 12 ended in between (not counted, and not subtracted from the others); 13 started (from zero).
    assert env.cpu_by_thread_group(before, after) == {"event loops": 0.5, "Auth workers": 0.25, "other": 0.25}


def test_the_report_lists_each_process_by_thread_group():
    results = {"project": {"metrics": {
        "select_c16": {"cpu_s_per_10k_by_thread": {
            "proxy": {"event loops": 0.31, "Auth workers": 0.05, "other": 0.0},
            "agent": {"event loops": 0.372, "audit upload": 0.009}}},
        "idle_memory": {"kib_per_session": {"proxy": 40.0}}}},
        "pgbouncer": {"metrics": {"select_c16": {"cpu_s_per_10k": {"pgbouncer": 0.3}}}}}
    rows = report.thread_rows(results, ["project", "pgbouncer"])
    assert rows == [("project / agent, c16", ["0.372", "–", "0.009", "–", "0.381"]),
                    ("project / proxy, c16", ["0.310", "0.050", "–", "0.000", "0.360"])]
