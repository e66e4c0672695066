import json

from click.testing import CliRunner

from emoalign.cli import cli


def test_taxonomy_list_show_and_plot(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["taxonomy", "list", "--json"])
    assert out.exit_code == 0, out.output
    assert {t["name"]: t["labels"] for t in json.loads(out.output)}["emonet40"] == 40

    out = runner.invoke(cli, ["taxonomy", "show", "mikels8"])
    assert out.exit_code == 0 and "awe" in out.output and "warriner2013" in out.output

    out = runner.invoke(cli, ["taxonomy", "show", "nope"])
    assert out.exit_code != 0 and "unknown taxonomy 'nope'" in out.output

    png = tmp_path / "va.png"
    out = runner.invoke(cli, ["taxonomy", "plot", "--out", str(png)])
    assert out.exit_code == 0, out.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
