"""The AWS API double answers botocore in AWS's shapes and refuses requests whose SigV4 signature
does not verify; IMDSv2, STS trust checks and the RDS state changes behave like AWS."""

import datetime
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from urllib.parse import quote

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import InstanceMetadataFetcher

from fixtures.aws_double import AwsCredentials

# Registered once, as a plugin, so all modules share the session servers (importing the fixture
# functions into each module would start one set of servers per module).
pytest_plugins = ["fixtures.pytest_fixtures"]

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def _error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def _raw_call(double, creds, service, params, when=None, send_body=None, method="POST"):
    """Send a Query API call signed by botocore's SigV4Auth at `when` (default now) through urllib,
    as a form POST (optionally sending another body than the one signed) or with the parameters in
    a GET query string. Returns (status, body text)."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    if method == "GET":
        url, body, headers = f"{double.endpoint}/?{query}", None, {}
    else:
        url, body = double.endpoint + "/", query.encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer = SigV4Auth(Credentials(creds.access_key, creds.secret, creds.session_token), service,
                       double.region)
    when = when or datetime.datetime.now(datetime.timezone.utc)
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signer._inject_signature_to_request(
        request, signer.signature(signer.string_to_sign(request, canonical), request))
    http = urllib.request.Request(url, data=send_body or body, method=method,
                                  headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(http, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_describe_db_instances_signed_by_botocore(aws_double, aws_user):
    aws_double.add_db_instance("fx-pg", engine="postgres", port=15432, tags={"env": "dev"})
    out = aws_double.client("rds", aws_user).describe_db_instances(DBInstanceIdentifier="fx-pg")
    inst = out["DBInstances"][0]
    assert inst["Endpoint"] == {"Address": "127.0.0.1", "Port": 15432,
                                "HostedZoneId": "Z2R2ITUGPM61AM"}
    assert inst["IAMDatabaseAuthenticationEnabled"] is False
    assert inst["TagList"] == [{"Key": "env", "Value": "dev"}]
    assert inst["DbiResourceId"].startswith("db-")
    assert out["ResponseMetadata"]["RequestId"]
    call = aws_double.calls(action="DescribeDBInstances")[-1]
    assert (call["status"], call["caller_arn"], call["region"]) == (200, aws_user.arn, "us-east-1")


def test_wrong_secret_unknown_key_bad_session_token_and_unsigned_are_rejected(aws_double, aws_user):
    rds = aws_double.client("rds", AwsCredentials(aws_user.access_key, "not-the-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.describe_db_instances()
    assert _error(e)[0] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    refused = aws_double.calls(action="DescribeDBInstances")[-1]
    assert refused["error"] == "SignatureDoesNotMatch" and refused["expected_canonical_request"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown = AwsCredentials("AKIAUNKNOWN000000000", "x")
        aws_double.client("rds", unknown).describe_db_instances()
    assert _error(e)[0] == "InvalidClientTokenId"

    unsigned = urllib.request.Request(aws_double.endpoint + "/", method="POST",
                                      data=b"Action=DescribeDBInstances&Version=2014-10-31")
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(unsigned, timeout=5)
    assert raw.value.code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in raw.value.read().decode()

    with_token = AwsCredentials(aws_user.access_key, aws_user.secret, "bogus-session-token")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws_double.client("sts", with_token).get_caller_identity()
    assert _error(e)[0] == "InvalidClientTokenId"


def test_raw_get_and_post_verify_but_stale_timestamp_and_tampered_body_do_not(aws_double, aws_user):
    params = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    status, body = _raw_call(aws_double, aws_user, "sts", params)
    assert status == 200 and aws_user.arn in body
    status, body = _raw_call(aws_double, aws_user, "sts", params, method="GET")
    assert status == 200 and aws_user.arn in body
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    status, body = _raw_call(aws_double, aws_user, "sts", params, when=old)
    assert status == 403 and "Signature expired" in body
    status, body = _raw_call(aws_double, aws_user, "sts", params,
                             send_body=b"Action=GetCallerIdentity&Version=2011-06-16")
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body


def test_assume_role_untrusted_principal_gets_access_denied_xml(aws_double, aws_user):
    outsider = aws_double.add_user("fx-outsider")
    role = aws_double.add_role("fx-trusting-user", trusted=[aws_user.arn])
    status, body = _raw_call(aws_double, outsider, "sts", {
        "Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role,
        "RoleSessionName": "fx"})
    assert status == 403
    root = ET.fromstring(body)
    assert root.tag == STS_NS + "ErrorResponse"
    assert root.find(f"{STS_NS}Error/{STS_NS}Code").text == "AccessDenied"
    assert root.find(f"{STS_NS}Error/{STS_NS}Message").text == (
        f"User: {outsider.arn} is not authorized to perform: sts:AssumeRole on resource: {role}")
    assert root.find(f"{STS_NS}RequestId").text

    # Role chaining: a session of a role the target does not trust is refused with its STS ARN.
    hop = aws_double.add_role("fx-hop", trusted=[outsider.arn])
    c = aws_double.client("sts", outsider).assume_role(RoleArn=hop, RoleSessionName="hop")
    chained = AwsCredentials(c["Credentials"]["AccessKeyId"], c["Credentials"]["SecretAccessKey"],
                             c["Credentials"]["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws_double.client("sts", chained).assume_role(RoleArn=role, RoleSessionName="fx")
    assert _error(e) == ("AccessDenied", f"User: arn:aws:sts::{aws_double.account}:assumed-role/"
                                         f"fx-hop/hop is not authorized to perform: "
                                         f"sts:AssumeRole on resource: {role}")


def test_assume_role_checks_external_id_and_issues_working_credentials(aws_double, aws_user):
    role = aws_double.add_role("fx-external", trusted=[aws_user.arn], external_id="ext-42")
    sts = aws_double.client("sts", aws_user)
    for bad in ({}, {"ExternalId": "wrong"}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.assume_role(RoleArn=role, RoleSessionName="fx", **bad)
        assert _error(e)[0] == "AccessDenied"
    out = sts.assume_role(RoleArn=role, RoleSessionName="fx", ExternalId="ext-42",
                          DurationSeconds=900)
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and c["SessionToken"]
    assert out["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::{aws_double.account}:assumed-role/fx-external/fx"
    temp = AwsCredentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert aws_double.client("sts", temp).get_caller_identity()["Arn"] == \
        out["AssumedRoleUser"]["Arn"]
    assert aws_double.state()["credentials"][c["AccessKeyId"]]["session_token"] == c["SessionToken"]


def test_assume_role_with_web_identity(aws_double, aws_user):
    role = aws_double.add_role("fx-irsa", web_identity_provider="oidc.example/id/1",
                               web_identity_subjects=["system:serviceaccount:ns:sa"])
    aws_double.add_web_identity_token("fx-jwt", "system:serviceaccount:ns:sa",
                                      provider="oidc.example/id/1")
    sts = aws_double.client("sts", aws_user)  # botocore sends this operation unsigned
    out = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="irsa",
                                            WebIdentityToken="fx-jwt")
    assert out["SubjectFromWebIdentityToken"] == "system:serviceaccount:ns:sa"
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="irsa",
                                          WebIdentityToken="forged")
    assert _error(e)[0] == "InvalidIdentityToken"


def test_imdsv2_instance_credentials(aws_double):
    role = aws_double.add_role("fx-ec2")
    aws_double.set_imds_role(role)
    # IMDSv1 (no session token) is refused.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(aws_double.endpoint + "/latest/meta-data/iam/security-credentials/",
                               timeout=5)
    assert e.value.code == 401
    fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=1,
                                      base_url=aws_double.endpoint + "/")
    creds = fetcher.retrieve_iam_role_credentials()
    assert creds["role_name"] == "fx-ec2" and creds["access_key"].startswith("ASIA")
    temp = AwsCredentials(creds["access_key"], creds["secret_key"], creds["token"])
    arn = aws_double.client("sts", temp).get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{aws_double.account}:assumed-role/fx-ec2/i-0123456789abcdef0"
    assert [c["status"] for c in aws_double.calls(service="imds")][-3:] == [200, 200, 200]


def test_modify_db_instance_and_cluster_flip_iam_auth(aws_double, aws_user):
    aws_double.add_db_instance("fx-modify", engine="mysql", port=13306)
    aws_double.add_db_cluster("fx-aurora", members=["fx-aurora-1"])
    aws_double.add_db_instance("fx-aurora-1", engine="aurora-postgresql", cluster="fx-aurora")
    rds = aws_double.client("rds", aws_user)
    out = rds.modify_db_instance(DBInstanceIdentifier="fx-modify",
                                 EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert out["DBInstance"]["IAMDatabaseAuthenticationEnabled"] is True
    assert aws_double.db_instance("fx-modify")["IAMDatabaseAuthenticationEnabled"] is True
    call = aws_double.calls(action="ModifyDBInstance")[-1]
    assert call["params"]["DBInstanceIdentifier"] == "fx-modify" and call["status"] == 200

    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.modify_db_instance(DBInstanceIdentifier="fx-aurora-1",
                               EnableIAMDatabaseAuthentication=True)
    assert _error(e)[0] == "InvalidParameterCombination"
    out = rds.modify_db_cluster(DBClusterIdentifier="fx-aurora",
                                EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert out["DBCluster"]["IAMDatabaseAuthenticationEnabled"] is True
    assert aws_double.db_instance("fx-aurora-1")["IAMDatabaseAuthenticationEnabled"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.describe_db_clusters(DBClusterIdentifier="fx-missing")
    assert _error(e)[0] == "DBClusterNotFoundFault"


def test_describe_paginates_and_filters(aws_double, aws_user):
    for i in range(5):
        aws_double.add_db_instance(f"fx-page-{i}", engine="fx-engine")
    aws_double.set_rds_page_size(2)
    try:
        rds = aws_double.client("rds", aws_user)
        pages = list(rds.get_paginator("describe_db_instances").paginate(
            Filters=[{"Name": "engine", "Values": ["fx-engine"]}]))
        assert [len(p["DBInstances"]) for p in pages] == [2, 2, 1]
        assert "Marker" in pages[0] and "Marker" not in pages[-1]
    finally:
        aws_double.set_rds_page_size(100)


def test_iam_role_and_user_policies(aws_double, aws_user):
    aws_double.add_role("fx-policy-role")
    iam = aws_double.client("iam", aws_user)
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect",
                                                   "Resource": "*"}]}
    iam.put_role_policy(RoleName="fx-policy-role", PolicyName="db", PolicyDocument=json.dumps(doc))
    assert iam.get_role_policy(RoleName="fx-policy-role", PolicyName="db")["PolicyDocument"] == doc
    iam.put_user_policy(UserName="tp-e2e", PolicyName="db", PolicyDocument=json.dumps(doc))
    assert aws_double.state()["user_policies"]["tp-e2e"]["db"] == json.dumps(doc)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_role_policy(RoleName="fx-no-such-role", PolicyName="db",
                            PolicyDocument=json.dumps(doc))
    assert _error(e)[0] == "NoSuchEntity"
