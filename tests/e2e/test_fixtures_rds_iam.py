"""The RDS IAM emulation: real psql and mariadb log in with tokens botocore generates, and both
servers refuse forged, expired, wrong-user and wrong-region tokens (the verifier's log says why)."""

import datetime
import re
import types

import botocore.session
import pytest

from fixtures import rds_iam_verify
from fixtures.aws_double import AwsCredentials

# Registered once, as a plugin, so all modules share the session servers (importing the fixture
# functions into each module would start one set of servers per module).
pytest_plugins = ["fixtures.pytest_fixtures"]

IAM_USER = "fx_iam_user"
DATABASES = ["postgres", "mariadb"]


@pytest.fixture(scope="module")
def iam_servers(postgres, mariadb, rds_pam):
    postgres.create_user(IAM_USER, pam=True)
    mariadb.create_user(IAM_USER, pam_service=rds_pam.service)
    return {"postgres": postgres, "mariadb": mariadb}


def _token(creds, server, user=IAM_USER, region="us-east-1"):
    client = botocore.session.Session().create_client(
        "rds", region_name=region, aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret, aws_session_token=creds.session_token)
    return client.generate_db_auth_token(server.host, server.port, user, Region=region)


def _login(kind, server, token, user=IAM_USER):
    """Log in with the real client, the token as password, TLS required: CompletedProcess."""
    if kind == "postgres":
        return server.psql("SELECT current_user", user=user, password=token, sslmode="require",
                           check=False)
    return server.client("SELECT current_user()", user=user, password=token, ssl=True, check=False)


def test_make_token_reproduces_botocore_generate_db_auth_token(aws_user):
    token = _token(aws_user, types.SimpleNamespace(host="127.0.0.1", port=5432))
    signed_at = datetime.datetime.strptime(re.search(r"X-Amz-Date=(\w+)", token).group(1),
                                           "%Y%m%dT%H%M%SZ")
    assert rds_iam_verify.make_token("127.0.0.1", 5432, IAM_USER, "us-east-1", aws_user.access_key,
                                     aws_user.secret, when=signed_at) == token


@pytest.mark.parametrize("kind", DATABASES)
def test_botocore_token_logs_in(kind, iam_servers, aws_user, rds_pam):
    server = iam_servers[kind]
    cp = _login(kind, server, _token(aws_user, server))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip().startswith(IAM_USER)
    assert rds_pam.last(IAM_USER)["result"] == "accept"


@pytest.mark.parametrize("kind", DATABASES)
def test_token_from_assumed_role_credentials_logs_in(kind, iam_servers, aws_double, aws_user,
                                                     rds_pam):
    # Temporary credentials exist only in the double's state file, which the verifier reads.
    role = aws_double.add_role(f"fx-db-{kind}", trusted=[aws_user.arn])
    c = aws_double.client("sts", aws_user).assume_role(RoleArn=role,
                                                       RoleSessionName="fx")["Credentials"]
    temp = AwsCredentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    server = iam_servers[kind]
    token = _token(temp, server)
    assert "X-Amz-Security-Token=" in token and len(token) < rds_iam_verify.PAM_EXEC_MAX_AUTHTOK
    cp = _login(kind, server, token)
    assert cp.returncode == 0, (cp.stderr, rds_pam.last(IAM_USER))


def _forged(token):
    sig = token.rsplit("=", 1)[1]
    flipped = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
    return token[: -len(sig)] + flipped


BAD_TOKENS = {
    "forged": (lambda creds, server: _forged(_token(creds, server)), "signature does not match"),
    "expired": (lambda creds, server: rds_iam_verify.make_token(
        server.host, server.port, IAM_USER, "us-east-1", creds.access_key, creds.secret,
        when=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)),
        "token expired"),
    "wrong-user": (lambda creds, server: _token(creds, server, user="fx_someone_else"),
                   "does not match login user"),
    "wrong-region": (lambda creds, server: _token(creds, server, region="eu-west-1"),
                     "region 'eu-west-1'"),
    "unknown-key": (lambda creds, server: _token(AwsCredentials("AKIAUNKNOWNKEY000000", "x"),
                                                 server), "unknown access key"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
@pytest.mark.parametrize("kind", DATABASES)
def test_bad_tokens_are_refused(kind, case, iam_servers, aws_user, rds_pam):
    make, reason = BAD_TOKENS[case]
    server = iam_servers[kind]
    cp = _login(kind, server, make(aws_user, server))
    assert cp.returncode != 0
    if kind == "postgres":
        assert f'PAM authentication failed for user "{IAM_USER}"' in cp.stderr
    else:
        assert "Access denied" in cp.stderr
    last = rds_pam.last(IAM_USER)
    assert last["result"] == "refuse" and reason in last["reason"], last


def test_token_for_another_endpoint_is_refused_when_endpoints_are_pinned(iam_servers, aws_user,
                                                                          rds_pam):
    pg = iam_servers["postgres"]
    rds_pam.set_endpoints([f"{pg.host}:{pg.port}"])
    try:
        assert _login("postgres", pg, _token(aws_user, pg)).returncode == 0
        foreign = rds_iam_verify.make_token("db.example.com", pg.port, IAM_USER, "us-east-1",
                                            aws_user.access_key, aws_user.secret)
        assert _login("postgres", pg, foreign).returncode != 0
        assert "expected one of" in rds_pam.last(IAM_USER)["reason"]
    finally:
        rds_pam.set_endpoints([])


def test_verifier_rejects_over_long_expiry_and_scheme():
    config = {"region": "us-east-1", "credentials": {"AKIDEXAMPLE": "secret"}}
    long_lived = rds_iam_verify.make_token("127.0.0.1", 5432, "u", "us-east-1", "AKIDEXAMPLE",
                                           "secret", expires=901)
    with pytest.raises(rds_iam_verify.Refused, match="X-Amz-Expires 901"):
        rds_iam_verify.verify_token(long_lived, "u", config)
    ok = rds_iam_verify.make_token("127.0.0.1", 5432, "u", "us-east-1", "AKIDEXAMPLE", "secret")
    assert rds_iam_verify.verify_token(ok, "u", config) is None
    with pytest.raises(rds_iam_verify.Refused, match="scheme"):
        rds_iam_verify.verify_token("https://" + ok, "u", config)
