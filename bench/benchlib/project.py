"""The project's database path, set up the way the guide does it: `teleport start` with the Auth
and Proxy Services in one process, a Database Service (the agent) in a second process that joins
with a token and tunnels through the proxy, a user logged in with `tsh login`, and the database
certificate from `tsh db login` (files named by `tsh db config`). Two process ids are measured:
"proxy" (auth + proxy; the Auth Service is idle during the load apart from audit events) and
"agent".
"""
import json
import os
import re
import secrets
import subprocess
from pathlib import Path

from fixtures import proc

from . import mysql
from .paths import BENCH_DB, BENCH_USER, PgPath

TSH_USER = "benchuser"
PG_DB = "bench-pg"
MY_DB = "bench-mysql"


class _Process:
    """A project binary whose output goes to a log file (like tests/e2e/conftest.py's Process)."""

    def __init__(self, args, log_path, env=None):
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env, start_new_session=True)

    @property
    def pid(self):
        return self.popen.pid

    def exited(self):
        if self.popen.poll() is not None:
            return f"{self.popen.args[0]} exited with {self.popen.returncode}:\n{proc.tail(self.log_path)}"
        return None

    def stop(self):
        proc.stop_process(self.popen, timeout=15)
        self._log.close()


class Project:
    def __init__(self, workdir, bin_dir, pki, pg, maria=None, severity="INFO", io_threads=None):
        self.dir = Path(workdir) / "project"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.bin = Path(bin_dir)
        self.pki, self.pg, self.maria, self.severity = pki, pg, maria, severity
        # teleport.io_threads for both processes; None: the project's default (one per CPU).
        self.io_threads_line = "" if io_threads is None else f"\n  io_threads: {io_threads}"
        self.web_port = proc.free_port()
        self.pg_port = proc.free_port()
        self.my_port = proc.free_port()
        self.auth_port = proc.free_port()
        self.proxy = None
        self.agent = None
        self.tunnels = []
        self.tsh_env = dict(os.environ, TELEPORT_HOME=str(self.dir / "tsh"))
        self.tsh_env.pop("TELEPORT_PROXY", None)

    # --- commands -----------------------------------------------------------------------------

    def _run(self, args, input=None, env=None, timeout=60):
        cp = subprocess.run(args, capture_output=True, text=True, input=input, env=env,
                            timeout=timeout)
        if cp.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, args))} failed ({cp.returncode}):\n"
                               f"{cp.stdout[-2000:]}\n{cp.stderr[-2000:]}")
        return cp.stdout

    def tctl(self, *args):
        return self._run([str(self.bin / "tctl"), "-c", str(self.dir / "proxy.yaml"), *args])

    def tsh(self, *args, input=None):
        return self._run([str(self.bin / "tsh"), *args], input=input, env=self.tsh_env)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self):
        (self.dir / "proxy.yaml").write_text(f"""version: v3
teleport:
  nodename: bench-proxy
  data_dir: {self.dir / 'proxy-data'}{self.io_threads_line}
  log:
    severity: {self.severity}
auth_service:
  enabled: yes
  cluster_name: bench.test
  listen_addr: 127.0.0.1:{self.auth_port}
proxy_service:
  enabled: yes
  web_listen_addr: 127.0.0.1:{self.web_port}
  public_addr: localhost:{self.web_port}
  postgres_listen_addr: 127.0.0.1:{self.pg_port}
  mysql_listen_addr: 127.0.0.1:{self.my_port}
""")
        self.proxy = _Process([str(self.bin / "teleport"), "start", "-c", str(self.dir / "proxy.yaml")],
                              self.dir / "proxy.log")
        proc.wait_for(lambda: proc.port_open("127.0.0.1", self.web_port), 30,
                      "the proxy's web port", abort=self.proxy.exited)
        out = self.tctl("tokens", "add", "--type=db")
        token = re.search(r"The invite token: (\S+)", out).group(1)
        pin = re.search(r"CA pin is (sha256:[0-9a-f]+)", out).group(1)
        self._start_agent(token, pin)
        self._login()
        return self

    def _start_agent(self, token, pin):
        dbs = f"""  - name: {PG_DB}
    protocol: postgres
    uri: 127.0.0.1:{self.pg.port}
    static_labels: {{env: bench}}
    tls: {{ca_cert_file: {self.pki.ca_cert}}}
"""
        if self.maria is not None:
            dbs += f"""  - name: {MY_DB}
    protocol: mysql
    uri: 127.0.0.1:{self.maria.port}
    static_labels: {{env: bench}}
    tls: {{ca_cert_file: {self.pki.ca_cert}}}
"""
        (self.dir / "agent.yaml").write_text(f"""version: v3
teleport:
  nodename: bench-agent
  data_dir: {self.dir / 'agent-data'}{self.io_threads_line}
  auth_token: {token}
  proxy_server: localhost:{self.web_port}
  ca_pin: {pin}
  log:
    severity: {self.severity}
db_service:
  enabled: yes
  databases:
{dbs}""")
        # Self-hosted databases: the agent answers the server's password request from this
        # variable (src/db/upstream_credentials.h).
        env = dict(os.environ, TELEPORT_DB_PASSWORD_BENCH_PG=self.pg.password)
        if self.maria is not None:
            env["TELEPORT_DB_PASSWORD_BENCH_MYSQL"] = self.maria.password
        self.agent = _Process([str(self.bin / "teleport"), "start", "-c", str(self.dir / "agent.yaml")],
                              self.dir / "agent.log", env=env)
        wanted = [PG_DB] + ([MY_DB] if self.maria is not None else [])

        def registered():
            # A heartbeat in db_servers is what the proxy routes by.
            servers = json.loads(self.tctl("get", "db_servers", "--format=json") or "[]")
            return all(any(f'"{n}"' in json.dumps(s) for s in servers) for n in wanted)
        proc.wait_for(registered, 60, "the agent's databases in 'tctl get db_servers'",
                      interval=0.5, abort=self.agent.exited)

    def _login(self):
        out = self.tctl("users", "add", TSH_USER, "--roles=access", f"--db-users={BENCH_USER}",
                        f"--db-names={BENCH_DB},sbtest")
        invite = re.search(r"/web/invite/([0-9A-Za-z]+)", out).group(1)
        password = "bench-" + secrets.token_hex(8)
        proxy = f"--proxy=localhost:{self.web_port}"
        self.tsh("users", "set-password", proxy, f"--invite={invite}", "--insecure",
                 input=password + "\n")
        self.tsh("login", proxy, f"--user={TSH_USER}", "--insecure", input=password + "\n")

    def db_login(self, name, db_name):
        """`tsh db login` then `tsh db config`: the native listener's address and the cert files."""
        self.tsh("db", "login", name, f"--db-user={BENCH_USER}", f"--db-name={db_name}")
        out = self.tsh("db", "config", name)
        fields = {}
        for line in out.splitlines():
            m = re.match(r"^(Host|Port|CA|Cert|Key):\s+(\S+)", line)
            if m:
                fields[m.group(1).lower()] = m.group(2)
        if "host" not in fields:
            raise RuntimeError(f"tsh db config {name} names no native listener:\n{out}")
        return fields

    def pids(self):
        return {"proxy": self.proxy.pid, "agent": self.agent.pid}

    def pg_native_path(self):
        f = self.db_login(PG_DB, BENCH_DB)
        return PgPath("project", "project (native listener, mTLS)", {
            "host": f["host"], "hostaddr": "127.0.0.1", "port": f["port"], "user": BENCH_USER,
            "dbname": BENCH_DB, "sslmode": "verify-full", "sslrootcert": f["ca"],
            "sslcert": f["cert"], "sslkey": f["key"]},
            pids=self.pids(), hop_roles=("proxy",))

    def mysql_native_path(self):
        """`tsh db login` to the MariaDB database, and the proxy's native MySQL listener with the
        certificate in a directory sysbench reads (mysql.ssl_dir)."""
        f = self.db_login(MY_DB, mysql.SB_DB)
        return mysql.MyPath("mysql-project", "project (native listener, mTLS)", "127.0.0.1", int(f["port"]),
                            "unused", mysql.ssl_dir(self.dir, "project", f["cert"], f["key"], f["ca"]),
                            pids=self.pids(), hop_roles=("proxy",))

    def start_tunnel(self, name):
        """`tsh proxy db NAME --tunnel --port P`: a local plain listener that adds the cert."""
        port = proc.free_port()
        p = _Process([str(self.bin / "tsh"), "proxy", "db", name, "--tunnel", f"--port={port}"],
                     self.dir / f"tsh-proxy-{name}.log", env=self.tsh_env)
        self.tunnels.append(p)
        proc.wait_for(lambda: proc.port_open("127.0.0.1", port), 30, f"tsh proxy db {name}",
                      abort=p.exited)
        return port, p.pid

    def pg_tunnel_path(self):
        port, pid = self.start_tunnel(PG_DB)
        pids = dict(self.pids(), tsh=pid)
        return PgPath("project-tunnel", "project via tsh proxy db --tunnel", {
            "host": "127.0.0.1", "port": port, "user": BENCH_USER, "dbname": BENCH_DB,
            "sslmode": "disable"}, pids=pids, hop_roles=("proxy",))

    def stop(self):
        for p in reversed(self.tunnels):
            p.stop()
        self.tunnels = []
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None

    def logs(self):
        return [self.dir / "proxy.log", self.dir / "agent.log"] + [t.log_path for t in self.tunnels]

