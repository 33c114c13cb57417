"""Issue 6, end to end: the guide's flow against an emulated RDS PostgreSQL and RDS MariaDB. The database server
verifies IAM auth tokens through PAM the way RDS does (signature recomputed with botocore, DBUser,
expiry, region), and the agent's AWS credentials come, case by case, from the environment, a
profile file with AWS_PROFILE, web identity (EKS IRSA), EC2 instance metadata (IMDSv2) and
assume_role_arn. RDS metadata comes from the local AWS API double, which turns IAM auth on when the
agent calls ModifyDBInstance."""
import json
import re
import subprocess

import pytest

from conftest import Cluster, Process, binary, free_port
from fixtures import certs, proc
from fixtures.aws_double import AwsDouble
from fixtures.mariadb_server import MariaDBServer
from fixtures.postgres_server import PostgresServer, hba_pam, hba_password
from fixtures.rds_pam import RdsPam
from test_db_postgres import login_user, psql

DB = "rds-pg"
INSTANCE = "rds-pg-1"
MARIA_DB = "rds-maria"
MARIA_INSTANCE = "rds-maria-1"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not proc.is_root():
        pytest.skip("the RDS emulation needs root (PAM service, database system users)")
    tmp = tmp_path_factory.mktemp("rds-iam")
    for sub in ("pki", "aws", "pam", "pg", "maria"):
        (tmp / sub).mkdir()
    pki = certs.make_pki(tmp / "pki")
    aws = AwsDouble(tmp / "aws").start()
    pam = RdsPam(tmp / "pam", region=aws.region, aws_state=aws.state_path).install()
    pg = PostgresServer(tmp / "pg", pki.server_cert, pki.server_key, ca=pki.ca_cert, pam_service=pam.service,
                        hba_lines=[hba_pam(pam.service), hba_password()]).start()
    pg.create_user("iam_alice", pam=True)
    aws.add_db_instance(INSTANCE, engine="postgres", address="127.0.0.1", port=pg.port, iam_auth=False,
                        tags={"team": "payments"})
    maria = MariaDBServer(tmp / "maria", pki.server_cert, pki.server_key, ca=pki.ca_cert).start()
    maria.create_user("iam_alice", pam_service=pam.service)
    aws.add_db_instance(MARIA_INSTANCE, engine="mariadb", engine_version="10.11.6", address="127.0.0.1",
                        port=maria.port, iam_auth=True)
    (tmp / "cluster").mkdir()
    cluster = Cluster(tmp / "cluster", proxy=True).start()
    tsh = login_user(cluster, tmp / "tsh", db_users="iam_alice", db_names="postgres")
    yield {"tmp": tmp, "pki": pki, "aws": aws, "pam": pam, "pg": pg, "maria": maria, "cluster": cluster,
           "tsh": tsh}
    cluster.stop()
    maria.stop()
    pg.stop()
    pam.remove()
    aws.stop()


def start_agent(world, name, env, assume_role_arn=None):
    """A Database Service for the RDS database, with AWS credentials from `env`."""
    cluster, aws, pki = world["cluster"], world["aws"], world["pki"]
    d = world["tmp"] / name
    d.mkdir()
    token = json.loads(cluster.tctl("tokens", "add", "--type=db", "--format=json").stdout)["metadata"]["name"]
    role = f"\n      assume_role_arn: {assume_role_arn}" if assume_role_arn else ""
    (d / "teleport.yaml").write_text(f"""version: v3
teleport:
  data_dir: {d / 'data'}
  proxy_server: {cluster.web_addr}
  auth_token: {token}
db_service:
  enabled: yes
  databases:
  - name: {DB}
    protocol: postgres
    uri: 127.0.0.1:{world['pg'].port}
    static_labels: {{env: dev}}
    aws:
      region: {aws.region}{role}
      rds: {{instance_id: {INSTANCE}}}
    tls: {{ca_cert_file: {pki.ca_cert}}}
  - name: {MARIA_DB}
    protocol: mysql
    uri: 127.0.0.1:{world['maria'].port}
    aws:
      region: {aws.region}{role}
      rds: {{instance_id: {MARIA_INSTANCE}}}
    tls: {{ca_cert_file: {pki.ca_cert}}}
""")
    full_env = {**aws.env(), "HOME": str(d), "AWS_EC2_METADATA_DISABLED": "true", **env}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        full_env.setdefault(key, "")
    agent = Process([binary("teleport"), "start", "-c", str(d / "teleport.yaml")], d / "agent.log", env=full_env)

    def registered():
        if agent.proc.poll() is not None:
            raise AssertionError(f"agent exited:\n{agent.output()}")
        return DB in cluster.tctl("get", "db").stdout
    proc.wait_for(registered, 30, "the agent's database in 'tctl get db'")
    return agent


def connect(world):
    tsh = world["tsh"]
    tsh("db", "login", DB, "--db-user=iam_alice", "--db-name=postgres")
    env = dict(re.findall(r"export (\w+)=(.*)", tsh("db", "env", DB).stdout))
    return psql(env, "select current_user", check=False)


def connect_mariadb(world):
    tsh = world["tsh"]
    return tsh("db", "connect", MARIA_DB, "--db-user=iam_alice", "--db-name=", input="select current_user();\n",
               check=False, timeout=60)


def run_case(world, name, env, assume_role_arn=None, while_running=None):
    agent = start_agent(world, name, env, assume_role_arn)
    try:
        if while_running:
            while_running()
        r = connect(world)
        assert r.returncode == 0, f"{r.stderr}\nagent log:\n{agent.output()}\npam: {world['pam'].entries()[-3:]}"
        assert r.stdout.strip() == "iam_alice"
        last = world["pam"].last(user="iam_alice")
        assert last["result"] == "accept", last
        # The same credentials reach the emulated RDS MariaDB through mysql_clear_password.
        m = connect_mariadb(world)
        assert m.returncode == 0 and "iam_alice@" in m.stdout, f"{m.stdout}{m.stderr}\n{agent.output()}"
        assert world["pam"].last(user="iam_alice")["result"] == "accept"
        return agent.output()
    finally:
        agent.stop()


def test_env_credentials_mint_tokens_rds_accepts(world):
    creds = world["aws"].add_user("agent-env")

    def metadata_imported():
        # RDS tags became labels, and the account came from the RDS API.
        dbs = json.loads(world["cluster"].tctl("get", "db", "--format=json").stdout)
        db = next(d for d in dbs if d["metadata"]["name"] == DB)
        assert db["metadata"]["aws_labels"]["team"] == "payments"
        assert db["spec"]["aws"]["account_id"] == world["aws"].account

    log = run_case(world, "env", {"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret},
                   while_running=metadata_imported)
    # IAM auth was off on the instance: the agent turned it on (guide: RDSAutoEnableIAMAuth).
    assert world["aws"].calls(action="ModifyDBInstance"), log
    assert world["aws"].db_instance(INSTANCE)["IAMDatabaseAuthenticationEnabled"] in (True, "true")


def test_profile_file_with_aws_profile(world):
    creds = world["aws"].add_user("agent-profile")
    d = world["tmp"] / "profile-files"
    d.mkdir()
    (d / "credentials").write_text(f"[teleport]\naws_access_key_id = {creds.access_key}\n"
                                   f"aws_secret_access_key = {creds.secret}\n")
    run_case(world, "profile", {"AWS_SHARED_CREDENTIALS_FILE": str(d / "credentials"), "AWS_PROFILE": "teleport"})


def test_web_identity_as_on_eks(world):
    aws = world["aws"]
    role = aws.add_role("agent-irsa", web_identity_provider="oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
                        web_identity_subjects=["system:serviceaccount:teleport:db"])
    aws.add_web_identity_token("irsa-token-1", "system:serviceaccount:teleport:db")
    token_file = world["tmp"] / "irsa-token"
    token_file.write_text("irsa-token-1")
    run_case(world, "irsa", {"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": role})


def test_instance_metadata_v2(world):
    aws = world["aws"]
    role = aws.add_role("agent-instance-profile")
    aws.set_imds_role(role)
    run_case(world, "imds", {"AWS_EC2_METADATA_DISABLED": "false"})


def test_assume_role_arn(world):
    aws = world["aws"]
    base = aws.add_user("agent-base")
    role = aws.add_role("db-access", trusted=[base.arn])
    run_case(world, "assume", {"AWS_ACCESS_KEY_ID": base.access_key, "AWS_SECRET_ACCESS_KEY": base.secret},
             assume_role_arn=role)


def test_untrusted_assume_role_is_a_clear_error(world):
    aws = world["aws"]
    stranger = aws.add_user("agent-stranger")
    role = aws.add_role("db-locked", trusted=[])
    agent = start_agent(world, "untrusted",
                        {"AWS_ACCESS_KEY_ID": stranger.access_key, "AWS_SECRET_ACCESS_KEY": stranger.secret},
                        assume_role_arn=role)
    try:
        r = connect(world)
        assert r.returncode != 0
        assert "sts:AssumeRole" in r.stderr, r.stderr
    finally:
        agent.stop()
