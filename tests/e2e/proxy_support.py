"""Helpers for the Proxy Service and tsh end-to-end tests (test_proxy_*.py, test_tsh_*.py). No tests
here: the module is named so the proxy's test files can share it without touching conftest.py.

A ProxyCluster is the conftest Cluster with the proxy on, plus what these tests do again and again:
run tsh with a private TELEPORT_HOME, create a user through the invite flow, register a database
server without an agent (through the Auth API with the admin identity), and open raw TLS connections
to the web port with a chosen ALPN protocol.
"""
import json
import re
import socket
import ssl
import struct
import urllib.error
import urllib.request
from pathlib import Path

from conftest import Cluster, binary, run

PASSWORD = "correct horse battery"


class ProxyCluster(Cluster):
    def __init__(self, tmp_path, extra_yaml="", mysql_listener=True):
        super().__init__(tmp_path, proxy=True, extra_yaml=extra_yaml)
        self.home = Path(tmp_path) / "tsh"
        if not mysql_listener:
            # MySQL only through TLS routing on the web port.
            self.config.write_text(re.sub(r"  mysql_listen_addr: .*\n", "", self.config.read_text()))
            self.mysql_port = None

    # --- tsh -------------------------------------------------------------------------------------

    def tsh(self, *args, input=None, check=True, timeout=60, home=None):
        env = {"TELEPORT_HOME": str(home or self.home)}
        return run([binary("tsh"), *args], check=check, input=input, env=env, timeout=timeout)

    def login(self, user, password=PASSWORD, check=True, home=None):
        return self.tsh("login", f"--proxy={self.web_addr}", f"--user={user}", "--insecure",
                        input=password + "\n", check=check, home=home)

    # --- users -----------------------------------------------------------------------------------

    def invite(self, name, roles="access", db_users="", db_names=""):
        """`tctl users add`; returns the invite token from the printed link."""
        args = ["users", "add", name, f"--roles={roles}"]
        if db_users:
            args.append(f"--db-users={db_users}")
        if db_names:
            args.append(f"--db-names={db_names}")
        out = self.tctl(*args).stdout
        m = re.search(r"/web/invite/([0-9a-f]+)", out)
        assert m, out
        return m.group(1)

    def add_user(self, name, roles="access", db_users="", db_names="", password=PASSWORD):
        token = self.invite(name, roles, db_users or name, db_names)
        status, body = self.web("POST", f"/v1/webapi/users/invite/{token}", {"password": password})
        assert status == 200, body
        return name

    # --- HTTP ------------------------------------------------------------------------------------

    def web(self, method, path, body=None, cert=None, key=None):
        """One HTTPS request to the web port (certificate not verified); returns (status, text)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(cert, key)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"https://{self.web_addr}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=15) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def admin_api(self, method, path, body=None):
        """The Auth API with the admin identity `tctl` uses (data_dir/admin)."""
        admin = self.data_dir / "admin"
        ctx = ssl.create_default_context(cafile=str(admin / "ca.pem"))
        ctx.load_cert_chain(str(admin / "cert.pem"), str(admin / "key.pem"))
        req = urllib.request.Request(f"https://127.0.0.1:{self.auth_port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, context=ctx, timeout=15) as r:
            return json.loads(r.read() or b"{}")

    def register_db(self, name, protocol="postgres", labels=None, host_id="no-such-agent"):
        """A database server heartbeat as an agent would send it, but no agent behind it."""
        self.admin_api("PUT", "/v1/db_servers", {
            "ttl_seconds": 3600,
            "spec": {"host_id": host_id, "hostname": host_id, "database": {
                "metadata": {"name": name, "description": f"{protocol} test database",
                             "labels": labels or {"env": "dev"}},
                "spec": {"protocol": protocol, "uri": "127.0.0.1:1"}}}})

    # --- files tsh wrote -------------------------------------------------------------------------

    def key_path(self, user, home=None):
        return Path(home or self.home) / "keys" / "localhost" / user

    def cert_path(self, user, home=None):
        return Path(home or self.home) / "keys" / "localhost" / f"{user}-x509.pem"

    def db_cert_path(self, user, db, home=None):
        return Path(home or self.home) / "keys" / "localhost" / f"{user}-db" / "e2e.test" / f"{db}-x509.pem"

    # --- raw TLS to the web port -----------------------------------------------------------------

    def web_tls(self, alpn, cert=None, key=None):
        """A TLS connection to the web port offering exactly `alpn`; returns the SSL socket."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols([alpn])
        if cert:
            ctx.load_cert_chain(str(cert), str(key))
        raw = socket.create_connection(("127.0.0.1", self.web_port), timeout=10)
        return ctx.wrap_socket(raw, server_hostname="localhost")


def startup_message(user, database):
    """A PostgreSQL protocol 3.0 StartupMessage ("Message Formats")."""
    body = struct.pack("!I", 196608)
    for k, v in (("user", user), ("database", database)):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_pg_error(sock):
    """Reads one backend message, which must be an ErrorResponse; returns its fields by code."""
    kind, length = struct.unpack("!cI", recv_exact(sock, 5))
    payload = recv_exact(sock, length - 4)
    assert kind == b"E", (kind, payload)
    return {chr(p[0]): p[1:].decode() for p in payload.split(b"\0") if p}


def read_mysql_packet(sock):
    """Reads one MySQL packet; returns (sequence id, payload)."""
    header = recv_exact(sock, 4)
    length = header[0] | header[1] << 8 | header[2] << 16
    return header[3], recv_exact(sock, length)
