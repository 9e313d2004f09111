"""Scenario files as a sweep's base and as an arm's scenario: the same job
configurations as the inline spec, the checks of ``run --scenario`` with their
messages, located in the spec or in the scenario file. No pipeline runs here."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.errors import ConfigError
from creditsim.launch import cli_request, prepare
from creditsim.sweep.spec import read_spec

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "src" / "creditsim" / "policy" / "presets" / "spc-list.toml"

SCENARIO = """\
city = "hangzhou"
residents = 3000
days = 60
burn_in_days = 0
policy = "../policies/mine.toml"
feedback = false
[parameters]
"records.bank.p_id_missing" = 0.03
records.court.p_id_other = 0.02
"""

INLINE = """\
replicates = 2
[base]
city = "hangzhou"
residents = 3000
days = 60
burn_in_days = 0
policy = "../policies/mine.toml"
feedback = false
[base.parameters]
"records.bank.p_id_missing" = 0.03
records.court.p_id_other = 0.02
[[arms]]
name = "mine"
[[arms]]
name = "spc"
policy = "spc-list"
parameters = { "records.bank.p_id_missing" = 0.05 }
"""

FROM_FILE = """\
replicates = 2
base = "../scenarios/base.toml"
[[arms]]
name = "mine"
[[arms]]
name = "spc"
policy = "spc-list"
parameters = { "records.bank.p_id_missing" = 0.05 }
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """specs/, scenarios/base.toml and policies/mine.toml under ``tmp_path``."""
    for d in ("specs", "scenarios", "policies"):
        (tmp_path / d).mkdir()
    (tmp_path / "scenarios" / "base.toml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "policies" / "mine.toml").write_bytes(POLICY.read_bytes())
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _jobs(spec: Path) -> list[tuple[str, int, dict, str]]:
    return [(j.rel, j.seed, j.config.model_dump(mode="json"), j.key)
            for j in read_spec(spec).jobs]


def test_scenario_base_gives_the_inline_jobs(tree: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.chdir(tree / "scenarios")  # file names do not depend on the working dir
    inline = _jobs(_write(tree / "specs" / "inline.toml", INLINE))
    from_file = _jobs(_write(tree / "specs" / "file.toml", FROM_FILE))
    assert inline == from_file
    cfg = inline[0][2]
    assert cfg["city"] == "hangzhou" and cfg["residents"] == 3000 and not cfg["feedback"]
    assert cfg["policy"] == str((tree / "policies" / "mine.toml").resolve())
    assert cfg["overrides"] == {"records.bank.p_id_missing": 0.03,
                                "records.court.p_id_other": 0.02}
    spc = inline[2][2]
    assert spc["policy"] == "spc-list"
    assert spc["overrides"]["records.bank.p_id_missing"] == 0.05


def test_the_job_config_is_the_run_config_of_the_scenario(tree: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """An arm without its own keys runs what ``run --scenario FILE`` runs (its seed aside)."""
    monkeypatch.chdir(tree)
    job = read_spec(_write(tree / "specs" / "file.toml", FROM_FILE)).jobs[0]
    run = prepare(cli_request([Path("scenarios/base.toml")], {}, None)).config
    want = run.model_dump(mode="json") | {"seed": job.seed,
                                          "policy": str(Path(run.policy).resolve())}
    assert job.config.model_dump(mode="json") == want


def test_an_arm_scenario_takes_the_base_scenario_place(tree: Path) -> None:
    _write(tree / "scenarios" / "other.toml", 'residents = 2000\ndays = 30\n'
           'burn_in_days = 0\n[parameters]\n"feedback.deterrence" = 0.5\n')
    spec = _write(tree / "specs" / "s.toml", FROM_FILE + '[[arms]]\nname = "other"\n'
                  'scenario = "../scenarios/other.toml"\nresidents = 1000\n')
    other = [j.config for j in read_spec(spec).jobs if j.arm == "other"]
    assert len(other) == 2
    c = other[0]
    # the arm's own keys over its scenario; nothing from the base's scenario
    assert (c.residents, c.days, c.city, c.feedback) == (1000, 30, "beijing", True)
    assert c.overrides == {"feedback.deterrence": 0.5}


def test_scenario_problems_located_in_the_scenario_file(tree: Path) -> None:
    bad = _write(tree / "scenarios" / "bad.toml",
                 'residents = -3\ndayz = 4\npolicy = "nonesuch"\n[parameters]\n'
                 '"records.bank.p_id_missing" = 9\n')
    spec = _write(tree / "specs" / "s.toml", FROM_FILE + '[[arms]]\nname = "bad"\n'
                  'scenario = "../scenarios/bad.toml"\n[[arms]]\nname = "gone"\n'
                  'scenario = "../scenarios/gone.toml"\n[[arms]]\nname = "d"\n'
                  'residents = "many"\npolicy = "nonesuch2"\n')
    with pytest.raises(ConfigError) as e:
        read_spec(spec)
    got = [str(p) for p in e.value.problems]
    b = str(bad)
    want = [(f"{b}:1 residents", "must be positive"),
            (f"{b}:2 dayz", "did you mean 'days'?"),
            (f"{b}:3 policy", "not a preset"),
            (f"{b}:5 records.bank.p_id_missing", "outside the allowed range"),
            (f"{spec}:14 arms[3].scenario", "no such scenario file"),
            (f"{spec}:17 arms[4].residents", "valid integer"),
            (f"{spec}:18 arms[4].policy", "'nonesuch2'")]
    for where, what in want:
        assert any(g.startswith(where) and what in g for g in got), (where, got)
    assert len(got) == len(want), got


def test_scenario_messages_are_the_run_messages(tree: Path) -> None:
    """The scenario's own problems read as ``run --scenario`` prints them."""
    bad = _write(tree / "scenarios" / "bad.toml",
                 'residents = -3\ndayz = 4\n[parameters]\n"records.bank.p_id_missing" = 9\n')
    with pytest.raises(ConfigError) as run:
        prepare(cli_request([bad], {}, None))
    spec = _write(tree / "specs" / "s.toml", 'replicates = 1\nbase = "../scenarios/bad.toml"\n'
                  '[[arms]]\nname = "a"\n')
    with pytest.raises(ConfigError) as sweep:
        read_spec(spec)
    assert [str(p) for p in sweep.value.problems] == [str(p) for p in run.value.problems]


def test_relative_city_and_policy_files_from_the_spec_folder(tree: Path) -> None:
    city = ROOT / "src" / "creditsim" / "cities" / "data" / "xiamen.toml"
    (tree / "specs" / "cities").mkdir()
    (tree / "specs" / "cities" / "x.toml").write_bytes(city.read_bytes())
    spec = _write(tree / "specs" / "s.toml", 'replicates = 1\n[base]\nresidents = 500\n'
                  'days = 10\nburn_in_days = 0\ncity = "cities/x.toml"\n'
                  'policy = "../policies/mine.toml"\n[[arms]]\nname = "a"\n')
    c = read_spec(spec).jobs[0].config
    assert c.city == str((tree / "specs" / "cities" / "x.toml").resolve())
    assert c.policy == str((tree / "policies" / "mine.toml").resolve())


def test_base_of_the_wrong_kind_and_cli_exit_2(tree: Path) -> None:
    spec = _write(tree / "specs" / "s.toml", 'replicates = 1\nbase = 3\n[[arms]]\nname = "a"\n')
    out = tree / "out"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert f"{spec}:2 base" in res.output and "scenario" in res.output
    assert not out.exists()
