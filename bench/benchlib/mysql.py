"""MySQL paths: MariaDB 10.11 (the e2e fixture) and `sysbench oltp_point_select` over TLS, directly,
through HAProxy (TCP mode) and through the project's native MySQL listener.

sysbench 1.0's --mysql-ssl=on reads client-key.pem, client-cert.pem and cacert.pem from its
working directory, so each path gets a directory holding those three files: a client certificate
from the test CA for the direct and HAProxy paths, the user's database certificate from
`tsh db login` for the project.
"""
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fixtures.mariadb_server import MariaDBServer

from .env import BoxMeter, cpu_seconds, log
from .paths import BENCH_USER

SB_DB = "sbtest"


@dataclass
class MyPath:
    key: str
    label: str
    host: str
    port: int
    password: str
    ssl_dir: Path
    pids: dict = field(default_factory=dict)
    hop_roles: tuple = ()
    ssl: bool = True              # False for tsh proxy db --tunnel (a plain local connection)

    def all_pids(self):
        return list(self.pids.values())


def ssl_dir(workdir, name, cert, key, ca):
    d = Path(tempfile.mkdtemp(prefix=f"sysbench-{name}-", dir=workdir))
    shutil.copyfile(cert, d / "client-cert.pem")
    shutil.copyfile(key, d / "client-key.pem")
    shutil.copyfile(ca, d / "cacert.pem")
    return d


class BenchMaria:
    def __init__(self, workdir, pki, password, table_size):
        self.workdir, self.pki, self.password, self.table_size = workdir, pki, password, table_size
        self.server = MariaDBServer(workdir, pki.server_cert, pki.server_key, ca=pki.ca_cert,
                                    max_connections=400, pam=False,
                                    extra_conf={"innodb-buffer-pool-size": "256M"})
        client = pki.ca.issue_client(BENCH_USER).write(Path(workdir) / "pki", "mysql-client")
        self.client_ssl = ssl_dir(workdir, "direct", client.cert, client.key, pki.ca_cert)

    @property
    def port(self):
        return self.server.port

    def start(self):
        self.server.start(timeout=120)
        self.server.create_user(BENCH_USER, password=self.password)
        self.server.create_database(SB_DB)
        log(f"sysbench prepare ({self.table_size} rows, MariaDB on port {self.port})")
        path = self.direct_path()
        _sysbench(path, ["prepare"], 600, self.table_size)
        return self

    def stop(self):
        self.server.stop()

    def direct_path(self):
        return MyPath("mysql-direct", "direct TLS", "127.0.0.1", self.port, self.password,
                      self.client_ssl)


def _sysbench(path, action_args, timeout, table_size, extra=()):
    cmd = ["sysbench", "oltp_point_select", "--db-driver=mysql", f"--mysql-host={path.host}",
           f"--mysql-port={path.port}", f"--mysql-user={BENCH_USER}",
           f"--mysql-password={path.password}", f"--mysql-db={SB_DB}",
           "--mysql-ssl=on" if path.ssl else "--mysql-ssl=off",
           "--tables=1", f"--table-size={table_size}", *extra, *action_args]
    try:
        cp = subprocess.run(cmd, cwd=str(path.ssl_dir), capture_output=True, text=True,
                            timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{path.key}: sysbench {' '.join(action_args)} did not finish") from e
    if cp.returncode != 0 or "FATAL" in cp.stdout:
        raise RuntimeError(f"{path.key}: sysbench {' '.join(action_args)} failed:\n"
                           f"{cp.stdout[-2000:]}\n{cp.stderr[-2000:]}")
    return cp.stdout


def point_select(path, threads, duration, warmup, table_size):
    """oltp_point_select at `threads` threads: TPS, avg/p99 latency, CPU per 10 000 transactions."""
    if warmup > 0:
        _sysbench(path, ["run"], warmup + 120, table_size,
                  [f"--threads={threads}", f"--time={warmup}"])
    box = BoxMeter(path.all_pids())  # after the warm-up's sessions have ended
    before = {r: cpu_seconds(p) for r, p in path.pids.items()}
    out = _sysbench(path, ["run"], duration + 120, table_size,
                    [f"--threads={threads}", f"--time={duration}", "--percentile=99"])
    after = {r: cpu_seconds(p) for r, p in path.pids.items()}
    box.stop()

    def num(pattern):
        m = re.search(pattern, out)
        if not m:
            raise RuntimeError(f"{path.key}: no {pattern!r} in sysbench output:\n{out[-1500:]}")
        return float(m.group(1))

    txns = int(num(r"transactions:\s+(\d+)"))
    errors = int(num(r"ignored errors:\s+(\d+)"))
    cpu = {r: after[r] - before[r] for r in after}
    return {
        "threads": threads,
        "duration_s": duration,
        "tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
        "transactions": txns,
        "errors": errors,
        "latency_avg_ms": num(r"avg:\s+([\d.]+)"),
        "latency_p99_ms": num(r"99th percentile:\s+([\d.]+)"),
        "cpu_s": cpu,
        "cpu_s_per_10k": {r: s * 10000.0 / txns if txns else float("nan") for r, s in cpu.items()},
        **box.usage(txns),
    }


def check_path(path, table_size):
    _sysbench(path, ["run"], 60, table_size, ["--threads=1", "--time=1"])
    log(f"{path.key}: sysbench point select works")
