"""The HTML report: self-contained, and seen as a person sees it — in headless Chromium
(Debian package ``chromium``), driven over the DevTools protocol: no console errors,
no network requests, every chart drawn."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from creditsim.cli import app

runner = CliRunner()
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1280,900"]


@pytest.fixture(scope="module")
def report(rich_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    res = runner.invoke(app, ["report", str(rich_run), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # no external scripts, styles, images or frames
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:)?//", text)
    for section in ("Headline", "Scores and tiers", "Lists", "Blocked services",
                    "Wrongful sanctions by cause", "Disparate impact", "Linkage accuracy",
                    "Policy", "Parameters and their sources"):
        assert section in text
    assert "[[lists]]" in text  # the policy's own text
    assert "Seventh National Population Census" in text  # a parameter's source
    assert text.count('class="plotly-graph-div"') >= 10


def test_report_without_services_tables(bare_run: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(bare_run), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "not available: this run has no decisions or demand table" in (
        tmp_path / "r.html").read_text(encoding="utf-8")


class _Page:
    """A minimal DevTools-protocol client for one page target."""

    def __init__(self, ws_url: str):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.n = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.n += 1
        my = self.n
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg.get("result", {})
            self.events.append(msg)

    def pump(self, until: str | None, seconds: float) -> None:
        end = time.monotonic() + seconds
        self.ws.settimeout(0.5)
        while time.monotonic() < end:
            try:
                msg = json.loads(self.ws.recv())
            except Exception:  # noqa: BLE001 - a receive timeout
                continue
            self.events.append(msg)
            if until and msg.get("method") == until:
                return
        self.ws.settimeout(30)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install "
                                             "chromium)")
def test_report_renders_offline_in_chromium(report: Path, tmp_path: Path) -> None:
    pytest.importorskip("websocket")
    profile = tmp_path / "profile"
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        page = _Page(page_ws)
        for dom in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{dom}.enable")
        # Every Content-Security-Policy violation, as the page sees it.
        page.call("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.__csp=[];document.addEventListener('securitypolicyviolation',"
            "function(e){window.__csp.push(e.effectiveDirective+' '+e.blockedURI+' '"
            "+(e.sample||''));});"))
        page.call("Page.navigate", url=report.as_uri())
        page.pump("Page.loadEventFired", 60)
        page.pump(None, 2.0)  # let plotly finish drawing
        expr = ("[document.querySelectorAll('.js-plotly-plot').length,"
                " document.querySelectorAll('.js-plotly-plot .main-svg').length,"
                " document.querySelectorAll('.js-plotly-plot .main-svg .trace').length,"
                " document.querySelectorAll('.plotly-graph-div').length]")
        res = page.call("Runtime.evaluate", expression=expr, returnByValue=True)
        plots, svgs, traces, divs = res["result"]["value"]
        # plotly.js's own style rules reached the page (through the CSSOM), e.g. the
        # mode bar is positioned by them.
        csp_expr = ("[window.__csp, document.getElementById('plotly.js-style-global')"
                    ".sheet.cssRules.length, getComputedStyle(document.querySelector("
                    "'.modebar-container')).position]")
        res = page.call("Runtime.evaluate", expression=csp_expr, returnByValue=True)
        violations, plotly_rules, modebar_position = res["result"]["value"]
        shot = page.call("Page.captureScreenshot", format="png")
        page.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    errors = [e for e in page.events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded"
                  and e["params"]["entry"]["level"] == "error")]
    requests = [e["params"]["request"]["url"] for e in page.events
                if e.get("method") == "Network.requestWillBeSent"]
    outside = [u for u in requests if not u.startswith(("file:", "data:", "blob:",
                                                        "about:"))]
    assert not violations, violations[:3]
    assert plotly_rules > 10 and modebar_position == "absolute", (plotly_rules,
                                                                  modebar_position)
    assert not errors, errors[:3]
    assert not outside, outside[:5]
    assert divs >= 10 and plots == divs, (plots, divs)
    assert svgs >= plots and traces >= plots
    assert len(shot["data"]) > 20_000  # a non-trivial PNG (base64)


def test_report_without_plotly_says_how_to_install(rich_run: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "plotly", None)
    res = runner.invoke(app, ["report", str(rich_run), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2
    assert "pip install plotly==7.1.0" in res.output and "'report' extra" in res.output
