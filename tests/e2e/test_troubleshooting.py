"""The guide's troubleshooting section, each case produced for real and answered with a message
that says what is wrong and what to do."""
import pytest

from conftest import Cluster
from fixtures import certs, proc
from fixtures.postgres_server import PostgresServer, hba_password
from test_db_postgres import UPSTREAM_PASSWORD, Agent, login_user, psql


def test_legacy_common_name_certificate_is_explained(tmp_path):
    if not proc.is_root():
        pytest.skip("the PostgreSQL fixture needs root")
    for sub in ("pki", "pg", "cluster", "agent"):
        (tmp_path / sub).mkdir()
    pki = certs.make_pki(tmp_path / "pki", legacy_cn_only=True)
    pg = PostgresServer(tmp_path / "pg", pki.server_cert, pki.server_key, hba_lines=[hba_password()]).start()
    cluster = Cluster(tmp_path / "cluster", proxy=True).start()
    agent = None
    try:
        pg.create_user("alice", password=UPSTREAM_PASSWORD)
        agent = Agent(cluster, tmp_path / "agent", pg, pki).start().wait_registered()
        tsh = login_user(cluster, tmp_path / "tsh", db_names="postgres")
        tsh("db", "login", "pg1", "--db-user=alice", "--db-name=postgres")
        r = psql(tsh.db_env(), "select 1", check=False)
        assert r.returncode != 0
        assert "certificate relies on legacy Common Name field" in r.stderr, r.stderr
        assert "rotate" in r.stderr
    finally:
        if agent:
            agent.stop()
        cluster.stop()
        pg.stop()
