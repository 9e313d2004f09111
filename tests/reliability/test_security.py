"""Security: no user text reaches SQL, reading a run reads only the run, temporary
names are never followed through links, and the report runs no script but its own."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from creditsim.linkage.probabilistic import SplinkOptions, _connect
from creditsim.policy import preset_text
from .helpers import TINY, cli, edit_manifest, error_lines, reseal

#: Quotes, a statement separator, a comment and a newline: each breaks naive SQL.
NASTY = "a'; COPY (SELECT 1) TO 'owned.csv'; SET temp_directory='z\" -- \nline"


#: Real runs, child processes and signals: the full suite, not the fast subset.
pytestmark = pytest.mark.slow


def test_duckdb_settings_take_paths_verbatim(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where an injected COPY would write
    work = tmp_path / NASTY / "linkage"
    con = _connect(work, SplinkOptions(memory_limit="1GB", threads=1))
    try:
        got = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    finally:
        con.close()
    assert got == (work / "duckdb_tmp").as_posix()
    assert not list(tmp_path.rglob("owned.csv"))


def test_nasty_paths_in_every_path_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / f"policy {NASTY}.toml"
    policy.write_text(preset_text("beijing"), encoding="utf-8")
    out = tmp_path / NASTY / f"run {NASTY}"
    res = cli("run", *TINY, "--policy", policy, "--out", out)
    assert res.exit_code == 0, res.output
    assert (out / "manifest.json").is_file()
    assert cli("audit", out).exit_code == 0
    report = tmp_path / NASTY / f"report {NASTY}.html"
    res = cli("report", out, "--out", report)
    assert res.exit_code == 0, res.output
    assert report.is_file()
    assert not list(tmp_path.rglob("owned.csv"))


def test_report_never_reads_a_file_the_manifest_points_at(copy_run, tmp_path: Path) -> None:
    secret = tmp_path / "secret.toml"
    secret.write_text("SECRET-CONTENT = 1\n", encoding="utf-8")
    run = copy_run()
    (run / "policy.toml").unlink()

    def point_outside(m: dict) -> None:
        m["config"]["policy"] = str(secret)
        m["files"].pop("policy.toml")  # as in a manifest that lists no documents
    edit_manifest(run, point_outside)
    res = cli("report", run, "--out", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "SECRET-CONTENT" not in text
    assert "is not available" in text


@pytest.mark.parametrize("how", ["policy_symlink", "table_symlink", "manifest_symlink",
                                 "dotdot", "absolute"])
def test_paths_leading_out_of_the_run_are_refused(copy_run, tmp_path: Path, how: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text("SECRET-CONTENT\n", encoding="utf-8")
    run = copy_run()
    if how == "policy_symlink":
        (run / "policy.toml").unlink()
        (run / "policy.toml").symlink_to(secret)
    elif how == "table_symlink":
        shutil.copy(run / "links.parquet", tmp_path / "links.parquet")
        (run / "links.parquet").unlink()
        (run / "links.parquet").symlink_to(tmp_path / "links.parquet")
    elif how == "manifest_symlink":
        shutil.move(run / "manifest.json", tmp_path / "manifest.json")
        (run / "manifest.json").symlink_to(tmp_path / "manifest.json")
    else:
        target = "../secret" if how == "dotdot" else str(secret)
        edit_manifest(run, lambda m: m["files"].__setitem__(target, {
            "bytes": secret.stat().st_size, "sha256": "0" * 64}))
    lines = error_lines(cli("report", run, "--out", tmp_path / "r.html"))
    assert any("outside the run" in ln or "not a path inside" in ln for ln in lines), lines
    assert not (tmp_path / "r.html").exists()


def test_report_temp_file_is_not_a_planted_link(copy_run, tmp_path: Path) -> None:
    run = copy_run()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    out = tmp_path / "r.html"
    (tmp_path / ".r.html.tmp").symlink_to(victim)  # the name a fixed scheme would use
    res = cli("report", run, "--out", out)
    assert res.exit_code == 0, res.output
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert out.is_file() and not out.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".r.html.tmp", "r.html", "run",
                                                         "victim.txt"]


def test_run_temp_directory_is_not_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious\n", encoding="utf-8")
    # This process's PID is the one a fixed ".NAME.partial-PID" scheme would use.
    (tmp_path / f".r.partial-{os.getpid()}").symlink_to(victim)
    res = cli("run", *TINY, "--out", tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert (victim / "keep.txt").read_text(encoding="utf-8") == "precious\n"
    assert (tmp_path / "r" / "manifest.json").is_file()


def test_run_lock_file_is_not_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    (tmp_path / ".r.lock").symlink_to(victim)
    lines = error_lines(cli("run", *TINY, "--out", tmp_path / "r"))
    assert "symbolic link" in lines[0] and ".r.lock" in lines[0]
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert not (tmp_path / "r").exists()


def _csp(text: str) -> dict[str, list[str]]:
    m = re.search(r'http-equiv=["\']Content-Security-Policy["\'] content="([^"]*)"', text)
    assert m, "no Content-Security-Policy"
    return {d.split()[0]: d.split()[1:] for d in m.group(1).split(";") if d.strip()}


def _b64(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def crafted_report(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of a run whose every text field carries markup."""
    evil = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'
    run = tmp_path_factory.mktemp("evil") / f"run {evil.replace('/', '|')}"
    shutil.copytree(tiny_run, run)
    with (run / "policy.toml").open("a", encoding="utf-8") as f:
        f.write(f"\n# {evil}\n")
    reseal(run, "policy.toml")

    def taint(m: dict) -> None:
        m["creditsim"] = evil
        m["config"]["policy"] = None
        m["config"]["note"] = evil
        m["parameters"][evil] = {"value": evil, "source": evil}
    edit_manifest(run, taint)
    out = run.parent / "r.html"
    res = cli("report", run, "--out", out)
    assert res.exit_code == 0, res.output
    return out.read_text(encoding="utf-8")


def test_report_escapes_every_text_field(crafted_report: str) -> None:
    markup = re.sub(r"<script[^>]*>.*?</script>", "", crafted_report, flags=re.S)
    assert "<img" not in markup and 'onerror="' not in markup and "<script" not in markup
    # the run's name (title, heading), version, policy text, parameter (name, value,
    # source), configuration: each shown, escaped
    assert markup.count("&lt;img src=x onerror=") == 8


def test_report_csp_allows_only_its_own_scripts(crafted_report: str) -> None:
    text = crafted_report
    csp = _csp(text)
    assert csp["default-src"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"} & set(
            csp[directive]), csp[directive]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.S)
    code = [body for attrs, body in scripts if 'type="application/json"' not in attrs]
    data = [body for attrs, body in scripts if 'type="application/json"' in attrs]
    assert len(code) == 2 and len(data) >= 10
    assert {_b64(body) for body in code} == set(csp["script-src"])
    styles = re.findall(r"<style[^>]*>(.*?)</style>", text, flags=re.S)
    assert {_b64(body) for body in styles} <= set(csp["style-src"])
    for body in data:  # a data block is plain JSON that nothing can break out of
        assert "<" not in body and ">" not in body
        json.loads(body)
    assert ' style="' not in text and " style='" not in text  # no inline style attributes


def test_chart_data_cannot_close_its_block() -> None:
    import plotly.graph_objects as go

    from creditsim.report.html import _Doc

    doc = _Doc()
    fig = go.Figure()
    fig.add_bar(x=["</script><script>alert(1)</script>"], y=[1])
    fig.update_layout(title="<!-- & </SCRIPT >")
    doc.fig(fig)
    html = "".join(doc.parts)
    assert html.count("</script>") == 1 and "<!--" not in html and "</SCRIPT" not in html
    body = re.search(r"<script[^>]*>(.*)</script>", html, flags=re.S).group(1)
    assert json.loads(body)["data"][0]["x"] == ["</script><script>alert(1)</script>"]
