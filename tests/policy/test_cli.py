"""The policy commands, run through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from creditsim.policy import preset_text
from creditsim.policy.cli import policy_app, presets_command

from .test_loader import BAD

runner = CliRunner()


def test_check_valid_preset_file(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text(preset_text("rongcheng"))
    res = runner.invoke(policy_app, ["check", str(f)])
    assert res.exit_code == 0, res.output
    assert "OK rongcheng" in res.output


def test_check_reports_every_problem_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(BAD)
    res = runner.invoke(policy_app, ["check", str(f)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert f"{f}:31 rules[0].points" in res.output
    assert f"{f}:19 tiers[0].status" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_check_garbage_bytes(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_bytes(b"\x00\xff[[[")
    res = runner.invoke(policy_app, ["check", str(f)])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_show_and_presets() -> None:
    res = runner.invoke(policy_app, ["show", "spc-list"])
    assert res.exit_code == 0 and res.output == preset_text("spc-list")
    res = runner.invoke(policy_app, ["show", "atlantis"])
    assert res.exit_code == 2
    app = typer.Typer()
    app.command("presets")(presets_command)
    app.command("noop")(lambda: None)
    res = runner.invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for name in ("rongcheng", "fuzhou", "hangzhou", "xiamen", "spc-list", "beijing", "sesame"):
        assert name in res.output
