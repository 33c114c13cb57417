"""Issue 3, end to end: the Proxy Service's web port (HTTPS API, invite page, TLS routing by ALPN) and
its native PostgreSQL listener, driven with curl, jq, psql and raw sockets. No Database Service runs
here: routed connections end at the proxy's "no Database Service ... is connected" error, which is
exactly what proves the routing reached the right database and protocol.
"""
import json
import socket
import ssl
import struct
import subprocess

import pytest

from conftest import binary, run
from proxy_support import (PASSWORD, ProxyCluster, read_mysql_packet, read_pg_error, recv_exact,
                                startup_message)


@pytest.fixture
def cluster(tmp_path):
    c = ProxyCluster(tmp_path).start()
    yield c
    c.stop()


def shell(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30)


def psql(conninfo, sql="select 1"):
    env = {"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"}
    return subprocess.run(["psql", "-X", conninfo, "-c", sql], capture_output=True, text=True, env=env, timeout=30)


def test_find_and_ping_over_https_like_the_guide(cluster):
    version = run([binary("teleport"), "version"]).stdout
    domain = cluster.web_addr
    # The guide: TELEPORT_VERSION="$(curl -s https://$TELEPORT_DOMAIN/v1/webapi/find | jq -r '.server_version')"
    r = shell(f"curl -sk https://{domain}/v1/webapi/find | jq -r '.server_version'")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() and r.stdout.strip() in version
    for path in ("find", "ping"):
        r = shell(f"curl -sk https://{domain}/v1/webapi/{path}")
        j = json.loads(r.stdout)
        assert j["cluster_name"] == "e2e.test"
        assert j["proxy"]["public_addr"] == domain
        assert j["proxy"]["postgres_listen_addr"] == f"localhost:{cluster.postgres_port}"
        assert j["proxy"]["mysql_listen_addr"] == f"localhost:{cluster.mysql_port}"
        assert j["proxy"]["tls_routing_enabled"] is True
        assert j["auth"]["second_factor"] == "off"


def test_invite_page_sets_the_password_from_a_browser_form(cluster):
    token = cluster.invite("bob")
    page = shell(f"curl -sk https://{cluster.web_addr}/web/invite/{token}")
    assert f'action="/v1/webapi/users/invite/{token}"' in page.stdout
    assert 'type="password"' in page.stdout
    # What the browser posts: application/x-www-form-urlencoded.
    done = shell(f"curl -sk https://{cluster.web_addr}/v1/webapi/users/invite/{token} "
                 f"--data-urlencode 'password={PASSWORD}' --data-urlencode 'password_confirm={PASSWORD}'")
    assert "Password set" in done.stdout, done.stdout
    assert f"tsh login --proxy={cluster.web_addr} --user=bob" in done.stdout
    # The invite is used up; the password works.
    again = shell(f"curl -sk https://{cluster.web_addr}/v1/webapi/users/invite/{token} "
                  f"--data-urlencode 'password={PASSWORD}'")
    assert "Password not set" in again.stdout
    assert "Logged in as:       bob" in cluster.login("bob").stdout


def test_malformed_requests_get_clear_errors(cluster):
    status, body = cluster.web("POST", "/v1/webapi/login", {"user": 5})
    assert status == 400 and "user: must be a string" in body
    status, body = cluster.web("GET", "/v1/webapi/databases")
    assert status == 401 and "tsh login" in body
    status, body = cluster.web("POST", "/v1/webapi/host/join", {"token": "nope", "host_id": "h1", "role": "Db"})
    assert status == 403 and "tctl tokens add" in body


def db_login(cluster, user, db, protocol):
    cluster.register_db(db, protocol)
    cluster.add_user(user)
    cluster.login(user)
    cluster.tsh("db", "login", db, f"--db-user={user}")
    return cluster.db_cert_path(user, db), cluster.key_path(user)


def test_alpn_teleport_postgres_routes_by_the_certificate(cluster):
    cert, key = db_login(cluster, "alice", "pgdb", "postgres")
    with cluster.web_tls("teleport-postgres", cert, key) as s:
        assert s.selected_alpn_protocol() == "teleport-postgres"
        s.sendall(startup_message("alice", "postgres"))
        err = read_pg_error(s)
    assert err["S"] == "FATAL"
    assert 'no Database Service for "pgdb" is connected' in err["M"]
    # Without a certificate: a PostgreSQL error that says what to run.
    with cluster.web_tls("teleport-postgres") as s:
        s.sendall(startup_message("alice", "postgres"))
        err = read_pg_error(s)
    assert err["C"] == "28000" and "tsh login" in err["M"] and "tsh db login" in err["M"]


def test_alpn_teleport_mysql_answers_in_mysql(cluster):
    cert, key = db_login(cluster, "alice", "mydb", "mysql")
    with cluster.web_tls("teleport-mysql", cert, key) as s:
        assert s.selected_alpn_protocol() == "teleport-mysql"
        seq, payload = read_mysql_packet(s)
    assert seq == 0 and payload[0] == 0xFF, payload
    assert b'no Database Service for "mydb" is connected' in payload
    # A MySQL certificate on the PostgreSQL route is refused in PostgreSQL's words.
    with cluster.web_tls("teleport-postgres", cert, key) as s:
        s.sendall(startup_message("alice", "x"))
        err = read_pg_error(s)
    assert "speaks mysql" in err["M"]


def test_alpn_teleport_auth_serves_the_auth_api(cluster):
    admin = cluster.data_dir / "admin"
    with cluster.web_tls("teleport-auth", admin / "cert.pem", admin / "key.pem") as s:
        assert s.selected_alpn_protocol() == "teleport-auth"
        s.sendall(b"GET /v1/cluster HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(body)["cluster_name"] == "e2e.test"


def test_alpn_reverse_tunnel_refuses_a_user_certificate(cluster):
    cert, key = db_login(cluster, "alice", "pgdb", "postgres")
    with cluster.web_tls("teleport-reversetunnel", cert, key) as s:
        assert s.selected_alpn_protocol() == "teleport-reversetunnel"
        s.settimeout(5)
        try:
            assert s.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            pass
    assert "reverse tunnel refused" in cluster.process.output()


def test_native_postgres_listener_explains_every_refusal(cluster):
    cert, key = db_login(cluster, "alice", "pgdb", "postgres")
    base = f"host=localhost port={cluster.postgres_port} user=alice dbname=postgres"
    # psql without a certificate: the FATAL error names tsh login / tsh db login.
    r = psql(base + " sslmode=require")
    assert r.returncode != 0
    assert "FATAL" in r.stderr and "tsh login" in r.stderr and "tsh db login" in r.stderr, r.stderr
    # psql without TLS.
    r = psql(base + " sslmode=disable")
    assert "only over TLS" in r.stderr and "tsh db config" in r.stderr, r.stderr
    # psql with the database certificate, verifying the proxy: routed, and no agent serves pgdb.
    ca = cluster.home / "keys" / "localhost" / "cas" / "e2e.test.pem"
    r = psql(base + f" sslmode=verify-full sslrootcert={ca} sslcert={cert} sslkey={key}")
    assert 'FATAL:  no Database Service for "pgdb" is connected' in r.stderr, r.stderr


def test_native_postgres_listener_gssenc_then_ssl_and_plain_cancel(cluster):
    with socket.create_connection(("127.0.0.1", cluster.postgres_port), timeout=10) as s:
        s.sendall(struct.pack("!II", 8, 80877104))  # GSSENCRequest
        assert recv_exact(s, 1) == b"N"
        s.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
        assert recv_exact(s, 1) == b"S"
    # A plain CancelRequest (what psql sends on Ctrl+C) is taken and the connection closed.
    with socket.create_connection(("127.0.0.1", cluster.postgres_port), timeout=10) as s:
        s.sendall(struct.pack("!IIii", 16, 80877102, 1234, 5678))
        assert s.recv(1) == b""
    # Garbage gets a protocol error, not a silent close.
    with socket.create_connection(("127.0.0.1", cluster.postgres_port), timeout=10) as s:
        s.sendall(struct.pack("!II", 8, 12345))
        assert read_pg_error(s)["S"] == "FATAL"


def test_tunnel_listener_takes_only_agent_host_certificates(tmp_path):
    from conftest import free_port
    port = free_port()
    # Appended right after the proxy_service block, so it belongs to it.
    c = ProxyCluster(tmp_path, extra_yaml=f"  tunnel_listen_addr: 127.0.0.1:{port}\n").start()
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        # No client certificate: the handshake itself fails.
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as s:
                s.sendall(b"x")
                s.recv(1)
        # A host certificate of another role (the admin identity) is verified, then refused.
        admin = c.data_dir / "admin"
        ctx.load_cert_chain(str(admin / "cert.pem"), str(admin / "key.pem"))
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as s:
            try:
                assert s.recv(1) == b""
            except (ConnectionResetError, ssl.SSLError):
                pass
        assert "reverse tunnel refused" in c.process.output()
        assert "is not a Db host certificate" in c.process.output()
    finally:
        c.stop()
