"""Issue 3, end to end: tsh db ls / login / logout / config / env / connect and tsh proxy db, up to the
proxy's routing (no Database Service runs here, so a routed connection ends with the proxy's "no
Database Service ... is connected" error in the client's own protocol). Sessions through a real
agent are covered by test_db_postgres.py and test_mysql_engine.py.
"""
import json
import subprocess
import time

import pytest

from conftest import Process, binary, free_port, wait_for_port
from proxy_support import ProxyCluster


@pytest.fixture
def cluster(tmp_path):
    c = ProxyCluster(tmp_path).start()
    yield c
    c.stop()


def psql(conninfo, sql="select 1"):
    env = {"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"}
    return subprocess.run(["psql", "-X", conninfo, "-c", sql], capture_output=True, text=True, env=env, timeout=30)


@pytest.fixture
def alice(cluster):
    cluster.register_db("pgdb", "postgres", {"env": "dev"})
    cluster.register_db("mydb", "mysql", {"env": "dev"})
    cluster.add_user("alice", db_users="alice", db_names="postgres")
    cluster.login("alice")
    return cluster


def test_db_ls_lists_what_the_roles_allow(cluster, tmp_path):
    cluster.register_db("devdb", "postgres", {"env": "dev"})
    cluster.register_db("proddb", "postgres", {"env": "prod"})
    role = tmp_path / "dev.yaml"
    role.write_text("kind: role\nversion: v7\nmetadata: {name: dev-only}\n"
                    "spec: {allow: {db_labels: {env: dev}, db_users: ['*']}}\n")
    cluster.tctl("create", "-f", str(role))
    cluster.add_user("dana", roles="dev-only")
    cluster.login("dana")
    text = cluster.tsh("db", "ls").stdout
    assert "devdb" in text and "postgres" in text and "env=dev" in text
    assert "proddb" not in text
    dbs = json.loads(cluster.tsh("db", "ls", "--format=json").stdout)
    assert dbs == [{"name": "devdb", "description": "postgres test database", "protocol": "postgres",
                    "labels": {"env": "dev"}}]


def test_db_login_config_env_logout(alice):
    out = alice.tsh("db", "login", "pgdb", "--db-user=alice", "--db-name=postgres").stdout
    assert 'Connection information for database "pgdb" has been saved' in out
    assert "> pgdb" in alice.tsh("db", "ls").stdout
    assert "pgdb (user: alice, database: postgres)" in alice.tsh("status").stdout

    config = alice.tsh("db", "config", "pgdb").stdout
    fields = dict(line.split(":", 1) for line in config.splitlines() if line[:1].isupper() and ":" in line
                  and not line.startswith("Connect"))
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    assert fields["Host"] == "localhost" and fields["Port"] == str(alice.postgres_port)
    assert fields["User"] == "alice" and fields["Database"] == "postgres"
    assert fields["Cert"] == str(alice.db_cert_path("alice", "pgdb"))
    assert fields["Key"] == str(alice.key_path("alice"))
    cmd = alice.tsh("db", "config", "pgdb", "--format=cmd").stdout.strip()
    assert cmd.startswith('psql "host=localhost') and "sslmode=verify-full" in cmd

    env = dict(line[len("export "):].split("=", 1) for line in alice.tsh("db", "env").stdout.splitlines())
    assert env["PGHOST"] == "localhost" and env["PGPORT"] == str(alice.postgres_port)
    assert env["PGSSLMODE"] == "verify-full" and env["PGUSER"] == "alice" and env["PGDATABASE"] == "postgres"
    # The printed settings reach the proxy, which routes to pgdb.
    r = psql(" ".join(f"{k}={v}" for k, v in [("host", env["PGHOST"]), ("port", env["PGPORT"]),
                                                 ("sslmode", "verify-full"), ("sslrootcert", env["PGSSLROOTCERT"]),
                                                 ("sslcert", env["PGSSLCERT"]), ("sslkey", env["PGSSLKEY"]),
                                                 ("user", "alice"), ("dbname", "postgres")]))
    assert 'no Database Service for "pgdb" is connected' in r.stderr, r.stderr

    assert "Logged out of database pgdb" in alice.tsh("db", "logout", "pgdb").stdout
    r = alice.tsh("db", "config", "pgdb", check=False)
    assert r.returncode == 1 and "tsh db login pgdb" in r.stderr


def test_db_login_errors(alice):
    r = alice.tsh("db", "login", "nosuchdb", "--db-user=alice", check=False)
    assert r.returncode == 1 and 'database "nosuchdb" not found' in r.stderr
    alice.tsh("logout")
    r = alice.tsh("db", "login", "pgdb", check=False)
    assert r.returncode == 1 and "not logged in" in r.stderr and "tsh login --proxy=" in r.stderr


def test_a_certificate_from_another_authority_is_refused(alice, tmp_path):
    # The proxy leaves chain checks out of the TLS handshake and checks every client certificate
    # against the cluster's CAs afterwards: alice's own database certificate, identity and all,
    # re-signed by her own key instead of the user CA (so the handshake's proof of possession
    # passes), must still be refused, in PostgreSQL's protocol.
    alice.tsh("db", "login", "pgdb", "--db-user=alice", "--db-name=postgres")
    forged = tmp_path / "forged.pem"
    subprocess.run(["openssl", "x509", "-in", str(alice.db_cert_path("alice", "pgdb")),
                    "-signkey", str(alice.key_path("alice")), "-days", "1", "-out", str(forged)],
                   check=True, capture_output=True)
    env = dict(line[len("export "):].split("=", 1) for line in alice.tsh("db", "env").stdout.splitlines())
    r = psql(f"host=localhost port={alice.postgres_port} sslmode=verify-full sslrootcert={env['PGSSLROOTCERT']} "
             f"sslcert={forged} sslkey={alice.key_path('alice')} user=alice dbname=postgres")
    assert r.returncode == 2, r
    assert "not issued by this cluster" in r.stderr, r.stderr


def test_db_connect_runs_psql_through_the_native_listener(alice):
    r = alice.tsh("db", "connect", "pgdb", "--db-user=alice", "--db-name=postgres", check=False, input="")
    assert r.returncode == 2, r
    assert "psql: error" in r.stderr and 'no Database Service for "pgdb" is connected' in r.stderr


def test_db_connect_without_a_native_listener_uses_an_automatic_local_tunnel(tmp_path):
    c = ProxyCluster(tmp_path, mysql_listener=False).start()
    try:
        c.register_db("mydb", "mysql")
        c.add_user("alice")
        c.login("alice")
        assert "mysql_proxy_addr: ''" in (c.home / "localhost.yaml").read_text()
        r = c.tsh("db", "connect", "mydb", "--db-user=alice", check=False, input="")
        assert r.returncode == 1, r
        assert 'ERROR 1105 (HY000): no Database Service for "mydb" is connected' in r.stderr, r.stderr
        config = c.tsh("db", "config", "mydb").stdout
        assert "tsh proxy db mydb --tunnel" in config
    finally:
        c.stop()


def start_local_proxy(cluster, tmp_path, *args):
    port = free_port()
    p = Process([binary("tsh"), "proxy", "db", *args, f"--port={port}"], tmp_path / f"proxy-{port}.log",
                env={"TELEPORT_HOME": str(cluster.home)})
    wait_for_port(port, proc=p.proc, log=p.log_path)
    return p, port


def test_proxy_db_tunnel_and_plain(alice, tmp_path):
    alice.tsh("db", "login", "pgdb", "--db-user=alice", "--db-name=postgres")
    tunnel, port = start_local_proxy(alice, tmp_path, "pgdb", "--tunnel")
    plain, plain_port = start_local_proxy(alice, tmp_path, "pgdb")
    try:
        # --tunnel: the local client needs no certificate and no TLS.
        r = psql(f"host=127.0.0.1 port={port} sslmode=disable user=alice dbname=postgres")
        assert 'no Database Service for "pgdb" is connected' in r.stderr, r.stderr
        # Without --tunnel the client brings its certificate and TLS; without them it is told what to run.
        r = psql(f"host=127.0.0.1 port={plain_port} sslmode=disable user=alice dbname=postgres")
        assert "no client certificate" in r.stderr, r.stderr
        cfg = alice.tsh("db", "config", "pgdb").stdout
        ca = next(line.split()[1] for line in cfg.splitlines() if line.startswith("CA:"))
        r = psql(f"host=localhost port={plain_port} sslmode=verify-full sslrootcert={ca} "
                 f"sslcert={alice.db_cert_path('alice', 'pgdb')} sslkey={alice.key_path('alice')} "
                 "user=alice dbname=postgres")
        assert 'no Database Service for "pgdb" is connected' in r.stderr, r.stderr
        assert "Started authenticated tunnel" in tunnel.output()
    finally:
        tunnel.stop()
        plain.stop()


def test_proxy_db_tunnel_renews_an_expired_database_certificate(cluster, tmp_path):
    role = tmp_path / "short.yaml"
    role.write_text("kind: role\nversion: v7\nmetadata: {name: short}\n"
                    "spec: {options: {max_session_ttl: 4s}, allow: {db_labels: {'*': '*'}, db_users: ['*']}}\n")
    cluster.tctl("create", "-f", str(role))
    cluster.register_db("pgdb")
    cluster.add_user("eve", roles="short")
    cluster.login("eve")
    cluster.tsh("db", "login", "pgdb", "--db-user=eve")
    tunnel, port = start_local_proxy(cluster, tmp_path, "pgdb", "--tunnel")
    try:
        time.sleep(4.5)
        conninfo = f"host=127.0.0.1 port={port} sslmode=disable user=eve dbname=postgres"
        # Both certificates expired: the local proxy cannot renew and says what to run.
        r = psql(conninfo)
        assert "renewing the certificate" in r.stderr and "tsh login" in r.stderr, r.stderr
        # After a new login the running local proxy renews the database certificate by itself.
        cluster.login("eve")
        r = psql(conninfo)
        assert 'no Database Service for "pgdb" is connected' in r.stderr, r.stderr
        assert "renewed the database certificate" in tunnel.output()
    finally:
        tunnel.stop()
