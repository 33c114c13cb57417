"""The benchmark harness behind bench/run (see bench/README.md).

The server launchers, test PKI and process helpers are the e2e suite's fixtures (one copy):
tests/e2e goes on sys.path so `fixtures.*` imports as it does under pytest.
"""
import sys
from pathlib import Path

_E2E = Path(__file__).resolve().parents[2] / "tests" / "e2e"
if str(_E2E) not in sys.path:
    sys.path.insert(0, str(_E2E))
