"""Guide step 3: `teleport db configure aws print-iam` and `create-iam`, the
latter against the local AWS API double (which verifies every SigV4 signature)."""
import json

from conftest import binary, run
from fixtures.aws_double import AwsDouble

GUIDE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "RDSAutoEnableIAMAuth", "Effect": "Allow",
         "Action": ["rds:ModifyDBCluster", "rds:ModifyDBInstance"], "Resource": "*"},
        {"Sid": "RDSConnect", "Effect": "Allow", "Action": "rds-db:connect", "Resource": "*"},
        {"Sid": "RDSFetchMetadata", "Effect": "Allow",
         "Action": ["rds:DescribeDBClusters", "rds:DescribeDBInstances"], "Resource": "*"},
    ],
}


def test_print_iam_matches_the_guide():
    out = run([binary("teleport"), "db", "configure", "aws", "print-iam", "--types", "rds", "--policy-only"]).stdout
    assert json.loads(out) == GUIDE_POLICY
    full = run([binary("teleport"), "db", "configure", "aws", "print-iam", "--types", "rds"]).stdout
    assert "create-iam" in full and '"RDSConnect"' in full


def test_print_iam_rejects_unknown_types():
    r = run([binary("teleport"), "db", "configure", "aws", "print-iam", "--types", "rds,oracle"], check=False)
    assert r.returncode == 1
    assert "oracle" in r.stderr and "rds" in r.stderr


def test_create_iam_attaches_the_policy_to_the_caller(tmp_path):
    with AwsDouble(tmp_path) as aws:
        user = aws.add_user("teleport-db")
        env = {**aws.env(), "AWS_ACCESS_KEY_ID": user.access_key, "AWS_SECRET_ACCESS_KEY": user.secret,
               "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}
        out = run([binary("teleport"), "db", "configure", "aws", "create-iam", "--types", "rds",
                   "--name", "teleport-rds-access"], env=env).stdout
        assert 'Attached inline policy "teleport-rds-access" to IAM user "teleport-db"' in out
        calls = aws.calls(action="PutUserPolicy")
        assert len(calls) == 1
        state = aws.state()
        stored = json.dumps(state)
        assert "teleport-rds-access" in stored and "RDSAutoEnableIAMAuth" in stored


def test_create_iam_with_a_wrong_secret_reports_aws_error(tmp_path):
    with AwsDouble(tmp_path) as aws:
        user = aws.add_user("teleport-db")
        env = {**aws.env(), "AWS_ACCESS_KEY_ID": user.access_key, "AWS_SECRET_ACCESS_KEY": "wrong" + user.secret[5:],
               "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}
        r = run([binary("teleport"), "db", "configure", "aws", "create-iam", "--name", "p"], env=env, check=False)
        assert r.returncode == 1
        assert "SignatureDoesNotMatch" in r.stderr


def test_create_iam_without_credentials_says_what_to_set(tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "HOME": str(tmp_path),
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": ""}
    r = run([binary("teleport"), "db", "configure", "aws", "create-iam", "--name", "p"], env=env, check=False)
    assert r.returncode == 1
    assert "no AWS credentials found" in r.stderr
