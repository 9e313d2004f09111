"""Scenario files: validation (every problem at once, located), precedence
(defaults < file < explicit options < --set), origins, and the resolved text's round
trip. No pipeline runs here (tests/scenario/test_runs.py makes the runs)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import creditsim
from creditsim.cli import app
from creditsim.config import RunConfig
from creditsim.errors import ConfigError
from creditsim.launch import api_request, cli_request, prepare
from creditsim.scenario import option_fields, render

runner = CliRunner()

BAD = """\
# every kind of problem, one per line
residents = 2000
dayz = 30
seed = "seven"
feedback = 1
linkage_threshold = 1.5
policy = "no-such-policy.toml"

[parameters]
records.bank.p_id_misssing = 0.02
"records.court.p_name_typo" = 2.0

[parameters.appeals]
base = "often"
"""

BAD_LINES = [
    "error: {f}:3 dayz: unknown key; did you mean 'days'?",
    "error: {f}:4 seed: Input should be a valid integer (got 'seven')",
    "error: {f}:5 feedback: Input should be a valid boolean (got 1)",
    "error: {f}:6 linkage_threshold: must be in (0, 1]",
    "error: {f}:7 policy: no such policy file: {d}/no-such-policy.toml",
    "error: {f}:10 records.bank.p_id_misssing: unknown parameter; did you mean "
    "'records.bank.p_id_missing'?",
    "error: {f}:11 records.court.p_name_typo: 2.0 is outside the allowed range [0, 1]",
    "error: {f}:14 appeals.base: expected a number, got 'often'",
]


def _errors(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("error:")]


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def test_every_problem_at_once_with_its_line_and_nothing_written(tmp_path: Path) -> None:
    f = _write(tmp_path, BAD)
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "--scenario", str(f), "--out", str(out), "--quiet"])
    assert res.exit_code == 2, res.output
    assert _errors(res.output) == [ln.format(f=f, d=tmp_path) for ln in BAD_LINES]
    assert "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


@pytest.mark.parametrize("text, line", [
    ('city = "atlantis"\n', "{f}:1 city: unknown city 'atlantis' (not a shipped city, and no such file); shipped: beijing, fuzhou, hangzhou, rongcheng, xiamen"),
    ('days = 0\n', "{f}:1 days: must be positive"),
    ('days = 99999\n', "{f}:1 days: must be at most 9131 (the configured horizon)"),
    ('days = 30.5\n', "{f}:1 days: Input should be a valid integer (got 30.5)"),
    ('start_date = "soon"\n', "{f}:1 start_date: Input should be a valid date in the "
     "format YYYY-MM-DD, input is too short (got 'soon')"),
    ('policy = "beijng"\n', "{f}:1 policy: 'beijng': no such file, and not a preset "
     "(beijing, fuzhou, hangzhou, rongcheng, sesame, spc-list, xiamen); did you mean "
     "'beijing'?"),
    ('seed = 1\n[meta]\nname = "x"\ndays = 3\n',
     "{f}:4 meta.days: unknown key; 'days' is a run option: write it above the first "
     "[table] header"),
    ('[parameters]\nseed = 3\n', "{f}:2 parameters.seed: unknown parameter; 'seed' is a "
     "run option: write it above the first [table] header"),
    ('overrides = {}\n', "{f}:1 overrides: unknown key (known: city, residents, days, seed, "
     "start_date, burn_in_days, chunk_residents, policy, feedback, linkage_threshold)"),
    ('days = [\n', "{f}:1: not valid TOML: "),
    ('[parameters]\n"appeals.base" = 0.1\n[parameters.appeals]\nbase = 0.2\n',
     "{f}:4 parameters.appeals.base: given twice (first at {f}:2)"),
])
def test_one_located_line_per_problem(tmp_path: Path, text: str, line: str) -> None:
    f = _write(tmp_path, text)
    res = runner.invoke(app, ["run", "--scenario", str(f), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = _errors(res.output)
    assert len(errors) == 1 and errors[0].startswith("error: " + line.format(f=f)), errors
    assert not (tmp_path / "r").exists()


def test_missing_scenario_twice_given_and_a_contradicting_preset(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--scenario", str(tmp_path / "none.toml")])
    assert _errors(res.output) == [f"error: {tmp_path / 'none.toml'}: no such scenario file"]
    f = _write(tmp_path, 'city = "beijing"\n')
    res = runner.invoke(app, ["run", "--scenario", str(f), "--scenario", str(f)])
    assert res.exit_code == 2
    assert _errors(res.output) == ["error: --scenario: given 2 times; a run has one scenario"]
    res = runner.invoke(app, ["run", "--scenario", str(f), "--preset", "shanghai"])
    assert res.exit_code == 2
    assert _errors(res.output) == [
        f"error: --preset shanghai: conflicts with {f}:1 city = 'beijing'"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_a_relative_policy_file_is_read_from_the_scenarios_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "p.toml").write_text(creditsim.policy.preset_text("spc-list"), encoding="utf-8")
    f = _write(sub, 'policy = "p.toml"\n')
    monkeypatch.chdir(tmp_path)
    prep = prepare(cli_request([Path("sub/s.toml")], {}, None))
    assert prep.config.policy == "sub/p.toml" and prep.policy.origin == "sub/p.toml"
    assert prep.config.origins.options["policy"] == "sub/s.toml:1"
    # the resolved text names it absolutely, so that it works from anywhere
    res = runner.invoke(app, ["scenario", "show", "sub/s.toml"])
    assert f'policy = "{sub / "p.toml"}"' in res.output, res.output
    # on the command line a relative file is the working directory's, as before
    res = runner.invoke(app, ["scenario", "check", str(f), "--policy", "p.toml"])
    assert res.exit_code == 2 and "'p.toml': no such file" in res.output


# --- precedence: defaults < file < explicit options < --set -------------------------------

VALUES = {
    "residents": st.integers(1, 10**6),
    "days": st.integers(1, 3650),
    "seed": st.integers(0, 2**40),
    "chunk_residents": st.integers(1, 1 << 22),
    "linkage_threshold": st.floats(0.01, 1.0),
    "feedback": st.booleans(),
}
PARAMS = ("records.bank.p_id_missing", "records.court.p_name_typo", "appeals.base")


def _cli(name: str, value: object) -> list[str]:
    if name == "feedback":
        return ["--feedback" if value else "--no-feedback"]
    return [f"--{name.replace('_', '-')}", repr(value) if isinstance(value, float)
            else str(value)]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_precedence_file_then_options_then_set(tmp_path: Path, data: st.DataObject) -> None:
    """For random subsets: the file's value beats the default, an explicit option the
    file's, --set the file's [parameters]; each origin says which."""
    in_file = data.draw(st.fixed_dictionaries({}, optional=VALUES))
    on_cli = data.draw(st.fixed_dictionaries({}, optional=VALUES))
    p_file = data.draw(st.dictionaries(st.sampled_from(PARAMS), st.floats(0, 1)))
    p_set = data.draw(st.dictionaries(st.sampled_from(PARAMS), st.floats(0, 1)))
    lines = [f"{k} = {json.dumps(v)}" for k, v in in_file.items()]
    lines += ["[parameters]"] + [f'"{k}" = {v!r}' for k, v in p_file.items()]
    f = _write(tmp_path, "\n".join(lines) + "\n")
    argv = [a for k, v in on_cli.items() for a in _cli(k, v)]
    argv += [a for k, v in p_set.items() for a in ("--set", f"{k}={v!r}")]
    res = runner.invoke(app, ["scenario", "show", str(f), "--json", *argv])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    defaults = RunConfig().resolved()
    for name in VALUES:
        if name in on_cli:
            want = {"value": on_cli[name], "origin": f"--{name.replace('_', '-')}"}
        elif name in in_file:
            want = {"value": in_file[name], "origin": f"{f}:{list(in_file).index(name) + 1}"}
        else:
            want = {"value": getattr(defaults, name), "origin": "default"}
        assert got["options"][name] == want, name
    for key in PARAMS:
        if key in p_set:
            assert got["parameters"][key] == {"value": p_set[key], "origin": "--set"}
        elif key in p_file:
            line = len(in_file) + 2 + list(p_file).index(key)
            assert got["parameters"][key] == {"value": p_file[key], "origin": f"{f}:{line}"}
        else:
            assert key not in got["parameters"]


def test_an_option_at_its_default_value_given_explicitly_still_wins(tmp_path: Path) -> None:
    f = _write(tmp_path, "days = 30\nseed = 4\n")
    res = runner.invoke(app, ["scenario", "show", str(f), "--json", "--days", "365"])
    got = json.loads(res.output)["options"]
    assert got["days"] == {"value": 365, "origin": "--days"}
    assert got["seed"] == {"value": 4, "origin": f"{f}:2"}


def test_run_options_default_to_runconfig_defaults() -> None:
    """`run`'s options count only where given, so their signature defaults are only
    what --help shows: they must be RunConfig's."""
    from creditsim.cli import run

    sig = inspect.signature(run)
    for name in option_fields():
        if name in sig.parameters:
            assert sig.parameters[name].default == RunConfig.model_fields[name].default, name


# --- the resolved text ------------------------------------------------------------------------


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opts=st.fixed_dictionaries({}, optional=VALUES),
       sets=st.dictionaries(st.sampled_from(PARAMS), st.floats(0, 1)))
def test_the_resolved_text_resolves_to_the_same_config(tmp_path: Path, opts: dict,
                                                       sets: dict) -> None:
    first = prepare(api_request(None, {**opts, "set": sets})).config
    text = render(first, {"name": "x"})
    f = _write(tmp_path, text, "shown.toml")
    again = prepare(cli_request([f], {}, None)).config
    assert again.model_dump() == first.model_dump()
    assert set(again.origins.options.values()) <= {"default"} | {
        f"{f}:{i}" for i in range(1, text.count("\n") + 1)}


def test_show_prints_every_option_with_its_origin(tmp_path: Path) -> None:
    f = _write(tmp_path, '[meta]\nname = "m"\n\n[parameters.records.bank]\n'
               'p_id_missing = 0.02\n')
    res = runner.invoke(app, ["scenario", "show", str(f), "--days", "60"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert any(ln.startswith("days = 60 ") and ln.endswith("# --days") for ln in lines)
    assert any(ln.startswith("seed = 1 ") and ln.endswith("# default") for ln in lines)
    assert any(ln.startswith("# policy: not set") for ln in lines)
    assert any(ln.startswith('"records.bank.p_id_missing" = 0.02 ') and
               ln.endswith(f"# {f}:5") for ln in lines)
    assert 'name = "m"' in lines


# --- creditsim.simulate -----------------------------------------------------------------------


def test_simulate_reports_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        creditsim.simulate({"days": 30, "seeed": 2}, out=tmp_path / "r", residents="many",
                           feedbak=False, set={"appeals.bas": 1})
    assert [str(p) for p in e.value.problems] == [
        "<scenario> seeed: unknown key; did you mean 'seed'?",
        "simulate(residents=): Input should be a valid integer (got 'many')",
        "simulate(feedbak=): unknown option; did you mean 'feedback'?",
        "simulate(set=) appeals.bas: unknown parameter; did you mean 'appeals.base'?",
    ]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="give the overrides once"):
        creditsim.simulate(set={}, parameters={})


def test_a_missing_city_file_is_located_at_its_line(tmp_path: Path) -> None:
    """The city's own check speaks (cities may be files); the place is the file's line
    and the file is named relative to the scenario's directory."""
    f = _write(tmp_path, 'seed = 2\ncity = "cities/nowhere.toml"\n')
    res = runner.invoke(app, ["run", "--scenario", str(f), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    (line,) = _errors(res.output)
    assert line.startswith(f"error: {f}:2 city: ") and \
        str(tmp_path / "cities" / "nowhere.toml") in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("scenario, problem", [
    (123, "simulate(scenario=): expected a file or a dict, got int"),
    ({1: 2}, "<scenario>: a scenario's keys are text"),
    ({"days": True}, "<scenario> days: Input should be a valid integer (got True)"),
])
def test_simulate_refuses_what_is_not_a_scenario(tmp_path: Path, scenario: object,
                                                 problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        creditsim.simulate(scenario, out=tmp_path / "r")  # type: ignore[arg-type]
    assert [str(p) for p in e.value.problems] == [problem]
    assert list(tmp_path.iterdir()) == []
