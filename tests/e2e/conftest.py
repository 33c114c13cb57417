"""Shared pieces of the end-to-end tests: the project's binaries, free ports,
and a Teleport cluster started from a config file in a temporary directory.

Run with Debian's Python: /usr/bin/python3 -m pytest tests/e2e
The binaries come from $TP_BIN_DIR (default: build/bin next to this tree).
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures import proc  # noqa: E402  (needs the path above)
BIN_DIR = Path(os.environ.get("TP_BIN_DIR", ROOT / "build" / "bin"))


def binary(name):
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build the project first (cmake --build build)")
    return str(path)


def free_port():
    return proc.free_port()


def wait_for_port(port, timeout=15.0, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            text = Path(log).read_text() if log else ""
            raise AssertionError(f"process exited with {proc.returncode} before listening on {port}:\n{text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def run(args, check=True, input=None, env=None, timeout=60):
    """Runs a command; returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    result = subprocess.run(args, capture_output=True, text=True, input=input, env=full_env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


class Process:
    """A started binary whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args, log_path, env=None):
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "w")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=full_env)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()

    def output(self):
        return self.log_path.read_text()


class Cluster:
    """An Auth Service (and, with proxy=True, a Proxy Service) in one `teleport start` process."""

    def __init__(self, tmp_path, proxy=False, extra_yaml="", teleport_yaml=""):
        self.dir = Path(tmp_path)
        self.data_dir = self.dir / "data"
        self.auth_port = free_port()
        self.web_port = free_port() if proxy else None
        self.postgres_port = free_port() if proxy else None
        self.mysql_port = free_port() if proxy else None
        self.config = self.dir / "teleport.yaml"
        text = f"""version: v3
teleport:
  nodename: localhost
  data_dir: {self.data_dir}
{teleport_yaml}  log:
    severity: DEBUG
auth_service:
  enabled: yes
  cluster_name: e2e.test
  listen_addr: 127.0.0.1:{self.auth_port}
"""
        if proxy:
            text += f"""proxy_service:
  enabled: yes
  web_listen_addr: 127.0.0.1:{self.web_port}
  public_addr: localhost:{self.web_port}
  postgres_listen_addr: 127.0.0.1:{self.postgres_port}
  mysql_listen_addr: 127.0.0.1:{self.mysql_port}
"""
        text += extra_yaml
        self.config.write_text(text)
        self.process = None

    @property
    def web_addr(self):
        return f"localhost:{self.web_port}"

    def start(self):
        self.process = Process([binary("teleport"), "start", "-c", str(self.config)], self.dir / "teleport.log")
        wait_for_port(self.auth_port, proc=self.process.proc, log=self.process.log_path)
        if self.web_port:
            wait_for_port(self.web_port, proc=self.process.proc, log=self.process.log_path)
        return self

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None

    def tctl(self, *args, check=True, input=None):
        return run([binary("tctl"), "-c", str(self.config), *args], check=check, input=input)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path).start()
    yield c
    c.stop()
