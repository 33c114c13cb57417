"""Issue 3, end to end: tsh login / status / logout / users set-password against a real cluster,
password checks and lockout, how tsh trusts the proxy, and certificate expiry (a role whose
max_session_ttl is a few seconds).
"""
import re
import time

import pytest

from fixtures import proc
from proxy_support import PASSWORD, ProxyCluster, read_pg_error, startup_message


@pytest.fixture
def cluster(tmp_path):
    c = ProxyCluster(tmp_path).start()
    yield c
    c.stop()


def test_login_status_logout(cluster):
    cluster.add_user("alice", db_users="alice,readonly", db_names="app,postgres")
    out = cluster.login("alice")
    assert "WARNING" in out.stderr and "insecure" in out.stderr
    status = cluster.tsh("status").stdout
    assert f"> Profile URL:        https://{cluster.web_addr}" in status
    assert "Logged in as:       alice" in status
    assert "Cluster:            e2e.test" in status
    assert "Roles:              access" in status
    assert "Database users:     alice, readonly" in status
    assert "Database names:     app, postgres" in status
    m = re.search(r"Valid until:\s+(\S+) \[valid for (\S+)\]", status)
    assert m and m.group(2).startswith(("11h", "12h")), status
    # Key, certificate and CA where the reference keeps them.
    keys = cluster.home / "keys" / "localhost"
    assert (keys / "alice").stat().st_mode & 0o077 == 0
    assert (keys / "alice-x509.pem").exists() and (keys / "cas" / "e2e.test.pem").exists()
    assert (cluster.home / "current-profile").read_text().strip() == "localhost"

    out = cluster.tsh("logout").stdout
    assert "Logged out alice" in out
    assert not (keys / "alice").exists()
    r = cluster.tsh("status", check=False)
    assert r.returncode == 1 and "not logged in" in r.stderr and "tsh login --proxy=" in r.stderr


def test_wrong_password_then_lockout_after_five_failures(cluster):
    cluster.add_user("alice")
    for _ in range(5):
        r = cluster.login("alice", password="not the password", check=False)
        assert r.returncode == 1
        assert "invalid user name or password" in r.stderr, r.stderr
    r = cluster.login("alice", check=False)
    assert r.returncode == 1
    assert "locked" in r.stderr and "tctl users reset alice" in r.stderr, r.stderr
    # An administrator's reset lifts the lock (with a new invite).
    token = re.search(r"/web/invite/([0-9a-f]+)", cluster.tctl("users", "reset", "alice").stdout).group(1)
    cluster.tsh("users", "set-password", f"--invite={token}", f"--proxy={cluster.web_addr}", "--insecure",
                input="a brand new password\n")
    assert "Logged in as:       alice" in cluster.login("alice", password="a brand new password").stdout


def test_unknown_user_looks_like_a_wrong_password(cluster):
    r = cluster.login("mallory", check=False)
    assert r.returncode == 1 and "invalid user name or password" in r.stderr


def test_tsh_completes_an_invite(cluster):
    token = cluster.invite("carol")
    r = cluster.tsh("users", "set-password", f"--invite={token}", f"--proxy={cluster.web_addr}", "--insecure",
                    input=PASSWORD + "\n")
    assert "Password set for user carol" in r.stdout
    r = cluster.tsh("users", "set-password", f"--invite={token}", f"--proxy={cluster.web_addr}", "--insecure",
                    input=PASSWORD + "\n", check=False)
    assert r.returncode == 1 and "unknown or has expired" in r.stderr
    short = cluster.invite("dave")
    r = cluster.tsh("users", "set-password", f"--invite={short}", f"--proxy={cluster.web_addr}", "--insecure",
                    input="x\n", check=False)
    assert r.returncode == 1 and "password" in r.stderr.lower()


def test_login_verifies_the_proxy_unless_told_otherwise(cluster):
    cluster.add_user("alice")
    # The cluster's self-signed CA is not in the system's roots.
    r = cluster.tsh("login", f"--proxy={cluster.web_addr}", "--user=alice", input=PASSWORD + "\n", check=False)
    assert r.returncode == 1
    assert "--insecure" in r.stderr and "--ca-pin" in r.stderr, r.stderr
    # A wrong pin is refused before any password is sent.
    r = cluster.tsh("login", f"--proxy={cluster.web_addr}", "--user=alice", "--ca-pin=sha256:" + "0" * 64,
                    input=PASSWORD + "\n", check=False)
    assert r.returncode == 1 and "does not match --ca-pin" in r.stderr
    # The right pin (tctl status prints it) makes tsh trust the cluster's CA from then on.
    pin = re.search(r"sha256:[0-9a-f]{64}", cluster.tctl("status").stdout).group(0)
    r = cluster.tsh("login", f"--proxy={cluster.web_addr}", "--user=alice", f"--ca-pin={pin}", input=PASSWORD + "\n")
    assert "WARNING" not in r.stderr
    assert "trust: host_ca" in (cluster.home / "localhost.yaml").read_text()
    cluster.tsh("db", "ls")  # verified against the stored CA, no --insecure


SHORT_ROLE = """kind: role
version: v7
metadata:
  name: short
spec:
  options:
    max_session_ttl: TTL
  allow:
    db_labels: {'*': '*'}
    db_users: ['{{internal.db_users}}']
    db_names: ['{{internal.db_names}}']
"""


def test_certificate_expiry_is_honoured(cluster, tmp_path):
    # eve's certificates must outlive `tsh login` and `tsh db login`, then expire while the test
    # waits. A few seconds is plenty on an idle machine, but a busy one (a parallel ctest run) can
    # take longer than that from the login to the database certificate; then the role's limit
    # doubles and eve logs in again.
    ttl = 3
    role = tmp_path / "short.yaml"
    role.write_text(SHORT_ROLE.replace("TTL", f"{ttl}s"))
    cluster.tctl("create", "-f", str(role))
    cluster.register_db("pgdb")
    cluster.add_user("eve", roles="short", db_users="eve", db_names="postgres")
    while True:
        login = cluster.login("eve").stdout
        assert "Roles:              short" in login
        if "[valid for" in login:
            r = cluster.tsh("db", "login", "pgdb", check=False)
            if r.returncode == 0:
                break
            assert "expired" in r.stderr, r.stderr  # the only acceptable reason: too slow for the TTL
        else:
            assert "[EXPIRED]" in login, login
        assert ttl < 96, f"eve's {ttl}s certificate expired before 'tsh db login' got hers:\n{login}"
        ttl *= 2
        role.write_text(SHORT_ROLE.replace("TTL", f"{ttl}s"))
        cluster.tctl("create", "-f", str(role), "--force")

    # Both certificates expire at the end of eve's session (the database one never outlives it).
    def expired_status():
        out = cluster.tsh("status").stdout
        return out if "[EXPIRED]" in out else None

    status = proc.wait_for(expired_status, ttl + 60, "tsh status shows eve's certificate [EXPIRED]", interval=0.2)
    assert "[EXPIRED]" in status and "pgdb (user: eve, database: postgres, EXPIRED)" in status
    assert "run 'tsh login" in status
    r = cluster.tsh("db", "ls", check=False)
    assert r.returncode == 1 and "expired" in r.stderr and "tsh login" in r.stderr
    # The proxy itself refuses the expired certificate, saying why.
    status_code, body = cluster.web("GET", "/v1/webapi/databases", cert=str(cluster.cert_path("eve")),
                                    key=str(cluster.key_path("eve")))
    assert status_code == 401 and "certificate expired at" in body, body
    # And so does the database route, in PostgreSQL's words.
    with cluster.web_tls("teleport-postgres", cluster.db_cert_path("eve", "pgdb"), cluster.key_path("eve")) as s:
        s.sendall(startup_message("eve", "postgres"))
        err = read_pg_error(s)
    assert "certificate expired at" in err["M"] and "tsh login" in err["M"]
