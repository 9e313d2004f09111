"""A city file of one's own: every problem at once, each located file:line key.path,
exit 2 and nothing written; a good file runs like a shipped city."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditsim.cities import CityError, city_from_text, load_city
from creditsim.cli import app
from creditsim.config import make_config
from creditsim.errors import ConfigError
from creditsim.rundir import read_manifest

runner = CliRunner()


def _rongcheng() -> str:
    return load_city("rongcheng").text.decode("utf-8")


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _line(text: str, needle: str) -> int:
    """1-based line of the only line containing ``needle``."""
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(hits) == 1, needle
    return hits[0]


def bad_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A city file with six problems, and the location each must be reported at."""
    t = _rongcheng()
    t = _replace(t, 'title = "Rongcheng', 'titel = "Rongcheng')
    t = _replace(t, "value = [710200]", "value = [710200, 5]")
    t = _replace(t, '"60+" = 0.187 }', '"60+" = 0.087 }')
    t = _replace(t, "value = [371082]", "value = [991082]")
    t = _replace(t, 'source = "assumption: an even split;', 'source = "" # "assumption: even;')
    t = _replace(t, "[cars_per_resident]\nvalue = 0.2\nsource", "[cars_per_resident]\n"
                 "value = 0.2\nsourse")
    path = tmp_path / "bad-city.toml"
    path.write_text(t, encoding="utf-8")
    empty_source = 'source = "" #'
    where = {
        "unknown key; did you mean 'title'?": f"{path}:{_line(t, 'titel =')} titel",
        "1 districts": f"{path}:{_line(t, '[710200, 5]')} district_population.value",
        "age shares sum to 0.9000": f"{path}:{_line(t, '0.087 }')} age_shares.value",
        "991082 is not a GB/T 2260": f"{path}:{_line(t, '[991082]')} district_codes.value[0]",
        "every figure needs a source": f"{path}:{_line(t, empty_source)} male_share.source",
        "did you mean 'source'?": f"{path}:{_line(t, 'sourse =')} cars_per_resident.sourse",
    }
    return path, where


def _error_lines(output: str) -> list[str]:
    return [ln.removeprefix("error: ") for ln in output.splitlines() if ln.startswith("error: ")]


def test_every_problem_is_reported_at_once_located(tmp_path: Path) -> None:
    path, where = bad_file(tmp_path)
    with pytest.raises(CityError) as e:
        load_city(path)
    got = {str(p) for p in e.value.problems}
    for fragment, location in where.items():
        assert any(g.startswith(location + ": ") and fragment in g for g in got), \
            (fragment, location, sorted(got))
    # the missing source of cars_per_resident (spelt 'sourse') is reported too
    assert any("cars_per_resident.source: required key is missing" in g for g in got)
    assert len(got) == len(where) + 1


def test_run_with_a_bad_city_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    path, where = bad_file(tmp_path)
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "--city", str(path), "--days", "0", "--quiet",
                              "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = _error_lines(res.output)
    for fragment, location in where.items():
        assert any(ln.startswith(location + ": ") and fragment in ln for ln in lines), \
            (fragment, lines)
    assert any(ln.startswith("--days: ") for ln in lines)  # with the other options' problems
    assert "Traceback" not in res.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_cities_check_reports_the_same_problems(tmp_path: Path) -> None:
    path, where = bad_file(tmp_path)
    res = runner.invoke(app, ["cities", "check", str(path)])
    assert res.exit_code == 2
    assert len(_error_lines(res.output)) == len(where) + 1
    good = tmp_path / "good.toml"
    good.write_text(_rongcheng(), encoding="utf-8")
    res = runner.invoke(app, ["cities", "check", str(good)])
    assert res.exit_code == 0 and "ok" in res.output and "710,200 residents" in res.output


@pytest.mark.parametrize(("edit", "message"), [
    (("value = [371082]", "value = [371000]"), "not a GB/T 2260 county-level code"),
    (("linkage_model = \"beijing\"", "linkage_model = \"nowhere\""),
     "no trained linkage model 'nowhere'"),
    (("default_policy = \"rongcheng\"", "default_policy = \"nowhere\""),
     "no policy preset 'nowhere'"),
    (("value = [\"Rongcheng\"]", "value = [\"Rongcheng\", \"Rongcheng\"]"), "listed twice"),
    (("value = \"2021-01-01\"", "value = \"2021-13-01\""), "expected an ISO date"),
    (("value = 0.5\n", "value = 1.5\n"), "a share must be in [0, 1]"),
    (("value = [0.29, 0.32", "value = [0.39, 0.32"), "household size shares sum to 1.1000"),
    (("value = [60, 8,", "value = [60, true,"), "expected a number"),
    (("[start_date]", "[start_date"), "not valid TOML"),
])
def test_one_problem_each(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(_replace(_rongcheng(), *edit), encoding="utf-8")
    res = runner.invoke(app, ["cities", "check", str(path)])
    assert res.exit_code == 2 and message in res.output, res.output
    assert re.search(rf"error: {re.escape(str(path))}:\d+", res.output), res.output


def test_a_missing_file_or_unknown_name_is_a_located_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown city 'atlantis'"):
        make_config(city="atlantis")
    with pytest.raises(ConfigError, match="no such city file"):
        make_config(city=str(tmp_path / "none.toml"))
    with pytest.raises(CityError, match="a city profile must be a table"):
        from creditsim.cities.loader import city_from_data
        city_from_data([1, 2])
    with pytest.raises(CityError, match="not UTF-8"):
        city_from_text(b"name = \"\xff\"", "x.toml")


@pytest.mark.slow
def test_run_with_a_city_file(tmp_path: Path) -> None:
    src = _replace(_rongcheng(), 'name = "rongcheng"', 'name = "rongcheng-doubled"')
    src = _replace(src, "value = [710200]", "value = [1420400]")
    path = tmp_path / "my-city.toml"
    path.write_bytes(src.encode("utf-8"))
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "--city", str(path), "--days", "30", "--burn-in-days", "0",
                              "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = read_manifest(out)
    assert m["config"]["city"] == str(path) and m["config"]["residents"] == 14_204
    assert (out / "city.toml").read_bytes() == path.read_bytes()
    path.write_text("broken", encoding="utf-8")  # the run keeps its own copy
    assert (out / "city.toml").read_bytes() == src.encode("utf-8")
    res = runner.invoke(app, ["audit", str(out), "--by", "district"])
    assert res.exit_code == 0 and "Rongcheng" in res.output, res.output
