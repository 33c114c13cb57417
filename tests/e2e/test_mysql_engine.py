"""Issue 5, end to end: a user reaches a real MariaDB 10.11 through the proxy and a Database Service
agent (its own `teleport start`, joined with a token), under RBAC, with every session audited.

    cluster (auth + proxy) <-- reverse tunnel -- agent (db_service) --TLS verify-full--> MariaDB 10.11
       ^ native MySQL listener (mysql_listen_addr) / TLS routing (ALPN teleport-mysql)
    mariadb, mysqlslap, tsh

The agent logs in upstream with mysql_native_password and the password in TELEPORT_DB_PASSWORD_MY1.
alice's roles allow db users [alice] and databases [app, other, mysqlslap].
"""
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Cluster, Process, binary, free_port, run, wait_for_port
from fixtures import certs, proc
from fixtures.mariadb_server import MariaDBServer
from test_db_postgres import audit_events, login_user, status_kb, wait_until

DB = "my1"
UPSTREAM_PASSWORD = "alice-upstream-pw"
AGENT_ENV = {"TELEPORT_DB_PASSWORD_MY1": UPSTREAM_PASSWORD, "TELEPORT_DB_SHUTDOWN_GRACE": "2s"}


# --- helpers ---------------------------------------------------------------------------------------


class Agent:
    """A Database Service in its own process, configured with `teleport db configure create`."""

    def __init__(self, cluster, directory, server, pki):
        self.cluster = cluster
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        token = json.loads(cluster.tctl("tokens", "add", "--type=db", "--format=json").stdout)
        self.token_file = self.dir / "token"
        self.token_file.write_text(token["metadata"]["name"] + "\n")
        self.config = self.dir / "teleport.yaml"
        run([binary("teleport"), "db", "configure", "create", "-o", f"file://{self.config}", f"--name={DB}",
             f"--proxy={cluster.web_addr}", "--protocol=mysql", f"--uri=127.0.0.1:{server.port}",
             "--labels=env=dev", f"--token={self.token_file}", f"--ca-pin={token['ca_pin']}",
             f"--data-dir={self.data_dir}", f"--ca-cert-file={pki.ca_cert}"])
        self.process = None

    def start(self):
        self.process = Process([binary("teleport"), "start", "-c", str(self.config)], self.dir / "agent.log",
                               env=AGENT_ENV)
        return self

    @property
    def pid(self):
        return self.process.proc.pid

    @property
    def host_id(self):
        return (self.data_dir / "host_uuid").read_text().strip()

    def log(self):
        return self.process.output() if self.process else ""

    def wait_registered(self, timeout=30):
        def registered():
            if self.process.proc.poll() is not None:
                raise AssertionError(f"agent exited with {self.process.proc.returncode}:\n{self.log()}")
            servers = json.loads(self.cluster.tctl("get", "db_servers", "--format=json").stdout or "[]")
            return any(s["spec"]["host_id"] == self.host_id for s in servers)
        wait_until(registered, timeout, "the agent's heartbeat in 'tctl get db_servers'")
        return self

    def stop(self):
        if self.process:
            self.process.stop()


def db_config(tsh):
    """CA, Cert, Key, Host and Port lines of `tsh db config`, by name."""
    out = tsh("db", "config", DB).stdout
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^(\w+):[ \t]*(.*)$", out, re.M)}


def mariadb(args, sql, check=True, timeout=60, binary_name="mariadb"):
    """The real `mariadb` client in batch mode; returns CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL")}
    cmd = [binary_name, "--no-defaults", "-N", "-B", "--connect-timeout=10", *args, "-e", sql]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}): {r.stderr}")
    return r


class MiniClient:
    """Just enough of the MySQL protocol (no TLS) to send what the mariadb CLI cannot: COM_CHANGE_USER,
    COM_STMT_PREPARE / COM_STMT_EXECUTE. Speaks to `tsh proxy db --tunnel`'s local port."""

    CAPS = (0x00000001 | 0x00000004 | 0x00000008 | 0x00000200 | 0x00002000 | 0x00008000 | 0x00020000 |
            0x00080000 | 0x00200000 | 0x01000000)  # LONG_PASSWORD ... PROTOCOL_41, PLUGIN_AUTH, DEPRECATE_EOF

    def __init__(self, port, user, database):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        seq, greeting = self.read()
        assert seq == 0 and greeting[0] == 10, greeting
        payload = struct.pack("<IIB23x", self.CAPS, 1 << 24, 45) + user.encode() + b"\0" + b"\0"
        payload += database.encode() + b"\0" + b"mysql_native_password\0"
        self.write(payload, 1)
        seq, answer = self.read()
        assert seq == 2, seq
        self.answer = answer

    def read(self):
        header = self._exactly(4)
        length = header[0] | header[1] << 8 | header[2] << 16
        return header[3], self._exactly(length)

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise AssertionError("connection closed")
            data += chunk
        return data

    def write(self, payload, seq=0):
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)

    def command(self, payload):
        """Sends a command and returns the packets of its (non-result-set) response."""
        self.write(payload)
        return self.read()[1]

    def read_until_terminator(self, count):
        """Skips `count` definition packets (CLIENT_DEPRECATE_EOF: no EOF after them)."""
        for _ in range(count):
            self.read()

    @staticmethod
    def err(payload):
        assert payload[0] == 0xFF, payload
        code = struct.unpack("<H", payload[1:3])[0]
        return code, payload[4:9].decode(), payload[9:].decode()

    def close(self):
        try:
            self.write(b"\x01")
        finally:
            self.sock.close()


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return certs.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def maria(tmp_path_factory, pki):
    if not proc.is_root():
        pytest.skip("the MariaDB fixture needs root (it runs the server as the mysql user)")
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"), pki.server_cert, pki.server_key, ca=pki.ca_cert,
                           pam=False).start()
    server.create_user("alice", password=UPSTREAM_PASSWORD)
    for name in ("app", "other", "secret"):
        server.create_database(name)
    server.query("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))")
    server.query("INSERT INTO app.t VALUES (1, 'one'), (2, 'two')")
    yield server
    server.stop()


class Env:
    def __init__(self, tmp, server, pki):
        (tmp / "cluster").mkdir(exist_ok=True)
        self.tmp = tmp
        self.cluster = Cluster(tmp / "cluster", proxy=True)
        self.cluster.start()
        self.agent = Agent(self.cluster, tmp / "agent", server, pki).start().wait_registered()
        self.tsh = login_user(self.cluster, tmp / "tsh", db_users="alice", db_names="app,other,mysqlslap")
        self.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")
        self.tunnel_port = free_port()
        self.tunnel = Process([binary("tsh"), "proxy", "db", DB, "--tunnel", f"--port={self.tunnel_port}"],
                              tmp / "tsh-proxy.log", env=self.tsh.env)
        wait_for_port(self.tunnel_port, proc=self.tunnel.proc, log=self.tunnel.log_path)

    def native_args(self, user="alice", database="app"):
        """mariadb options for the proxy's native listener with the database certificate."""
        c = db_config(self.tsh)
        args = ["--protocol=TCP", "-h", "localhost", "-P", str(self.cluster.mysql_port), "-u", user,
                f"--ssl-ca={c['CA']}", f"--ssl-cert={c['Cert']}", f"--ssl-key={c['Key']}",
                "--ssl-verify-server-cert"]
        return args + (["-D", database] if database else [])

    def tunnel_args(self, user="alice", database="app"):
        args = ["--protocol=TCP", "-h", "127.0.0.1", "-P", str(self.tunnel_port), "-u", user, "--skip-ssl"]
        return args + (["-D", database] if database else [])

    def close(self):
        self.tunnel.stop()
        self.agent.stop()
        self.cluster.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory, maria, pki):
    tmp = tmp_path_factory.mktemp("mysql-env")
    e = Env(tmp, maria, pki)
    yield e
    e.close()


# --- tests -----------------------------------------------------------------------------------------


def test_tsh_db_connect_runs_the_mariadb_client(env):
    r = env.tsh("db", "connect", DB, input="select concat(current_user(), ' ', database(), ' ', 40 + 2);\n")
    assert "alice@% app 42" in r.stdout, r.stdout + r.stderr


def test_native_listener_with_the_database_certificate(env):
    out = mariadb(env.native_args(), "select v from t order by id").stdout
    assert out.split() == ["one", "two"]


def test_tsh_proxy_db_tunnel(env):
    out = mariadb(env.tunnel_args(), "select concat(current_user(), ' ', database())").stdout.strip()
    assert out == "alice@% app"
    # The greeting the client saw came from the agent; the statements ran on the real server.
    assert "MariaDB" in mariadb(env.tunnel_args(), "select version()").stdout


def test_native_listener_without_a_certificate_is_told_to_log_in(env):
    r = mariadb(["--protocol=TCP", "-h", "127.0.0.1", "-P", str(env.cluster.mysql_port), "-u", "alice", "--ssl"],
                "select 1", check=False)
    assert r.returncode != 0
    assert "ERROR 1045 (28000)" in r.stderr and "tsh db login" in r.stderr, r.stderr
    r = mariadb(["--protocol=TCP", "-h", "127.0.0.1", "-P", str(env.cluster.mysql_port), "-u", "alice",
                 "--skip-ssl"], "select 1", check=False)
    assert r.returncode != 0
    assert "ERROR 1045 (28000)" in r.stderr and "TLS" in r.stderr, r.stderr


def test_denied_db_user_gets_1045_naming_the_reason(env):
    env.tsh("db", "login", DB, "--db-user=root", "--db-name=app")
    try:
        for args in (env.native_args(user="root"), env.tunnel_args(user="root")):
            r = mariadb(args, "select 1", check=False)
            assert r.returncode != 0
            assert "ERROR 1045 (28000)" in r.stderr and '"root"' in r.stderr and "denied" in r.stderr, r.stderr
    finally:
        env.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")


def test_denied_db_name_gets_1045(env):
    env.tsh("db", "login", DB, "--db-user=alice", "--db-name=secret")
    try:
        r = mariadb(env.native_args(database="secret"), "select 1", check=False)
        assert r.returncode != 0
        assert "ERROR 1045 (28000)" in r.stderr and "secret" in r.stderr, r.stderr
    finally:
        env.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")


def test_client_database_other_than_the_route_is_refused(env):
    r = mariadb(env.tunnel_args(database="other"), "select 1", check=False)
    assert r.returncode != 0
    assert "ERROR 1045 (28000)" in r.stderr and 'database name "app"' in r.stderr, r.stderr


def test_use_switches_only_to_databases_the_roles_allow(env):
    # A certificate without a database name: the session starts without one and may switch to
    # the databases alice's roles allow.
    env.tsh("db", "login", DB, "--db-user=alice", "--db-name=")
    try:
        marker = f"select database(), 'use-{time.time_ns()}'"
        out = mariadb(env.native_args(database=""), f"use other; {marker}").stdout.strip()
        assert out.split()[0] == "other"
        # The audit trail names the database each query ran in.
        def recorded():
            return [e for e in audit_events(env.cluster, "db.session.query") if e.get("db_query") == marker] or None
        assert wait_until(recorded, 15, "the query's audit event")[0]["db_name"] == "other"
        r = mariadb(env.native_args(database=""), "use secret; select database()", check=False)
        assert r.returncode != 0
        assert "ERROR 1044 (42000)" in r.stderr and "secret" in r.stderr, r.stderr
        # Refused in place: the session goes on in the database it had.
        r = mariadb(env.native_args(database=""), "use app; select database(); use secret; select 1", check=False)
        assert r.stdout.split()[0] == "app" and "ERROR 1044" in r.stderr, r.stdout + r.stderr
    finally:
        env.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")


def test_change_user_is_refused_and_the_session_goes_on(env):
    c = MiniClient(env.tunnel_port, "alice", "app")
    try:
        assert c.answer[0] == 0x00, c.answer
        code, state, message = MiniClient.err(c.command(b"\x11root\x00\x00\x00"))
        assert (code, state) == (1045, "28000") and "COM_CHANGE_USER" in message
        assert c.command(b"\x0e")[0] == 0x00  # COM_PING still answered: same session
    finally:
        c.close()


def test_prepared_statements_are_audited_with_their_parameters(env):
    marker = f"select ? + 0 /* prepared-{time.time_ns()} */"
    c = MiniClient(env.tunnel_port, "alice", "app")
    try:
        prepared = c.command(b"\x16" + marker.encode())
        assert prepared[0] == 0x00, prepared
        statement_id, columns, params = struct.unpack("<IHH", prepared[1:9])
        assert params == 1
        c.read_until_terminator(params + columns)
        # COM_STMT_EXECUTE: no cursor, 1 iteration, NULL bitmap 0, types bound: LONGLONG 41.
        c.write(b"\x17" + struct.pack("<IBI", statement_id, 0, 1) + b"\x00\x01" + struct.pack("<Hq", 8, 41))
        seq, first = c.read()
        assert first[0] == 1, first  # one column, then its definition, rows, terminator
        while True:
            _, packet = c.read()
            if packet[0] == 0xFE and len(packet) < 0xFFFFFF:
                break
    finally:
        c.close()

    def recorded():
        return [e for e in audit_events(env.cluster, "db.session.query") if e.get("db_query") == marker] or None
    events = wait_until(recorded, 15, "the execution's audit event")
    assert events[0]["db_query_parameters"] == ["41"]
    assert len(events) == 1, "the prepare alone is not an execution"


def test_audit_events_record_start_queries_and_end(env):
    marker = f"select 'audit-{time.time_ns()}'"
    mariadb(env.native_args(), marker)

    def recorded():
        return [e for e in audit_events(env.cluster, "db.session.query") if e.get("db_query") == marker] or None
    q = wait_until(recorded, 15, "the query's audit event")[0]
    sid = q["sid"]
    assert q["user"] == "alice" and q["db_user"] == "alice" and q["db_name"] == "app"
    assert q["db_service"] == DB and q["db_protocol"] == "mysql" and q["code"] == "TDB02I"

    def session_events():
        starts = [e for e in audit_events(env.cluster, "db.session.start") if e.get("sid") == sid]
        ends = [e for e in audit_events(env.cluster, "db.session.end") if e.get("sid") == sid]
        return (starts, ends) if starts and ends else None
    starts, ends = wait_until(session_events, 15, "the session's start and end events")
    start = starts[0]
    assert start["success"] is True and start["code"] == "TDB00I"
    for field in ("user", "db_service", "db_protocol", "db_uri", "db_user", "db_name", "sid", "time"):
        assert start.get(field), field

    failed = [e for e in audit_events(env.cluster, "db.session.start")
              if e.get("success") is False and e.get("db_protocol") == "mysql"]
    assert failed, "denied sessions are audited"
    assert failed[-1]["code"] == "TDB00W" and failed[-1]["error"]


def test_kill_query_from_a_second_session(env):
    marker = f"sleep-{time.time_ns()}"
    result = {}

    def long_query():
        start = time.monotonic()
        result["r"] = mariadb(env.tunnel_args(), f"select sleep(30), '{marker}'", check=False, timeout=60)
        result["elapsed"] = time.monotonic() - start
    t = threading.Thread(target=long_query)
    t.start()

    def thread_id():
        # (The mariadb client strips comments, so the marker is a string literal.)
        out = mariadb(env.native_args(), "select id from information_schema.processlist "
                      f"where info like '%{marker}%' and id <> connection_id()").stdout.strip()
        return out or None
    tid = wait_until(thread_id, 10, "the sleeping query in the processlist", interval=0.2)
    mariadb(env.native_args(), f"KILL QUERY {tid}")
    t.join(timeout=20)
    assert not t.is_alive()
    assert result["elapsed"] < 10, result
    # SLEEP() answers 1 when it is interrupted.
    assert result["r"].returncode != 0 or result["r"].stdout.split()[0] == "1", result["r"]


def test_a_100mb_result_streams_with_bounded_agent_memory(env):
    pid = env.agent.pid
    before = status_kb(pid, "VmRSS")
    # --quick: the client streams rows too (mysql_use_result), so only the agent could buffer.
    r = subprocess.run(["mariadb", "--no-defaults", "--quick", "-N", "-B", *env.native_args(), "-e",
                        "select repeat('x', 1000) from seq_1_to_100000"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(b"\n") == 100000
    peak = status_kb(pid, "VmHWM")
    growth_mb = (peak - before) / 1024
    assert growth_mb < 32, f"agent RSS grew by {growth_mb:.1f} MB"


def test_mysqlslap_runs_a_short_load(env):
    env.tsh("db", "login", DB, "--db-user=alice", "--db-name=")
    try:
        r = subprocess.run(["mysqlslap", "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1",
                            "-P", str(env.tunnel_port), "-u", "alice", "--skip-ssl",
                            "--create-schema=mysqlslap", "--auto-generate-sql", "--concurrency=4",
                            "--iterations=2", "--number-of-queries=200", "--auto-generate-sql-load-type=mixed"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Average number of seconds to run all queries" in r.stdout, r.stdout
    finally:
        env.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")
