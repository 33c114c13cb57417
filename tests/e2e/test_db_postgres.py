"""Issue 4, end to end: a user reaches a real PostgreSQL 15 through the proxy and a Database Service
agent (its own `teleport start`, joined with a token), under RBAC, with every session audited.

    cluster (auth + proxy) <-- reverse tunnel -- agent (db_service) --TLS verify-full--> PostgreSQL 15
       ^ native PostgreSQL listener / TLS routing
    psql, tsh

The agent authenticates upstream with the password in TELEPORT_DB_PASSWORD_PG1.
"""
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Cluster, Process, binary, free_port, run, wait_for_port
from fixtures import certs, proc
from fixtures.postgres_server import PostgresServer, hba_password

DB = "pg1"
UPSTREAM_PASSWORD = "alice-upstream-pw"
USER_PASSWORD = "correct-horse-battery-9"
AGENT_ENV = {"TELEPORT_DB_PASSWORD_PG1": UPSTREAM_PASSWORD, "TELEPORT_DB_SHUTDOWN_GRACE": "2s"}


# --- helpers ---------------------------------------------------------------------------------------


def wait_until(predicate, timeout, what, interval=0.1):
    return proc.wait_for(predicate, timeout, what, interval=interval)


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


class Agent:
    """A Database Service in its own process, configured with `teleport db configure create`."""

    def __init__(self, cluster, directory, pg, pki, labels="env=dev"):
        self.cluster = cluster
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        token = json.loads(cluster.tctl("tokens", "add", "--type=db", "--format=json").stdout)
        self.token_file = self.dir / "token"
        self.token_file.write_text(token["metadata"]["name"] + "\n")
        self.config = self.dir / "teleport.yaml"
        run([binary("teleport"), "db", "configure", "create", "-o", f"file://{self.config}", f"--name={DB}",
             f"--proxy={cluster.web_addr}", "--protocol=postgres", f"--uri=127.0.0.1:{pg.port}",
             f"--labels={labels}", f"--token={self.token_file}", f"--ca-pin={token['ca_pin']}",
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

    def kill(self):
        if self.process:
            self.process.kill()


class Tsh:
    def __init__(self, cluster, home):
        self.cluster = cluster
        self.env = {"TELEPORT_HOME": str(home)}

    def __call__(self, *args, check=True, input=None, timeout=60):
        return run([binary("tsh"), *args], check=check, input=input, env=self.env, timeout=timeout)

    def db_env(self):
        out = self("db", "env", DB).stdout
        env = {}
        for line in out.splitlines():
            m = re.match(r"export (\w+)=(.*)", line)
            if m:
                env[m.group(1)] = m.group(2)
        return env


def psql_env(pg_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(pg_env)
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def psql(pg_env, sql, check=True, timeout=60, extra=()):
    cmd = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=psql_env(pg_env), timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"psql failed ({r.returncode}): {r.stderr}")
    return r


def read_pg_message(sock):
    header = b""
    while len(header) < 5:
        chunk = sock.recv(5 - len(header))
        if not chunk:
            raise AssertionError("connection closed")
        header += chunk
    kind, length = header[:1], struct.unpack("!I", header[1:])[0]
    payload = b""
    while len(payload) < length - 4:
        chunk = sock.recv(length - 4 - len(payload))
        if not chunk:
            raise AssertionError("connection closed")
        payload += chunk
    return kind, payload


def error_fields(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode()
    return fields


def native_startup(pg_env, user, database):
    """Our own PostgreSQL client on the proxy's native listener: SSLRequest, TLS with the user's
    database certificate, StartupMessage; returns the first message's type and payload."""
    sock = socket.create_connection((pg_env["PGHOST"], int(pg_env["PGPORT"])), timeout=10)
    sock.sendall(struct.pack("!II", 8, 80877103))
    assert sock.recv(1) == b"S"
    ctx = ssl.create_default_context(cafile=pg_env["PGSSLROOTCERT"])
    ctx.check_hostname = False
    ctx.load_cert_chain(pg_env["PGSSLCERT"], pg_env["PGSSLKEY"])
    tls = ctx.wrap_socket(sock)
    params = f"user\0{user}\0database\0{database}\0\0".encode()
    tls.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    kind, payload = read_pg_message(tls)
    tls.close()
    return kind, payload


def audit_events(cluster, event_type):
    out = cluster.tctl("audit", "events", f"--type={event_type}", "--format=json", "--limit=5000").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return certs.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def pg(tmp_path_factory, pki):
    if not proc.is_root():
        pytest.skip("the PostgreSQL fixture needs root (it runs the server as the postgres user)")
    server = PostgresServer(tmp_path_factory.mktemp("pg"), pki.server_cert, pki.server_key,
                            hba_lines=[hba_password()]).start()
    server.create_user("alice", password=UPSTREAM_PASSWORD)
    server.create_database("app", owner="alice")
    yield server
    server.stop()


def login_user(cluster, home, name="alice", roles="access", db_users="alice", db_names="app"):
    out = cluster.tctl("users", "add", name, f"--roles={roles}", f"--db-users={db_users}",
                       f"--db-names={db_names}").stdout
    invite = re.search(r"/web/invite/([0-9A-Za-z]+)", out).group(1)
    tsh = Tsh(cluster, home)
    tsh("users", "set-password", f"--invite={invite}", f"--proxy={cluster.web_addr}", "--insecure",
        input=USER_PASSWORD + "\n")
    tsh("login", f"--proxy={cluster.web_addr}", f"--user={name}", "--insecure", input=USER_PASSWORD + "\n")
    return tsh


class Env:
    def __init__(self, tmp, pg, pki):
        (tmp / "cluster").mkdir(exist_ok=True)
        self.cluster = Cluster(tmp / "cluster", proxy=True)
        self.cluster.start()
        self.agent = Agent(self.cluster, tmp / "agent", pg, pki).start().wait_registered()
        self.tsh = login_user(self.cluster, tmp / "tsh")
        self.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")
        self.pg_env = self.tsh.db_env()

    def close(self):
        self.agent.stop()
        self.cluster.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory, pg, pki):
    tmp = tmp_path_factory.mktemp("db-env")
    e = Env(tmp, pg, pki)
    yield e
    e.close()


# --- tests -----------------------------------------------------------------------------------------


def test_agent_joins_with_the_token_and_registers_its_database(env):
    dbs = json.loads(env.cluster.tctl("get", "db", "--format=json").stdout)
    assert DB in [d["metadata"]["name"] for d in dbs]
    ident = env.agent.data_dir / "db"
    for name in ("key.pem", "cert.pem", "host_cas.pem", "user_cas.pem"):
        assert (ident / name).exists(), name
    assert oct((ident / "key.pem").stat().st_mode & 0o777) == "0o600"
    assert "joined the cluster" in env.agent.log()
    # The token was spent on the join.
    tokens = json.loads(env.cluster.tctl("tokens", "ls", "--format=json").stdout or "[]")
    assert env.agent.token_file.read_text().strip() not in json.dumps(tokens)


def test_allowed_user_runs_simple_and_extended_queries(env):
    out = psql(env.pg_env, "select current_user || ' ' || current_database()").stdout.strip()
    assert out == "alice app"
    # Extended protocol: psql's \bind sends Parse/Bind/Execute (PostgreSQL 16+); pgbench -M extended
    # works everywhere.
    subprocess.run(["pgbench", "-i", "-s", "1", "-q"], env=psql_env(env.pg_env), check=True, capture_output=True,
                   timeout=120)
    bench = subprocess.run(["pgbench", "-S", "-M", "extended", "-t", "50", "-c", "2", "-n"],
                           env=psql_env(env.pg_env), capture_output=True, text=True, timeout=120)
    assert bench.returncode == 0, bench.stderr
    assert "number of transactions actually processed: 100/100" in bench.stdout


def test_tsh_db_connect_runs_psql(env):
    r = env.tsh("db", "connect", DB, input="select 40 + 2;\n")
    assert "42" in r.stdout


def test_denied_db_user_gets_28000(env):
    env.tsh("db", "login", DB, "--db-user=postgres", "--db-name=app")
    denied = env.tsh.db_env()
    try:
        r = psql(denied, "select 1", check=False)
        assert r.returncode != 0
        assert "postgres" in r.stderr and "denied" in r.stderr, r.stderr
        kind, payload = native_startup(denied, "postgres", "app")
        assert kind == b"E"
        fields = error_fields(payload)
        assert fields["C"] == "28000", fields
        assert fields["S"] == "FATAL"
    finally:
        env.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")


def test_denied_db_name_gets_28000(env):
    env.tsh("db", "login", DB, "--db-user=alice", "--db-name=postgres")
    denied = env.tsh.db_env()
    try:
        r = psql(denied, "select 1", check=False)
        assert r.returncode != 0
        assert "denied" in r.stderr, r.stderr
        kind, payload = native_startup(denied, "alice", "postgres")
        assert kind == b"E" and error_fields(payload)["C"] == "28000"
    finally:
        env.tsh("db", "login", DB, "--db-user=alice", "--db-name=app")


DEV_ROLE = """kind: role
version: v7
metadata:
  name: {name}
spec:
  allow:
    db_labels:
      env: [{env}]
    db_users: ['*']
    db_names: ['*']
"""


def test_denied_by_labels_once_the_role_no_longer_matches(env, tmp_path):
    role = tmp_path / "role.yaml"
    role.write_text(DEV_ROLE.format(name="dev-db", env="dev"))
    env.cluster.tctl("create", "-f", str(role))
    carol = login_user(env.cluster, tmp_path / "carol", name="carol", roles="dev-db")
    carol("db", "login", DB, "--db-user=alice", "--db-name=app")
    carol_env = carol.db_env()
    assert psql(carol_env, "select 5").stdout.strip() == "5"
    # The database is labelled env=dev; the role now only allows env=prod. Her certificate still
    # routes to pg1, so the agent's own RBAC check (roles refreshed within seconds) refuses her.
    role.write_text(DEV_ROLE.format(name="dev-db", env="prod"))
    env.cluster.tctl("create", "--force", "-f", str(role))

    def refused():
        return psql(carol_env, "select 5", check=False).returncode != 0
    wait_until(refused, 10, "the role change to reach the agent")
    kind, payload = native_startup(carol_env, "alice", "app")
    assert kind == b"E"
    fields = error_fields(payload)
    assert fields["C"] == "28000", fields
    assert "denied" in fields["M"], fields


def test_a_wrong_ca_pin_stops_the_join_before_the_token_is_spent(env, tmp_path, pg, pki):
    agent = Agent(env.cluster, tmp_path / "badpin", pg, pki)
    text = agent.config.read_text()
    agent.config.write_text(re.sub(r"sha256:[0-9a-f]+", "sha256:" + "0" * 64, text))
    r = run([binary("teleport"), "start", "-c", str(agent.config)], check=False, env=AGENT_ENV, timeout=60)
    assert r.returncode != 0
    assert "ca_pin" in r.stderr, r.stderr
    token = agent.token_file.read_text().strip()
    assert token in env.cluster.tctl("tokens", "ls", "--format=json").stdout, "the token was never sent"


def test_startup_that_differs_from_the_route_is_refused(env):
    kind, payload = native_startup(env.pg_env, "alice", "postgres")
    assert kind == b"E"
    fields = error_fields(payload)
    assert fields["C"] == "28000" and 'database name "app"' in fields["M"], fields


def test_audit_events_record_start_queries_and_end(env):
    marker = f"select 'audit-{time.time_ns()}'"
    psql(env.pg_env, marker)

    def recorded():
        queries = [e for e in audit_events(env.cluster, "db.session.query") if e.get("db_query") == marker]
        return queries or None
    queries = wait_until(recorded, 15, "the query's audit event")
    sid = queries[0]["sid"]
    q = queries[0]
    assert q["user"] == "alice" and q["db_user"] == "alice" and q["db_name"] == "app"
    assert q["db_service"] == DB and q["db_protocol"] == "postgres" and q["code"] == "TDB02I"

    def session_events():
        starts = [e for e in audit_events(env.cluster, "db.session.start") if e.get("sid") == sid]
        ends = [e for e in audit_events(env.cluster, "db.session.end") if e.get("sid") == sid]
        return (starts, ends) if starts and ends else None
    starts, ends = wait_until(session_events, 15, "the session's start and end events")
    start = starts[0]
    assert start["success"] is True and start["code"] == "TDB00I"
    for field in ("user", "db_service", "db_protocol", "db_uri", "db_user", "db_name", "sid", "time"):
        assert start.get(field), field
    assert start["db_uri"].startswith("127.0.0.1:")

    # A refused session is audited too, with the reason.
    kind, _ = native_startup(env.pg_env, "alice", "postgres")
    assert kind == b"E"

    def refusal():
        failed = [e for e in audit_events(env.cluster, "db.session.start")
                  if e.get("success") is False and e.get("db_name") == "postgres"]
        return failed or None
    failed = wait_until(refusal, 15, "the refused session's db.session.start")
    assert failed[-1]["code"] == "TDB00W" and 'database name "app"' in failed[-1]["error"]
    assert failed[-1]["user"] == "alice"


def sleep_and_cancel(cmd, pg_env):
    """Runs pg_sleep(30), interrupts psql after a second; returns (seconds until psql exits, stderr)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=psql_env(pg_env))
    time.sleep(1.5)
    assert p.poll() is None, p.communicate()
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    return time.monotonic() - start, err


def test_pg_sleep_is_cancelled_from_plain_psql_on_the_native_listener(env):
    elapsed, err = sleep_and_cancel(["psql", "-X", "-c", "select pg_sleep(30)"], env.pg_env)
    assert "canceling statement due to user request" in err, err
    assert elapsed < 2.0


def test_pg_sleep_is_cancelled_through_tsh_proxy_db(env, tmp_path):
    port = free_port()
    local = Process([binary("tsh"), "proxy", "db", DB, "--tunnel", f"--port={port}"], tmp_path / "tsh-proxy.log",
                    env=env.tsh.env)
    try:
        wait_for_port(port, proc=local.proc, log=local.log_path)
        local_env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGSSLMODE": "disable", "PGUSER": "alice",
                     "PGDATABASE": "app"}
        assert psql(local_env, "select 7").stdout.strip() == "7"
        elapsed, err = sleep_and_cancel(["psql", "-X", "-c", "select pg_sleep(30)"], local_env)
        assert "canceling statement due to user request" in err, err
        assert elapsed < 2.0
    finally:
        local.stop()


def test_a_100mb_result_streams_with_bounded_agent_memory(env, tmp_path):
    pid = env.agent.pid
    before = status_kb(pid, "VmRSS")
    out = tmp_path / "result.txt"
    r = subprocess.run(["psql", "-X", "-A", "-t", "-o", str(out), "-c",
                        "select repeat('x', 1000) from generate_series(1, 100000)"],
                       env=psql_env(env.pg_env), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size == 100000 * 1001, "every row arrived (1000 bytes and a newline each)"
    peak = status_kb(pid, "VmHWM")
    growth_mb = (peak - before) / 1024
    print(f"agent RSS before {before} kB, peak {peak} kB, growth {growth_mb:.1f} MB")
    assert growth_mb < 32, f"agent RSS grew by {growth_mb:.1f} MB"


def test_a_killed_agent_is_replaced_by_a_second_agent(tmp_path, pg, pki):
    e = Env(tmp_path, pg, pki)
    second = None
    try:
        second = Agent(e.cluster, tmp_path / "agent2", pg, pki).start().wait_registered()
        assert psql(e.pg_env, "select 1").stdout.strip() == "1"
        e.agent.kill()
        # The dead agent's heartbeat lingers until its TTL; the proxy must skip it anyway.
        for _ in range(5):
            assert psql(e.pg_env, "select 2").stdout.strip() == "2"
    finally:
        if second:
            second.stop()
        e.close()


def test_the_agent_rejoins_a_restarted_proxy_within_10s(tmp_path, pg, pki):
    e = Env(tmp_path, pg, pki)
    try:
        assert psql(e.pg_env, "select 1").stdout.strip() == "1"
        e.cluster.stop()
        time.sleep(1)
        e.cluster.start()
        start = time.monotonic()

        def works():
            return psql(e.pg_env, "select 3", check=False, timeout=10).stdout.strip() == "3"
        wait_until(works, 10, "a query through the restarted proxy", interval=0.2)
        assert time.monotonic() - start < 10
        assert e.agent.log().count("joined the cluster") == 1, "the agent keeps its identity: no second join"
    finally:
        e.close()


def test_audit_events_survive_an_auth_outage_through_the_spool(tmp_path, pg, pki):
    e = Env(tmp_path, pg, pki)
    try:
        p = subprocess.Popen(["psql", "-X", "-c", "select pg_sleep(20)"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=psql_env(e.pg_env))
        sids = wait_until(lambda: re.findall(r"session started .* sid=(\S+)", e.agent.log()), 10,
                          "the session to start")
        sid = sids[-1]
        # The cluster goes away mid-session: the session ends, and its end event cannot be uploaded.
        e.cluster.stop()
        p.communicate(timeout=10)
        spool = e.agent.data_dir / "db" / "spool"
        wait_until(lambda: list(spool.glob("*.jsonl")), 15, "the end event in the agent's spool")
        e.cluster.start()

        def replayed():
            return [ev for ev in audit_events(e.cluster, "db.session.end") if ev.get("sid") == sid]
        ends = wait_until(replayed, 20, "the spooled end event to reach the Auth Service")
        assert ends[0]["user"] == "alice"
        wait_until(lambda: not list(spool.glob("*.jsonl")), 10, "the spool to drain")
    finally:
        e.close()


def test_an_all_in_one_process_serves_its_database(tmp_path, pg, pki, monkeypatch):
    monkeypatch.setenv("TELEPORT_DB_PASSWORD_PG1", UPSTREAM_PASSWORD)
    extra = f"""db_service:
  enabled: yes
  databases:
  - name: {DB}
    protocol: postgres
    uri: 127.0.0.1:{pg.port}
    static_labels: {{env: dev}}
    tls:
      ca_cert_file: {pki.ca_cert}
"""
    cluster = Cluster(tmp_path, proxy=True, extra_yaml=extra).start()
    try:
        def registered():
            return DB in cluster.tctl("get", "db_servers", "--format=json").stdout
        wait_until(registered, 15, "the in-process agent's heartbeat")
        tsh = login_user(cluster, tmp_path / "tsh")
        tsh("db", "login", DB, "--db-user=alice", "--db-name=app")
        assert psql(tsh.db_env(), "select 'aio'").stdout.strip() == "aio"
    finally:
        cluster.stop()


def test_sigterm_unregisters_the_agents_database(tmp_path, pg, pki):
    e = Env(tmp_path, pg, pki)
    try:
        host_id = e.agent.host_id
        e.agent.stop()
        servers = json.loads(e.cluster.tctl("get", "db_servers", "--format=json").stdout or "[]")
        assert host_id not in [s["spec"]["host_id"] for s in servers]
        assert "Database Service stopped" in e.agent.log()
    finally:
        e.close()


def test_a_burst_of_new_sessions_all_connect(env):
    # More simultaneous sessions than the agent keeps tunnel connections (4): they are streams over
    # those connections, so all connect and the agent dials no connection for them (the proxy logs
    # each tunnel connection that joins, at debug level).
    joined = "agent connection joined the reverse tunnel"
    before = env.cluster.process.output().count(joined)
    assert before > 0
    procs = [subprocess.Popen(["psql", "-X", "-A", "-t", "-c", f"select {i}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=psql_env(env.pg_env)) for i in range(16)]
    outs = [p.communicate(timeout=60) for p in procs]
    failures = [err for (out, err), p in zip(outs, procs) if p.returncode != 0]
    assert not failures, failures[:3]
    assert sorted(int(out.strip()) for out, _ in outs) == list(range(16))
    assert env.cluster.process.output().count(joined) == before


def test_sessions_on_several_event_loops(tmp_path, pg, pki):
    # teleport.io_threads: 3 in both processes (more loops than this machine's CPUs): the proxy
    # spreads the agent's tunnel connections over its three loops and each session opens its stream
    # on a connection of its own loop; every session must still work, at once and one after another.
    loops = "  io_threads: 3\n"
    (tmp_path / "cluster").mkdir()
    cluster = Cluster(tmp_path / "cluster", proxy=True, teleport_yaml=loops).start()
    agent = Agent(cluster, tmp_path / "agent", pg, pki)
    agent.config.write_text(agent.config.read_text().replace("teleport:\n", "teleport:\n" + loops, 1))
    assert loops in agent.config.read_text()
    try:
        agent.start().wait_registered()
        tsh = login_user(cluster, tmp_path / "tsh")
        tsh("db", "login", DB, "--db-user=alice", "--db-name=app")
        procs = [subprocess.Popen(["psql", "-X", "-A", "-t", "-c", f"select {i}"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=psql_env(tsh.db_env())) for i in range(9)]
        outs = [p.communicate(timeout=60) for p in procs]
        assert not [err for (_, err), p in zip(outs, procs) if p.returncode != 0]
        assert sorted(int(out.strip()) for out, _ in outs) == list(range(9))
        for i in range(6):
            assert psql(tsh.db_env(), f"select {i} + 100").stdout.strip() == str(i + 100)
        for pid in (cluster.process.proc.pid, agent.pid):
            assert len(os.listdir(f"/proc/{pid}/task")) >= 3  # the three loops' threads at least
    finally:
        agent.stop()
        cluster.stop()
