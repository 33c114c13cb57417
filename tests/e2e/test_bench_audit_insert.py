"""`bench/audit-insert` measures what storing an audit event costs in SQLite, per page size, on the
schema `teleport start` creates (bench/README.md)."""
import re
import subprocess

from conftest import BIN_DIR, ROOT


def test_it_reports_cpu_per_event_for_both_page_sizes():
    out = subprocess.run([str(ROOT / "bench" / "audit-insert"), "--bin-dir", str(BIN_DIR), "--events", "2000",
                          "--batch", "100", "--rounds", "1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "2000 events of" in out.stdout
    for pages in (" 4 KiB pages: ", "16 KiB pages: "):
        line = next(ln for ln in out.stdout.splitlines() if pages in ln)
        assert float(re.search(r"([0-9.]+)$", line).group(1)) > 0


def test_a_teleport_that_cannot_start_is_named():
    out = subprocess.run([str(ROOT / "bench" / "audit-insert"), "--bin-dir", "/nonexistent"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "no teleport in /nonexistent" in out.stderr
