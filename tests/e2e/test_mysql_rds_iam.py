"""Issue 5 with issue 6's RDS emulation: the agent logs in to an emulated RDS MariaDB with an IAM auth
token sent through mysql_clear_password. MariaDB runs the account through auth_pam, whose PAM service
verifies the token the way RDS does (SigV4 signature recomputed with botocore, DBUser, expiry,
region); the agent's AWS credentials come from the environment."""
import json
import os
import subprocess

import pytest

from conftest import Cluster, Process, binary, free_port, wait_for_port
from fixtures import certs, proc
from fixtures.aws_double import AwsDouble
from fixtures.mariadb_server import MariaDBServer
from fixtures.rds_pam import RdsPam
from test_db_postgres import audit_events, login_user, wait_until

DB = "rds-maria"
INSTANCE = "rds-maria-1"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not proc.is_root():
        pytest.skip("the RDS emulation needs root (PAM service, database system users)")
    tmp = tmp_path_factory.mktemp("mysql-rds-iam")
    for sub in ("pki", "aws", "pam", "maria"):
        (tmp / sub).mkdir()
    pki = certs.make_pki(tmp / "pki")
    aws = AwsDouble(tmp / "aws").start()
    pam = RdsPam(tmp / "pam", region=aws.region, aws_state=aws.state_path).install()
    maria = MariaDBServer(tmp / "maria", pki.server_cert, pki.server_key, ca=pki.ca_cert).start()
    maria.create_user("iam_alice", pam_service=pam.service)
    maria.create_database("app")
    aws.add_db_instance(INSTANCE, engine="mariadb", address="127.0.0.1", port=maria.port, iam_auth=True)
    (tmp / "cluster").mkdir()
    cluster = Cluster(tmp / "cluster", proxy=True).start()
    tsh = login_user(cluster, tmp / "tsh", db_users="iam_alice", db_names="app")
    yield {"tmp": tmp, "pki": pki, "aws": aws, "pam": pam, "maria": maria, "cluster": cluster, "tsh": tsh}
    cluster.stop()
    maria.stop()
    pam.remove()
    aws.stop()


def start_agent(world, name, env):
    cluster, aws, pki = world["cluster"], world["aws"], world["pki"]
    d = world["tmp"] / name
    d.mkdir()
    token = json.loads(cluster.tctl("tokens", "add", "--type=db", "--format=json").stdout)["metadata"]["name"]
    (d / "teleport.yaml").write_text(f"""version: v3
teleport:
  data_dir: {d / 'data'}
  proxy_server: {cluster.web_addr}
  auth_token: {token}
db_service:
  enabled: yes
  databases:
  - name: {DB}
    protocol: mysql
    uri: 127.0.0.1:{world['maria'].port}
    static_labels: {{env: dev}}
    mysql: {{server_version: 10.11.6-MariaDB}}
    aws:
      region: {aws.region}
      rds: {{instance_id: {INSTANCE}}}
    tls: {{ca_cert_file: {pki.ca_cert}}}
""")
    full_env = {**aws.env(), "HOME": str(d), "AWS_EC2_METADATA_DISABLED": "true", **env}
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        full_env.setdefault(key, "")
    agent = Process([binary("teleport"), "start", "-c", str(d / "teleport.yaml")], d / "agent.log", env=full_env)

    def registered():
        if agent.proc.poll() is not None:
            raise AssertionError(f"agent exited:\n{agent.output()}")
        return DB in world["cluster"].tctl("get", "db").stdout
    proc.wait_for(registered, 30, "the agent's database in 'tctl get db'")
    return agent


def mariadb(port, sql, user="iam_alice"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL")}
    return subprocess.run(["mariadb", "--no-defaults", "-N", "-B", "--connect-timeout=10", "--protocol=TCP",
                           "-h", "127.0.0.1", "-P", str(port), "-u", user, "--skip-ssl", "-D", "app", "-e", sql],
                          capture_output=True, text=True, env=env, timeout=60)


def test_iam_token_through_mysql_clear_password(world):
    creds = world["aws"].add_user("agent-mysql-env")
    agent = start_agent(world, "env", {"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret})
    tsh = world["tsh"]
    local = None
    try:
        tsh("db", "login", DB, "--db-user=iam_alice", "--db-name=app")
        port = free_port()
        local = Process([binary("tsh"), "proxy", "db", DB, "--tunnel", f"--port={port}"],
                        world["tmp"] / "tsh-proxy.log", env=tsh.env)
        wait_for_port(port, proc=local.proc, log=local.log_path)
        r = mariadb(port, "select current_user()")
        assert r.returncode == 0, f"{r.stderr}\nagent log:\n{agent.output()}\npam: {world['pam'].entries()[-3:]}"
        assert r.stdout.strip() == "iam_alice@%"
        last = world["pam"].last(user="iam_alice")
        assert last["result"] == "accept", last

        def started():
            return [e for e in audit_events(world["cluster"], "db.session.start")
                    if e.get("db_service") == DB and e.get("success") is True] or None
        wait_until(started, 15, "the IAM session's start event")
    finally:
        if local:
            local.stop()
        agent.stop()


def test_without_aws_credentials_the_client_is_told_why(world):
    agent = start_agent(world, "no-creds", {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    tsh = world["tsh"]
    local = None
    try:
        tsh("db", "login", DB, "--db-user=iam_alice", "--db-name=app")
        port = free_port()
        local = Process([binary("tsh"), "proxy", "db", DB, "--tunnel", f"--port={port}"],
                        world["tmp"] / "tsh-proxy-2.log", env=tsh.env)
        wait_for_port(port, proc=local.proc, log=local.log_path)
        r = mariadb(port, "select 1")
        assert r.returncode != 0
        assert "ERROR" in r.stderr and "AWS" in r.stderr, r.stderr
    finally:
        if local:
            local.stop()
        agent.stop()
