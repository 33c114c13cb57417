"""The demo cluster behind `scripts/demo` (see README.md).

It starts, all on 127.0.0.1 in a temporary directory:
  - a local AWS API double (STS, RDS, IAM, instance metadata) that checks every SigV4 signature;
  - PostgreSQL 15 and MariaDB 10.11 that accept IAM users through PAM, verifying RDS IAM tokens the
    way RDS does (tests/e2e/fixtures: the same pieces the end-to-end tests use);
  - `teleport start` with the Auth, Proxy and Database services (SQLite backend), the Database
    Service using AWS credentials from the double to mint IAM tokens;
  - a user "alice" with a printed password,
then prints the tsh commands to try and waits for Ctrl+C.
"""
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from fixtures import certs  # noqa: E402
from fixtures.aws_double import AwsDouble  # noqa: E402
from fixtures.mariadb_server import MariaDBServer  # noqa: E402
from fixtures.postgres_server import PostgresServer, hba_pam, hba_password  # noqa: E402
from fixtures.rds_pam import RdsPam  # noqa: E402

BIN = Path(os.environ.get("TP_BIN_DIR", ROOT / "build" / "bin")).resolve()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=20):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"demo: nothing listens on 127.0.0.1:{port} after {timeout}s; see the logs above")


def tctl(config, *args):
    return subprocess.run([str(BIN / "tctl"), "-c", str(config), *args], check=True, capture_output=True,
                          text=True).stdout


def main():
    if os.geteuid() != 0:
        raise SystemExit("demo: run as root (it starts PostgreSQL and MariaDB as their system users and "
                         "installs a PAM service for the RDS IAM emulation)")
    for name in ("teleport", "tctl", "tsh"):
        if not (BIN / name).exists():
            raise SystemExit(f"demo: {BIN / name} is missing; run scripts/build first")
    work = Path(tempfile.mkdtemp(prefix="teleport-demo-"))
    started = []
    try:
        print(f"demo: working in {work}")
        for sub in ("pki", "aws", "rds-pam", "pg", "mariadb"):
            (work / sub).mkdir()
        pki = certs.make_pki(work / "pki")
        aws = AwsDouble(work / "aws").start()
        started.append(aws)
        agent_creds = aws.add_user("teleport-db-service")
        pam = RdsPam(work / "rds-pam", region=aws.region, aws_state=aws.state_path).install()
        started.append(pam)

        pg = PostgresServer(work / "pg", pki.server_cert, pki.server_key, ca=pki.ca_cert, pam_service=pam.service,
                            hba_lines=[hba_pam(pam.service), hba_password()]).start()
        started.append(pg)
        pg.create_user("alice", pam=True)
        pg.create_database("demo", owner="alice")
        maria = MariaDBServer(work / "mariadb", pki.server_cert, pki.server_key, ca=pki.ca_cert).start()
        started.append(maria)
        maria.create_user("alice", pam_service=pam.service)
        maria.create_database("demo")
        aws.add_db_instance("demo-postgres", engine="postgres", address="127.0.0.1", port=pg.port, iam_auth=True,
                            tags={"env": "demo"})

        web, pg_port, my_port = free_port(), free_port(), free_port()
        config = work / "teleport.yaml"
        config.write_text(f"""version: v3
teleport:
  nodename: localhost
  data_dir: {work / 'data'}
  proxy_server: localhost:{web}
auth_service:
  enabled: yes
  cluster_name: demo.local
  listen_addr: 127.0.0.1:{free_port()}
proxy_service:
  enabled: yes
  web_listen_addr: 127.0.0.1:{web}
  public_addr: localhost:{web}
  postgres_listen_addr: 127.0.0.1:{pg_port}
  mysql_listen_addr: 127.0.0.1:{my_port}
db_service:
  enabled: yes
  databases:
  - name: rds-postgres
    description: PostgreSQL 15 with emulated RDS IAM authentication
    protocol: postgres
    uri: 127.0.0.1:{pg.port}
    static_labels: {{env: dev}}
    aws: {{region: {aws.region}}}
    tls: {{ca_cert_file: {pki.ca_cert}}}
  - name: rds-mariadb
    description: MariaDB 10.11 with emulated RDS IAM authentication
    protocol: mysql
    uri: 127.0.0.1:{maria.port}
    static_labels: {{env: dev}}
    aws: {{region: {aws.region}}}
    tls: {{ca_cert_file: {pki.ca_cert}}}
""")
        env = dict(os.environ, **aws.env(), AWS_ACCESS_KEY_ID=agent_creds.access_key,
                   AWS_SECRET_ACCESS_KEY=agent_creds.secret, AWS_EC2_METADATA_DISABLED="true")
        log = open(work / "teleport.log", "w")
        teleport = subprocess.Popen([str(BIN / "teleport"), "start", "-c", str(config)], stdout=log,
                                    stderr=subprocess.STDOUT, env=env)
        started.append(teleport)
        wait_for_port(web)

        out = tctl(config, "users", "add", "alice", "--roles=access", "--db-users=alice", "--db-names=demo,postgres")
        invite = re.search(r"/web/invite/([0-9a-f]+)", out).group(1)
        password = "demo-" + secrets.token_hex(6)
        subprocess.run([str(BIN / "tsh"), "users", "set-password", f"--proxy=localhost:{web}", f"--invite={invite}",
                        "--insecure"], input=password + "\n", text=True, check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while "rds-postgres" not in tctl(config, "get", "db") and time.monotonic() < deadline:
            time.sleep(0.5)

        print(f"""
The demo cluster is running (logs: {work / 'teleport.log'}).

  export PATH={BIN}:$PATH
  tsh login --proxy=localhost:{web} --user=alice --insecure     # password: {password}
  tsh db ls
  tsh db connect rds-postgres --db-user=alice --db-name=demo
  tsh db connect rds-mariadb --db-user=alice --db-name=demo
  tsh proxy db rds-postgres --tunnel --port 15432 --db-user=alice --db-name=demo   # then: psql "host=localhost port=15432 user=alice dbname=demo sslmode=disable"
  tctl -c {config} audit events

Press Ctrl+C to stop the demo and remove everything it started.""", flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        print("\ndemo: stopping", flush=True)
        for item in reversed(started):
            try:
                if isinstance(item, subprocess.Popen):
                    item.terminate()
                    item.wait(timeout=15)
                elif hasattr(item, "remove"):
                    item.remove()
                else:
                    item.stop()
            except Exception as e:  # keep cleaning up the rest
                print(f"demo: cleanup: {e}", file=sys.stderr)
        subprocess.run(["rm", "-rf", str(work)])


def _stop(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    main()
