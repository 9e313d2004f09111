"""linkage.json figures recomputed by a second, straightforward route."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import polars as pl
import pytest

from creditsim.linkage import evaluate_links
from creditsim.linkage.evaluate import COMMONNESS_BANDS


def _prf(records: int, links: int, correct: int) -> tuple[Any, Any, Any]:
    p = correct / links if links else None
    r = correct / records if records else None
    f = 2 * p * r / (p + r) if p and r else None
    return p, r, f


def _close(a: Any, b: Any) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-12)


def _band(count: int) -> str:
    for label, lo, hi in COMMONNESS_BANDS:
        if count >= lo and (hi is None or count <= hi):
            return label
    raise AssertionError(count)


def _slow_metrics(rows: list[dict], residents: list[dict]) -> dict[str, Any]:
    """Plain Python loops over dict rows: the reference for evaluate_links."""
    out: dict[str, Any] = {}
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        linked = r["resident_id"] is not None
        correct = linked and r["resident_id"] == r["truth_resident_id"]
        stage = "id" if r["method"] == "id" else "probabilistic"
        for key in (("overall", ""), ("stage", stage), ("department", r["department"])):
            t = tally[key]
            t[0] += 1
            t[1] += linked
            t[2] += correct
    out["tally"] = dict(tally)
    name_count = Counter(p["name"] for p in residents)
    attrs = {
        p["resident_id"]: {
            "district": p["district"],
            "hukou": p["hukou"],
            "name_commonness": _band(name_count[p["name"]]),
        }
        for p in residents
    }
    groups: dict[str, dict[str, dict[str, int]]] = {}
    for col in ("district", "hukou", "name_commonness"):
        g: dict[str, dict[str, int]] = defaultdict(Counter)  # type: ignore[arg-type]
        for r in rows:
            true_g = attrs[r["truth_resident_id"]][col]
            g[true_g]["records"] += 1
            if r["resident_id"] is not None:
                asg = attrs[r["resident_id"]][col]
                g[asg]["links"] += 1
                if r["resident_id"] == r["truth_resident_id"]:
                    g[true_g]["correct"] += 1
                else:
                    g[asg]["wrong"] += 1
        groups[col] = g
    out["groups"] = groups
    return out


@pytest.fixture(scope="module")
def both(linked: dict, small_run: dict, register: pl.DataFrame) -> tuple[dict, dict]:
    links = linked["result"].links
    reg = register
    fast = evaluate_links(links, reg)
    rows = links.with_columns(pl.col("department", "method").cast(pl.String)).to_dicts()
    residents = reg.select(
        "resident_id", "name", pl.col("district").cast(pl.String), pl.col("hukou").cast(pl.String)
    ).to_dicts()
    return fast, _slow_metrics(rows, residents)


def test_overall_stage_and_department_agree(both: tuple[dict, dict]) -> None:
    fast, slow = both
    checks = [(fast["overall"], slow["tally"][("overall", "")])]
    checks += [(fast["by_stage"][s], slow["tally"][("stage", s)]) for s in fast["by_stage"]]
    checks += [
        (fast["by_department"][d], slow["tally"][("department", d)]) for d in fast["by_department"]
    ]
    assert len(checks) > 5
    for f, (n, nl, nc) in checks:
        assert (f["records"], f["links"], f["correct"]) == (n, nl, nc)
        p, r, f1 = _prf(n, nl, nc)
        assert _close(f["precision"], p) and _close(f["recall"], r) and _close(f["f1"], f1)


@pytest.mark.parametrize("col", ["district", "hukou", "name_commonness"])
def test_group_metrics_agree(both: tuple[dict, dict], col: str) -> None:
    fast, slow = both
    fg, sg = fast["by_group"][col], slow["groups"][col]
    for g, s in sg.items():
        f = fg[g]
        assert f["records"] == s["records"]
        assert f["correct"] == s["correct"]
        assert f["links_assigned"] == s["links"]
        assert f["wrong_links_assigned"] == s["wrong"]
        assert _close(f["recall"], s["correct"] / s["records"] if s["records"] else None)
        assert _close(
            f["precision"], (s["links"] - s["wrong"]) / s["links"] if s["links"] else None
        )


def test_hand_made_links() -> None:
    """Four records: one right by ID, one wrong by ID, one right by model, one unlinked."""
    links = pl.DataFrame(
        {
            "department": ["court", "court", "civil", "civil"],
            "record_id": [1, 2, 3, 4],
            "resident_id": [10, 11, 12, None],
            "method": ["id", "id", "probabilistic", "unlinked"],
            "match_probability": [None, None, 0.9, 0.2],
            "truth_resident_id": [10, 12, 12, 13],
        }
    )
    m = evaluate_links(links)
    assert m["overall"]["links"] == 3 and m["overall"]["correct"] == 2
    assert m["overall"]["precision"] == pytest.approx(2 / 3)
    assert m["overall"]["recall"] == pytest.approx(2 / 4)
    assert m["by_stage"]["id"]["precision"] == pytest.approx(0.5)
    assert m["by_stage"]["probabilistic"]["recall"] == pytest.approx(0.5)
    assert m["by_department"]["civil"]["unlinked"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("block", [1, 7, 1000])
def test_block_size_changes_nothing(linked: dict, register: pl.DataFrame, block: int,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Links are counted block by block: any block size gives the same document,
    group counts and "residents given wrong records" (a set union) included."""
    from creditsim.linkage import evaluate

    links = linked["result"].links.head(3_000) if block == 1 else linked["result"].links
    whole = evaluate_links(links, register)
    monkeypatch.setattr(evaluate, "EVAL_BLOCK", block)
    assert evaluate_links(links, register) == whole
    assert any(g["residents_given_wrong_records"] for g in whole["by_group"]["district"].values())
