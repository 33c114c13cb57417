"""The README's quick start: scripts/demo.py starts a cluster with emulated RDS databases, prints
the tsh commands to try, and Ctrl+C removes everything it started."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN_DIR, ROOT, run
from fixtures import proc


def test_demo_prints_commands_that_work_and_cleans_up(tmp_path):
    if not proc.is_root():
        pytest.skip("the demo needs root")
    out_path = tmp_path / "demo.out"
    out = open(out_path, "w")
    demo = subprocess.Popen(["/usr/bin/python3", str(ROOT / "scripts" / "demo.py")], stdout=out,
                            stderr=subprocess.STDOUT, env={**os.environ, "TP_BIN_DIR": str(BIN_DIR)})
    try:
        deadline = time.monotonic() + 120
        while "Press Ctrl+C" not in out_path.read_text():
            assert demo.poll() is None, out_path.read_text()
            assert time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.5)
        text = out_path.read_text()
        proxy = re.search(r"tsh login --proxy=(\S+) --user=alice --insecure\s+# password: (\S+)", text)
        work = re.search(r"demo: working in (\S+)", text).group(1)
        env = {"TELEPORT_HOME": str(tmp_path / "tsh")}
        tsh = str(BIN_DIR / "tsh")
        run([tsh, "login", f"--proxy={proxy.group(1)}", "--user=alice", "--insecure"], input=proxy.group(2) + "\n",
            env=env)
        listed = run([tsh, "db", "ls"], env=env).stdout
        assert "rds-postgres" in listed and "rds-mariadb" in listed
        r = run([tsh, "db", "connect", "rds-postgres", "--db-user=alice", "--db-name=demo"],
                input="select 'demo-ok:' || current_user;\n", env=env, timeout=60)
        assert "demo-ok:alice" in r.stdout, r.stderr
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        out.close()
    assert not os.path.exists(work), "the demo left its working directory behind"
    left = subprocess.run(["pgrep", "-f", f"teleport start -c {work}"], capture_output=True)
    assert left.returncode == 1, "the demo left teleport running"
