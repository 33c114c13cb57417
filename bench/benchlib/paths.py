"""The database and the peers: one PostgreSQL 15 (the e2e fixture) with pgbench's tables, and the
two peer proxies in front of it, PgBouncer (session pooling, TLS on both sides) and HAProxy (TCP
mode). A `Path` is one way for a client to reach the database plus the processes that proxy it.
"""
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from fixtures import proc
from fixtures.postgres_server import PostgresServer, hba_password

from .env import log

BENCH_USER = "bench"
BENCH_DB = "bench"


@dataclass
class PgPath:
    key: str                      # direct, project, project-tunnel, pgbouncer, haproxy
    label: str
    params: dict                  # libpq keywords (host, port, user, dbname, sslmode, ...)
    pids: dict = field(default_factory=dict)      # role -> pid of a proxying process
    hop_roles: tuple = ()         # the roles that make up "the proxy hop" (CPU target)
    reset: object = None          # callable: drop server connections a pooler keeps after a test

    def pg_env(self):
        """The libpq environment for pgbench and psql."""
        names = {"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE",
                 "sslmode": "PGSSLMODE", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
                 "sslrootcert": "PGSSLROOTCERT", "password": "PGPASSWORD"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        # Without this libpq would offer root's ~/.postgresql/postgresql.crt to every server.
        env["PGSSLCERT"] = "/nonexistent/bench-no-client-cert"
        env["PGSSLKEY"] = "/nonexistent/bench-no-client-key"
        env["PGCONNECT_TIMEOUT"] = "15"
        for k, v in self.params.items():
            env[names[k]] = str(v)
        return env

    def all_pids(self):
        return list(self.pids.values())


class BenchPostgres:
    """PostgreSQL 15 with a password user `bench` (SCRAM over hostssl), pgbench tables at `scale`
    and max_connections high enough for 1 000 idle sessions plus PgBouncer's pool."""

    def __init__(self, workdir, pki, max_connections, scale, password):
        self.password = password
        self.scale = scale
        self.server = PostgresServer(
            workdir, pki.server_cert, pki.server_key, hba_lines=[hba_password()],
            max_connections=max_connections,
            extra_conf={
                "shared_buffers": "256MB",
                # Connection logging would be measured too (pgbench -C): keep the server quiet.
                "log_connections": "off",
                "log_min_messages": "warning",
                "max_wal_size": "1GB",
            })

    def start(self):
        s = self.server.start(timeout=120)
        s.create_user(BENCH_USER, password=self.password)
        s.create_database(BENCH_DB, owner=BENCH_USER)
        env = {"PATH": "/usr/bin:/bin", "PGHOST": str(s.socket_dir), "PGPORT": str(s.port)}
        log(f"pgbench -i -s {self.scale} (PostgreSQL on port {s.port})")
        proc.run(["pgbench", "-i", "-q", "-s", str(self.scale), "-U", BENCH_USER, BENCH_DB],
                 env=env, timeout=900)
        s.query("VACUUM ANALYZE", db=BENCH_DB)
        return self

    def stop(self):
        self.server.stop()

    @property
    def port(self):
        return self.server.port

    def direct_path(self):
        return PgPath("direct", "direct TLS", {
            "host": "127.0.0.1", "port": self.port, "user": BENCH_USER, "dbname": BENCH_DB,
            "sslmode": "require", "password": self.password})

    def wait_backends_below(self, n, timeout=60):
        """Wait until fewer than n sessions of the bench user are open (after a test closed its
        connections, the server side may take a moment to notice)."""
        sql = f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{BENCH_USER}'"
        proc.wait_for(lambda: int(self.server.query(sql)) < n, timeout,
                      f"fewer than {n} open {BENCH_USER} sessions", interval=0.5)

    def postgres_pids(self):
        """The postmaster and its children (backends), for the record."""
        out = subprocess.run(["pgrep", "-f", f"-D {self.server.data_dir}"], capture_output=True,
                             text=True, timeout=10).stdout.split()
        return [int(p) for p in out]


class _Daemon:
    """A peer proxy started in the foreground so its pid is the process doing the work."""

    def __init__(self, name):
        self.name = name
        self.popen = None
        self.dir = None
        self.log_path = None
        self._log = None

    def _spawn(self, args, port, user=None):
        self.log_path = self.dir / f"{self.name}.log"
        self._log = open(self.log_path, "ab")
        kwargs = {}
        if user and proc.is_root():
            kwargs = dict(user=user, group=user, extra_groups=[])
        self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, cwd=str(self.dir),
                                      start_new_session=True, **kwargs)
        proc.wait_for(lambda: proc.port_open("127.0.0.1", port), 20, f"{self.name} on {port}",
                      abort=self._exited)

    def _exited(self):
        if self.popen.poll() is not None:
            return f"{self.name} exited with {self.popen.returncode}:\n{proc.tail(self.log_path)}"
        return None

    @property
    def pid(self):
        return self.popen.pid

    def stop(self):
        if self.popen is not None:
            proc.stop_process(self.popen, timeout=10)
            self.popen = None
        if self._log is not None:
            self._log.close()
            self._log = None
        proc.remove_dir(self.dir)


class PgBouncer(_Daemon):
    """PgBouncer in session pooling: SCRAM from the client and to the server, TLS on both sides."""

    def __init__(self, workdir, pki, pg, pool_size):
        super().__init__("pgbouncer")
        self.workdir, self.pki, self.pg, self.pool_size = workdir, pki, pg, pool_size
        self.port = None

    def start(self):
        # PgBouncer refuses to run as root: it runs as postgres, which must read its files.
        self.dir = proc.service_dir(self.workdir, "tp-pgbouncer-", owner="postgres")
        self.port = proc.free_port()
        crt = proc.install_private_file(self.pki.server_cert, self.dir / "server.crt", "postgres", 0o644)
        key = proc.install_private_file(self.pki.server_key, self.dir / "server.key", "postgres", 0o600)
        users = self.dir / "userlist.txt"
        users.write_text(f'"{BENCH_USER}" "{self.pg.password}"\n')
        cfg = self.dir / "pgbouncer.ini"
        cfg.write_text(f"""[databases]
{BENCH_DB} = host=127.0.0.1 port={self.pg.port} dbname={BENCH_DB}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {users}
pool_mode = session
max_client_conn = {self.pool_size + 200}
default_pool_size = {self.pool_size}
client_tls_sslmode = require
client_tls_cert_file = {crt}
client_tls_key_file = {key}
server_tls_sslmode = require
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
stats_period = 3600
admin_users = {BENCH_USER}
""")
        if proc.is_root():
            proc.chown_tree(self.dir, "postgres")
        self._spawn(["pgbouncer", str(cfg)], self.port, user="postgres")
        return self

    def path(self):
        return PgPath("pgbouncer", "PgBouncer (session, TLS both sides)", {
            "host": "127.0.0.1", "port": self.port, "user": BENCH_USER, "dbname": BENCH_DB,
            "sslmode": "require", "password": self.pg.password},
            pids={"pgbouncer": self.pid}, hop_roles=("pgbouncer",),
            reset=self.release_server_connections)

    def release_server_connections(self):
        """Session pooling keeps the idle test's server connections open (server_idle_timeout):
        drop them through the admin console so the next path gets PostgreSQL's slots."""
        env = self.path().pg_env()
        env["PGDATABASE"] = "pgbouncer"
        for cmd in (f"KILL {BENCH_DB}", f"RESUME {BENCH_DB}"):
            proc.run(["psql", "-X", "-q", "-c", cmd], env=env, timeout=30)


class HaProxy(_Daemon):
    """HAProxy in TCP mode: the client's TLS session goes through to the server untouched."""

    def __init__(self, workdir, name, upstream_port):
        super().__init__(name)
        self.workdir, self.upstream_port = workdir, upstream_port
        self.port = None

    def start(self):
        self.dir = proc.service_dir(self.workdir, f"tp-{self.name}-")
        self.port = proc.free_port()
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(f"""global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen db
  bind 127.0.0.1:{self.port}
  server db1 127.0.0.1:{self.upstream_port}
""")
        # -db: stay in the foreground, one process (no master-worker), so the pid is the worker.
        self._spawn(["haproxy", "-db", "-f", str(cfg)], self.port)
        return self

    def pg_path(self, pg):
        return PgPath("haproxy", "HAProxy (TCP mode)", {
            "host": "127.0.0.1", "port": self.port, "user": BENCH_USER, "dbname": BENCH_DB,
            "sslmode": "require", "password": pg.password},
            pids={"haproxy": self.pid}, hop_roles=("haproxy",))


def pki_dir(workdir):
    d = Path(workdir) / "pki"
    d.mkdir(parents=True, exist_ok=True)
    return d
