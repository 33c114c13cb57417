"""The guide, in order, with its commands as written (only addresses, names and paths substituted),
against emulated RDS PostgreSQL and MariaDB (IAM tokens verified the way RDS does) and the local AWS
API double. Steps: 1 user, 2 token + config, 3 IAM policy, 4 start the Database Service, 5 connect."""
import json
import re
import subprocess

import pytest

from conftest import Cluster, Process, binary, free_port, run, wait_for_port
from fixtures import certs, proc
from fixtures.aws_double import AwsDouble
from fixtures.mariadb_server import MariaDBServer
from fixtures.postgres_server import PostgresServer, hba_pam, hba_password
from fixtures.rds_pam import RdsPam
from test_db_postgres import USER_PASSWORD, psql, sleep_and_cancel


@pytest.fixture(scope="module")
def rds(tmp_path_factory):
    if not proc.is_root():
        pytest.skip("the RDS emulation needs root")
    tmp = tmp_path_factory.mktemp("guide")
    for sub in ("pki", "aws", "pam", "pg", "maria"):
        (tmp / sub).mkdir()
    pki = certs.make_pki(tmp / "pki")
    aws = AwsDouble(tmp / "aws").start()
    pam = RdsPam(tmp / "pam", region=aws.region, aws_state=aws.state_path).install()
    pg = PostgresServer(tmp / "pg", pki.server_cert, pki.server_key, ca=pki.ca_cert, pam_service=pam.service,
                        hba_lines=[hba_pam(pam.service), hba_password()]).start()
    pg.create_user("alice", pam=True)
    maria = MariaDBServer(tmp / "maria", pki.server_cert, pki.server_key, ca=pki.ca_cert).start()
    maria.create_user("alice", pam_service=pam.service)
    maria.create_database("app")
    yield {"tmp": tmp, "pki": pki, "aws": aws, "pg": pg, "maria": maria}
    maria.stop()
    pg.stop()
    pam.remove()
    aws.stop()


def test_the_guide_end_to_end(rds):
    tmp, aws, pki = rds["tmp"], rds["aws"], rds["pki"]
    (tmp / "cluster").mkdir()
    cluster = Cluster(tmp / "cluster", proxy=True).start()
    agents = []
    tsh_env = {"TELEPORT_HOME": str(tmp / "tsh")}

    def tsh(*args, **kw):
        return run([binary("tsh"), *args], env=tsh_env, **kw)

    try:
        # Prerequisites: the cluster's version, as the guide reads it.
        version = subprocess.run(f"curl -sk https://{cluster.web_addr}/v1/webapi/find | jq -r '.server_version'",
                                 shell=True, capture_output=True, text=True, check=True).stdout.strip()
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), version

        # Step 1: a Teleport user.
        out = cluster.tctl("users", "add", "alice", "--roles=access", "--db-users=alice", "--db-names=postgres,app").stdout
        invite = re.search(r"/web/invite/([0-9a-f]+)", out).group(1)
        tsh("users", "set-password", f"--proxy={cluster.web_addr}", f"--invite={invite}", "--insecure",
            input=USER_PASSWORD + "\n")

        # Steps 2-4, once per database: token, config, IAM policy, start.
        agent_creds = aws.add_user("teleport-db-service")
        policy = run([binary("teleport"), "db", "configure", "aws", "print-iam", "--types", "rds", "--policy-only"])
        sids = [s["Sid"] for s in json.loads(policy.stdout)["Statement"]]
        assert sids == ["RDSAutoEnableIAMAuth", "RDSConnect", "RDSFetchMetadata"]
        for name, protocol, port in (("rds-example", "postgres", rds["pg"].port),
                                     ("rds-maria", "mysql", rds["maria"].port)):
            d = tmp / name
            d.mkdir()
            token_out = cluster.tctl("tokens", "add", "--type=db").stdout
            token = re.search(r"The invite token: ([0-9a-f]+)", token_out).group(1)
            (d / "token").write_text(token)
            listed = cluster.tctl("tokens", "ls").stdout
            assert re.search(rf"^{token}\s+Db\s", listed, re.M), listed
            run([binary("teleport"), "db", "configure", "create", "-o", f"file://{d / 'teleport.yaml'}",
                 f"--name={name}", f"--proxy={cluster.web_addr}", f"--protocol={protocol}",
                 f"--uri=127.0.0.1:{port}", "--labels=env=dev", f"--token={d / 'token'}",
                 f"--data-dir={d / 'data'}", f"--aws-region={aws.region}", f"--ca-cert-file={pki.ca_cert}"])
            env = {**aws.env(), "AWS_ACCESS_KEY_ID": agent_creds.access_key,
                   "AWS_SECRET_ACCESS_KEY": agent_creds.secret, "AWS_EC2_METADATA_DISABLED": "true"}
            agents.append(Process([binary("teleport"), "start", "-c", str(d / "teleport.yaml")], d / "agent.log",
                                  env=env))
        proc.wait_for(lambda: all(n in cluster.tctl("get", "db").stdout for n in ("rds-example", "rds-maria")),
                      30, "both databases registered")
        status = cluster.tctl("status").stdout
        assert "Cluster" in status and "CA pin" in status

        # Step 5: connect.
        tsh("login", f"--proxy={cluster.web_addr}", "--user=alice", "--insecure", input=USER_PASSWORD + "\n")
        listed = tsh("db", "ls").stdout
        assert "rds-example" in listed and "rds-maria" in listed
        r = tsh("db", "connect", "--db-user=alice", "--db-name=postgres", "rds-example",
                input="select 'pg:' || current_user;\n", timeout=60)
        assert "pg:alice" in r.stdout, r.stderr
        r = tsh("db", "connect", "--db-user=alice", "--db-name=app", "rds-maria",
                input="select current_user(), database();\n", timeout=60)
        assert "alice@" in r.stdout and "app" in r.stdout, r.stderr

        # tsh proxy db --tunnel: a plain local connection, and query cancel through it.
        port = free_port()
        local = Process([binary("tsh"), "proxy", "db", "--tunnel", f"--port={port}", "--db-user=alice",
                         "--db-name=postgres", "rds-example"], tmp / "tsh-proxy.log", env=tsh_env)
        try:
            wait_for_port(port, proc=local.proc, log=local.log_path)
            local_env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGSSLMODE": "disable", "PGUSER": "alice",
                         "PGDATABASE": "postgres"}
            assert psql(local_env, "select 40 + 2").stdout.strip() == "42"
            elapsed, err = sleep_and_cancel(["psql", "-X", "-c", "select pg_sleep(30)"], local_env)
            assert "canceling statement due to user request" in err and elapsed < 2.0, err
        finally:
            local.stop()

        # The audit log has every session and query.
        queries = cluster.tctl("audit", "events", "--type=db.session.query", "--format=json").stdout
        assert "current_user" in queries and "pg_sleep" in queries

        tsh("db", "logout", "rds-example")
        after = tsh("db", "env", "rds-example", check=False)
        assert after.returncode != 0
    finally:
        for a in agents:
            a.stop()
        cluster.stop()
