"""Guide steps 1 and 2 against a real `teleport start` (auth only): every tctl
command, through the admin identity the Auth Service writes on first start."""
import json
import re
import time

from conftest import Cluster, binary, run


def test_status_prints_cluster_version_and_ca_pin(cluster):
    out = cluster.tctl("status").stdout
    assert re.search(r"^Cluster\s+e2e\.test$", out, re.M), out
    assert re.search(r"^Version\s+\d+\.\d+\.\d+$", out, re.M), out
    assert re.search(r"^CA pin\s+sha256:[0-9a-f]{64}$", out, re.M), out


def test_users_add_ls_reset_rm(cluster):
    out = cluster.tctl("users", "add", "alice", "--roles=access", "--db-users=alice,readonly", "--db-names=postgres,*").stdout
    assert 'User "alice" has been created' in out
    assert re.search(r"https://localhost:\d+/web/invite/[0-9a-f]{32}", out), out

    listed = cluster.tctl("users", "ls").stdout
    assert re.search(r"^alice\s+access\s+alice,readonly\s+postgres,\*$", listed, re.M), listed

    as_json = json.loads(cluster.tctl("users", "ls", "--format=json").stdout)
    assert as_json[0]["metadata"]["name"] == "alice"
    assert as_json[0]["spec"]["traits"]["db_users"] == ["alice", "readonly"]
    assert "secrets" not in as_json[0]

    reset = cluster.tctl("users", "reset", "alice").stdout
    assert 'User "alice" has been reset' in reset

    dup = cluster.tctl("users", "add", "alice", "--roles=access", check=False)
    assert dup.returncode != 0
    assert "already exists" in dup.stderr

    assert 'User "alice" has been deleted' in cluster.tctl("users", "rm", "alice").stdout
    missing = cluster.tctl("users", "rm", "alice", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_users_add_with_unknown_role_fails_clearly(cluster):
    r = cluster.tctl("users", "add", "bob", "--roles=nosuch", check=False)
    assert r.returncode == 1
    assert r.stderr.startswith("ERROR: ")
    assert 'role "nosuch" does not exist' in r.stderr
    assert r.stderr.count("\n") == 1  # one clear line


def test_tokens_add_ls_rm(cluster):
    out = cluster.tctl("tokens", "add", "--type=db").stdout
    token = re.search(r"The invite token: ([0-9a-f]{32})", out).group(1)
    assert "This token will expire in 30m0s." in out

    listed = cluster.tctl("tokens", "ls").stdout
    lines = listed.splitlines()
    assert re.match(r"^Token\s+Type\s+Labels\s+Expiry Time \(UTC\)$", lines[0]), listed
    assert re.match(r"^-+ -+ -+ -+$", lines[1]), listed
    row = next(l for l in lines if l.startswith(token))
    assert re.search(r"\sDb\s", row)
    assert re.search(r"\d{2} \w{3} \d{2} \d{2}:\d{2} UTC \((29m\d+s|30m0s)\)$", row), row

    labelled = cluster.tctl("tokens", "add", "--type=db", "--ttl=5m", "--labels=env=dev", "--format=json").stdout
    doc = json.loads(labelled)
    assert doc["spec"]["labels"] == {"env": "dev"}

    assert "has been deleted" in cluster.tctl("tokens", "rm", token).stdout
    assert token not in cluster.tctl("tokens", "ls").stdout


def test_token_errors(cluster):
    bad = cluster.tctl("tokens", "add", "--type=bogus", check=False)
    assert bad.returncode == 1 and 'unknown token type "bogus"' in bad.stderr
    bad_ttl = cluster.tctl("tokens", "add", "--type=db", "--ttl=soon", check=False)
    assert bad_ttl.returncode == 1 and "--ttl" in bad_ttl.stderr
    missing = cluster.tctl("tokens", "rm", "0" * 32, check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_expired_token_disappears(cluster):
    out = cluster.tctl("tokens", "add", "--type=db", "--ttl=1s").stdout
    token = re.search(r"The invite token: ([0-9a-f]{32})", out).group(1)
    time.sleep(2.2)
    assert token not in cluster.tctl("tokens", "ls").stdout


def test_create_get_rm_roles(cluster, tmp_path):
    role = tmp_path / "role.yaml"
    role.write_text("""kind: role
version: v7
metadata:
  name: db-reader
spec:
  options:
    max_session_ttl: 8h
  allow:
    db_labels:
      env: [dev, staging]
    db_users: ['{{internal.db_users}}', readonly]
    db_names: ['*']
  deny:
    db_names: [payroll]
""")
    assert 'role "db-reader" has been created' in cluster.tctl("create", "-f", str(role)).stdout
    again = cluster.tctl("create", "-f", str(role), check=False)
    assert again.returncode == 1 and "--force" in again.stderr
    cluster.tctl("create", "--force", "-f", str(role))

    got = cluster.tctl("get", "role/db-reader").stdout
    assert "name: db-reader" in got and "max_session_ttl: 8h" in got and "payroll" in got
    as_json = json.loads(cluster.tctl("get", "roles", "--format=json").stdout)
    names = {r["metadata"]["name"] for r in as_json}
    assert {"access", "editor", "auditor", "db-reader"} <= names

    cluster.tctl("users", "add", "carol", "--roles=db-reader")
    assert "deleted" in cluster.tctl("rm", "role/db-reader").stdout
    gone = cluster.tctl("get", "role/db-reader", check=False)
    assert gone.returncode == 1 and "not found" in gone.stderr
    builtin = cluster.tctl("rm", "role/access", check=False)
    assert builtin.returncode == 1 and "built in" in builtin.stderr


def test_malformed_yaml_names_the_problem(cluster, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: role\nmetadata: {name: x\n")
    r = cluster.tctl("create", "-f", str(broken), check=False)
    assert r.returncode == 1 and "line" in r.stderr

    typo = tmp_path / "typo.yaml"
    typo.write_text("kind: role\nversion: v7\nmetadata: {name: x}\nspec:\n  allow:\n    db_userz: [a]\n")
    r = cluster.tctl("create", "-f", str(typo), check=False)
    assert r.returncode == 1 and "spec.allow.db_userz" in r.stderr

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("kind: spaceship\nmetadata: {name: x}\n")
    r = cluster.tctl("create", "-f", str(unknown), check=False)
    assert r.returncode == 1 and '"spaceship"' in r.stderr


def test_audit_events_record_admin_actions(cluster):
    cluster.tctl("users", "add", "dave", "--roles=access")
    cluster.tctl("tokens", "add", "--type=db")
    events = [json.loads(l) for l in cluster.tctl("audit", "events", "--format=json").stdout.splitlines()]
    types = [e["event"] for e in events]
    assert "user.create" in types and "join_token.create" in types
    create = next(e for e in events if e["event"] == "user.create")
    assert create["code"] == "T1002I" and create["name"] == "dave" and create["time"]
    only = cluster.tctl("audit", "events", "--type=join_token.create", "--format=json").stdout.splitlines()
    assert len(only) == 1
    # Events also go to the JSON lines file in the data directory.
    log = (cluster.data_dir / "log" / "events.log").read_text()
    assert '"user.create"' in log


def test_state_survives_restart(tmp_path):
    c = Cluster(tmp_path).start()
    try:
        pin = c.tctl("status").stdout
        c.tctl("users", "add", "erin", "--roles=access")
    finally:
        c.stop()
    c.start()
    try:
        assert c.tctl("status").stdout == pin  # same CAs
        assert "erin" in c.tctl("users", "ls").stdout
    finally:
        c.stop()


def test_tctl_without_a_running_auth_service(tmp_path):
    c = Cluster(tmp_path)
    r = c.tctl("status", check=False)
    assert r.returncode == 1 and "admin identity" in r.stderr
    r = run([binary("tctl"), "-c", str(tmp_path / "missing.yaml"), "status"], check=False)
    assert r.returncode == 1 and "cannot read config file" in r.stderr


def test_bad_config_fails_fast_with_the_key_path(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("auth_service:\n  cluster_name: x\n  listen_adr: 127.0.0.1:1\n")
    r = run([binary("teleport"), "start", "-c", str(cfg)], check=False, timeout=10)
    assert r.returncode == 1
    assert "auth_service.listen_adr: unknown key" in r.stderr
    cfg.write_text("teleport:\n  io_threads: lots\nauth_service:\n  cluster_name: x\n")
    r = run([binary("teleport"), "start", "-c", str(cfg)], check=False, timeout=10)
    assert r.returncode == 1
    assert 'teleport.io_threads: "lots" is not a thread count; use 0 (one per CPU, the default) to 256' in r.stderr


def test_db_configure_create_writes_the_guides_config(tmp_path):
    out = tmp_path / "teleport.yaml"
    run([binary("teleport"), "db", "configure", "create", "-o", f"file://{out}", "--name=rds-example",
         "--proxy=teleport.example.com:443", "--protocol=postgres",
         "--uri=myrds.abc123.us-east-1.rds.amazonaws.com:5432", "--labels=env=dev", "--token=/tmp/token"])
    text = out.read_text()
    for expected in ["version: v3", "proxy_server: teleport.example.com:443", "auth_token: /tmp/token",
                     "name: rds-example", "protocol: postgres", "env: dev"]:
        assert expected in text, text
    again = run([binary("teleport"), "db", "configure", "create", "-o", f"file://{out}", "--proxy=p:443",
                 "--token=/tmp/token"], check=False)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    bad = run([binary("teleport"), "db", "configure", "create", "--proxy=p:443", "--token=/tmp/token",
               "--name=x", "--protocol=oracle", "--uri=h:1"], check=False)
    assert bad.returncode == 1 and "--protocol" in bad.stderr
