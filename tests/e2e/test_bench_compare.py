"""bench/compare, through its command line: a short comparison of two builds on a real PostgreSQL,
and the errors for a --base it cannot use. The builds are this tree's binaries, given as a bin/
directory that is not a Ninja build (so nothing is rebuilt)."""
import json
import subprocess

import pytest

from conftest import BIN_DIR, ROOT
from fixtures import proc

COMPARE = str(ROOT / "bench" / "compare")


def bin_copy(tmp_path, name):
    d = tmp_path / name / "bin"
    d.mkdir(parents=True)
    for binary in ("teleport", "tctl", "tsh"):
        (d / binary).symlink_to(BIN_DIR / binary)
    return d


def compare(*args, timeout=60):
    return subprocess.run(["/usr/bin/python3", COMPARE, *args], capture_output=True, text=True, timeout=timeout)


def test_an_unusable_base_is_named_with_what_to_give(tmp_path):
    new = bin_copy(tmp_path, "new")
    r = compare("--base", "no-such-revision", "--bin-dir", str(new))
    assert r.returncode != 0
    assert "--base 'no-such-revision' is neither a directory nor a git revision" in r.stderr

    (tmp_path / "empty").mkdir()
    r = compare("--base", str(tmp_path / "empty"), "--bin-dir", str(new))
    assert r.returncode != 0
    assert "teleport, tctl, tsh not there; give the bin/ directory of a build, or a git revision" in r.stderr

    r = compare("--base", "", "--bin-dir", str(new))
    assert r.returncode == 2 and "--base is empty" in r.stderr

    r = compare("--base", str(new), "--bin-dir", str(new), "--rounds", "0")
    assert r.returncode == 2 and "--rounds, --duration and --clients must be at least 1" in r.stderr


def test_two_builds_in_alternating_rounds(tmp_path):
    if not proc.is_root():
        pytest.skip("bench/compare starts PostgreSQL as its system user")
    base, new = bin_copy(tmp_path, "base"), bin_copy(tmp_path, "new")
    out = tmp_path / "results"
    r = compare("--base", str(base), "--bin-dir", str(new), "--rounds", "2", "--duration", "2", "--warmup", "0",
                "--clients", "2", "--scale", "1", "--copy-mib", "1", "--out", str(out), "--tag", "t", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(next(out.glob("*-compare-t.json")).read_text())
    rounds = doc["rounds"]
    assert [(x["build"], x["round"]) for x in rounds] == [("base", 1), ("new", 1), ("new", 2), ("base", 2)]
    for x in rounds:
        assert x["tps"] > 0 and x["cpu_proxy"] > 0 and x["cpu_agent"] > 0, x
        assert x["box_cpu_us_per_tx"] * 1e-6 * 1e4 > x["cpu_both"], x  # the box includes both processes
        assert 0 < x["box_database_us_per_tx"] < x["box_cpu_us_per_tx"], x  # PostgreSQL answered every query
        assert x["copy_mib_per_s"] > 0, x
    assert doc["meta"]["errors"] == []
    md = next(out.glob("*-compare-t.md")).read_text()
    assert f"base: {base} (teleport built" in md
    summary = md.split("## Summary")[1].split("## Rounds")[0]
    tps_row = next(line for line in summary.splitlines() if line.startswith("| TPS |"))
    # Two rounds each: a verdict, one way or the other.
    assert "in every round" in tps_row or "within the rounds' spread" in tps_row, tps_row
