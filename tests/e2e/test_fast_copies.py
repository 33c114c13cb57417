"""`teleport start` and `tsh proxy db`, on an AMD CPU with FSRM and a glibc older than 2.40, restart
themselves once with glibc's rep movsb threshold raised to the L2 cache's size, so that TLS records
and tunnel frames are not copied at a twentieth of the memory's speed (src/common/fast_copies.h).
Elsewhere, and when the user set the threshold, their environment stays as it was started."""
import contextlib
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Cluster, Process, binary, free_port, wait_for_port
from proxy_support import ProxyCluster

sys.path.insert(0, str(ROOT / "bench"))
from benchlib.env import slow_rep_movsb as machine_has_slow_rep_movsb  # noqa: E402


def l2_cache_bytes():
    out = subprocess.run(["getconf", "LEVEL2_CACHE_SIZE"], capture_output=True, text=True).stdout.strip()
    return int(out) if out.isdigit() and int(out) > 0 else 1048576


def logged_threshold(cluster):
    """The rep movsb threshold `teleport start` reports it runs with, or None if it says nothing."""
    m = re.search(r"rep_movsb_threshold[=:]\s*\"?([^\",}\n]+)", cluster.process.output())
    return m.group(1) if m else None


def environment_of(pid):
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().partition("=")[::2] for entry in raw if entry)


@contextlib.contextmanager
def teleport_started_with(tmp_path, monkeypatch, tunables):
    """`teleport start` (Auth and Proxy) with GLIBC_TUNABLES as given (None: unset)."""
    if tunables is None:
        monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    else:
        monkeypatch.setenv("GLIBC_TUNABLES", tunables)
    cluster = Cluster(tmp_path, proxy=True).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_teleport_start_raises_the_rep_movsb_threshold_where_glibc_would_copy_slowly(tmp_path, monkeypatch):
    with teleport_started_with(tmp_path, monkeypatch, None) as cluster:
        pid = cluster.process.proc.pid
        env = environment_of(pid)  # same pid: it executed itself again
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "teleport"  # same name for ps and pkill
        cluster.tctl("users", "ls")  # and it serves
        if machine_has_slow_rep_movsb():
            assert env.get("GLIBC_TUNABLES") == f"glibc.cpu.x86_rep_movsb_threshold={l2_cache_bytes()}"
            assert logged_threshold(cluster) == str(l2_cache_bytes())
        else:
            assert "GLIBC_TUNABLES" not in env
            assert logged_threshold(cluster) is None


def test_a_threshold_the_user_set_is_kept_as_it_is(tmp_path, monkeypatch):
    with teleport_started_with(tmp_path, monkeypatch, "glibc.cpu.x86_rep_movsb_threshold=4096") as cluster:
        env = environment_of(cluster.process.proc.pid)
        assert env.get("GLIBC_TUNABLES") == "glibc.cpu.x86_rep_movsb_threshold=4096"
        if machine_has_slow_rep_movsb():
            assert logged_threshold(cluster) == "4096"


def test_other_tunables_the_user_set_are_kept_beside_it(tmp_path, monkeypatch):
    with teleport_started_with(tmp_path, monkeypatch, "glibc.malloc.arena_max=2") as cluster:
        # /proc/<pid>/environ shows only the first of several tunables (glibc rewrites the
        # variable's original text as it reads it), so the process's own report is what tells.
        assert environment_of(cluster.process.proc.pid)["GLIBC_TUNABLES"].startswith("glibc.malloc.arena_max=2")
        expected = str(l2_cache_bytes()) if machine_has_slow_rep_movsb() else None
        assert logged_threshold(cluster) == expected


def test_tsh_proxy_db_restarts_the_same_way(tmp_path, monkeypatch):
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    cluster = ProxyCluster(tmp_path).start()
    try:
        cluster.register_db("pgdb")
        cluster.add_user("alice", db_users="alice", db_names="postgres")
        cluster.login("alice")
        cluster.tsh("db", "login", "pgdb", "--db-user=alice", "--db-name=postgres")
        port = free_port()
        local = Process([binary("tsh"), "proxy", "db", "pgdb", "--tunnel", f"--port={port}"],
                        tmp_path / "tsh-proxy.log", env={"TELEPORT_HOME": str(cluster.home)})
        try:
            wait_for_port(port, proc=local.proc, log=local.log_path)
            pid = local.proc.pid
            assert Path(f"/proc/{pid}/comm").read_text().strip() == "tsh"
            env = environment_of(pid)
            if machine_has_slow_rep_movsb():
                assert env.get("GLIBC_TUNABLES") == f"glibc.cpu.x86_rep_movsb_threshold={l2_cache_bytes()}"
            else:
                assert "GLIBC_TUNABLES" not in env
            assert "Started authenticated tunnel" in local.output()
        finally:
            local.stop()
    finally:
        cluster.stop()
