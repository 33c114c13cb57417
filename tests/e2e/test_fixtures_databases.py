"""The database fixtures start real PostgreSQL and MariaDB servers that the real clients reach over
TLS; the certificate fixture makes what those servers and clients accept."""

import ipaddress

import pytest
from cryptography import x509

from fixtures import certs
from fixtures.postgres_server import PostgresServer, hba_cert

# Registered once, as a plugin, so all modules share the session servers (importing the fixture
# functions into each module would start one set of servers per module).
pytest_plugins = ["fixtures.pytest_fixtures"]


def test_server_cert_has_san_for_loopback_and_legacy_cert_has_none(tmp_path):
    ca = certs.CertAuthority()
    modern = ca.issue_server()
    san = modern.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]

    legacy = ca.issue_server("127.0.0.1", legacy_cn_only=True)
    with pytest.raises(x509.ExtensionNotFound):
        legacy.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    cn = legacy.cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn == "127.0.0.1"
    assert legacy.cert.issuer == ca.cert.subject

    paths = legacy.write(tmp_path, "legacy")
    assert paths.key.stat().st_mode & 0o777 == 0o600


def test_postgres_password_login_over_verified_tls(postgres, e2e_pki):
    postgres.create_user("fx_alice", password="alice-pw")
    out = postgres.psql("SELECT current_user || ' ' || ssl::text FROM pg_stat_ssl "
                        "WHERE pid = pg_backend_pid()", user="fx_alice", password="alice-pw",
                        sslmode="verify-full", sslrootcert=e2e_pki.ca_cert).stdout.strip()
    assert out == "fx_alice true"


def test_postgres_refuses_wrong_password_and_plaintext(postgres):
    postgres.create_user("fx_bob", password="bob-pw")
    wrong = postgres.psql("SELECT 1", user="fx_bob", password="nope", check=False)
    assert wrong.returncode != 0
    assert 'password authentication failed for user "fx_bob"' in wrong.stderr
    # Only hostssl lines exist, so a connection without TLS matches no pg_hba.conf entry.
    plain = postgres.psql("SELECT 1", user="fx_bob", password="bob-pw", sslmode="disable",
                          check=False)
    assert plain.returncode != 0
    assert "no pg_hba.conf entry" in plain.stderr


def test_postgres_client_certificate_mode(tmp_path, e2e_pki):
    client = e2e_pki.ca.issue_client("fx_cert").write(tmp_path, "fx_cert")
    other = certs.CertAuthority().issue_client("fx_cert").write(tmp_path, "foreign")
    with PostgresServer(tmp_path, e2e_pki.server_cert, e2e_pki.server_key, ca=e2e_pki.ca_cert,
                        hba_lines=[hba_cert()], max_connections=20) as pg:
        pg.create_user("fx_cert")
        assert pg.query("SHOW max_connections") == "20"
        ok = pg.psql("SELECT current_user", user="fx_cert", sslcert=client.cert,
                     sslkey=client.key, sslmode="verify-full", sslrootcert=e2e_pki.ca_cert)
        assert ok.stdout.strip() == "fx_cert"
        # A certificate from another CA, or none at all, is refused.
        bad = pg.psql("SELECT 1", user="fx_cert", sslcert=other.cert, sslkey=other.key,
                      check=False)
        assert bad.returncode != 0
        none = pg.psql("SELECT 1", user="fx_cert", tcp=True, check=False)
        assert none.returncode != 0
        assert "certificate" in none.stderr


def test_mariadb_password_login_over_verified_tls(mariadb, e2e_pki):
    mariadb.create_user("fx_alice", password="alice-pw")
    out = mariadb.client("SELECT current_user(); SHOW STATUS LIKE 'Ssl_version'", user="fx_alice",
                         password="alice-pw", ssl_ca=e2e_pki.ca_cert,
                         verify_server_cert=True).stdout.split("\n")
    assert out[0] == "fx_alice@%"
    assert out[1].startswith("Ssl_version\tTLSv1.")


def test_mariadb_refuses_wrong_password_plaintext_and_has_no_anonymous_accounts(mariadb):
    mariadb.create_user("fx_bob", password="bob-pw")
    wrong = mariadb.client("SELECT 1", user="fx_bob", password="nope", check=False)
    assert wrong.returncode != 0 and "Access denied" in wrong.stderr
    plain = mariadb.client("SELECT 1", user="fx_bob", password="bob-pw", ssl=False, check=False)
    assert plain.returncode != 0 and "Access denied" in plain.stderr  # REQUIRE SSL
    assert mariadb.query("SELECT COUNT(*) FROM mysql.user WHERE user = ''") == "0"
    assert mariadb.query("SELECT PLUGIN_STATUS FROM information_schema.PLUGINS "
                         "WHERE PLUGIN_NAME = 'pam'") == "ACTIVE"
    assert mariadb.query("SELECT @@pam_use_cleartext_plugin") == "1"
