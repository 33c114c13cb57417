"""docs/cli.md is generated from the binaries' --help: it must match them."""
import importlib.machinery
import importlib.util

from conftest import BIN_DIR, ROOT


def test_cli_reference_is_up_to_date():
    loader = importlib.machinery.SourceFileLoader("gen_cli_docs", str(ROOT / "scripts" / "gen-cli-docs"))
    spec = importlib.util.spec_from_loader("gen_cli_docs", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    expected = module.render(BIN_DIR)
    actual = (ROOT / "docs" / "cli.md").read_text()
    assert actual == expected, "docs/cli.md is out of date: run scripts/gen-cli-docs"
