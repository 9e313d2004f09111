"""The committed fixed-seed baseline: a guard against unintended changes of results.

A small run per shipped policy preset (and one without behavioural feedback) is
made on a fixed seed; the sha256 of every table and document it writes and the
headline figures of its audit are compared with ``tests/baseline/baseline.json``.
Any difference is a change of results: a refactor or a speed-up must change none,
and a commit that changes one on purpose says which and why.

    python -m creditsim.devtools.baseline            # compare, print old → new, exit 1 on a change
    python -m creditsim.devtools.baseline --update   # write the file anew from this code
    python -m creditsim.devtools.baseline --case beijing --case spc-list
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from creditsim.api import open_run
from creditsim.config import make_config
from creditsim.pipeline import run
from creditsim.rundir import sha256_file

#: Where the committed baseline lives (relative to the repository root).
BASELINE_FILE = Path("tests") / "baseline" / "baseline.json"
#: Documents of a run that hold timings or machine facts, not results.
VOLATILE = {"manifest.json"}
#: Keys of ``loop.json`` that hold timings, not results.
LOOP_VOLATILE = {"seconds"}

#: Two years of 40,000 residents: a one-year run of 20,000 lists a handful of people
#: and has no appeal or repayment, so it would guard little of the platform.
RESIDENTS = 40_000
DAYS = 730
SEED = 1
PRESETS = ("beijing", "fuzhou", "hangzhou", "rongcheng", "sesame", "spc-list", "xiamen")


@dataclass(frozen=True)
class Case:
    """One baseline run: a name and the run's configuration."""

    name: str
    config: Mapping[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return {"residents": RESIDENTS, "days": DAYS, "seed": SEED, **self.config}


CASES: tuple[Case, ...] = (
    *(Case(p, {"policy": p}) for p in PRESETS),
    Case("beijing-no-feedback", {"policy": "beijing", "feedback": False}),
)


def repo_root() -> Path:
    """The repository holding this checkout (the baseline file is found from it)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "tests").is_dir():
            return parent
    return Path.cwd()


def fingerprint(run_dir: Path) -> dict[str, Any]:
    """sha256 of every file a run wrote (results only) and its audit's headline."""
    files = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if not path.is_file() or rel in VOLATILE or rel == "loop.json":
            continue
        files[rel] = sha256_file(path)
    loop = json.loads((run_dir / "loop.json").read_text(encoding="utf-8"))
    loop = {k: v for k, v in loop.items() if k not in LOOP_VOLATILE}
    headline = open_run(run_dir).audit().headline
    return {"files": files, "loop": loop, "headline": headline}


def run_case(case: Case, workdir: Path) -> dict[str, Any]:
    """Run ``case`` into ``workdir`` and return its fingerprint (with its seconds)."""
    t0 = time.perf_counter()
    out = workdir / case.name
    run(make_config(**case.settings()), out)
    fp = fingerprint(out)
    return {"settings": case.settings(), **fp,
            "_seconds": round(time.perf_counter() - t0, 2)}


def compute(cases: Iterable[Case]) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="creditsim-baseline-") as tmp:
        return {c.name: run_case(c, Path(tmp)) for c in cases}


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(case, key, old, new) for every table, document and figure that differs."""
    out = []
    for case in sorted(set(old) | set(new)):
        a = _flatten({k: v for k, v in old.get(case, {}).items() if not k.startswith("_")})
        b = _flatten({k: v for k, v in new.get(case, {}).items() if not k.startswith("_")})
        for key in sorted(set(a) | set(b)):
            if a.get(key, "—") != b.get(key, "—"):
                out.append((case, key, a.get(key, "—"), b.get(key, "—")))
    return out


def _short(v: Any) -> str:
    s = str(v)
    return s[:12] if len(s) == 64 and all(c in "0123456789abcdef" for c in s) else s


def format_differences(diffs: list[tuple[str, str, Any, Any]]) -> str:
    """A readable table: case, table or figure, old → new."""
    if not diffs:
        return "baseline: no difference"
    rows = [(c, k, _short(a), _short(b)) for c, k, a, b in diffs]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"baseline: {len(diffs)} difference(s) (case, table or figure: old → new)"]
    lines += [f"  {c:<{w[0]}}  {k:<{w[1]}}  {a:>{w[2]}} → {b}" for c, k, a, b in rows]
    return "\n".join(lines)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


def save(path: Path, cases: Mapping[str, Any]) -> None:
    doc = {
        "about": "Fixed-seed baseline: sha256 of every file a small run writes and its "
                 "audit headline, per case. Regenerate with "
                 "`python -m creditsim.devtools.baseline --update` and say in the commit "
                 "message which figures changed and why.",
        "cases": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                  for k, v in sorted(cases.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=False) + "\n",
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m creditsim.devtools.baseline",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true", help="write the baseline file anew")
    ap.add_argument("--case", action="append", choices=[c.name for c in CASES],
                    help="only this case (repeatable)")
    ap.add_argument("--file", type=Path, default=None, help="baseline file to use")
    args = ap.parse_args(argv)
    path = args.file or repo_root() / BASELINE_FILE
    cases = [c for c in CASES if not args.case or c.name in args.case]
    new = compute(cases)
    for name, fp in new.items():
        print(f"{name}: {fp['_seconds']:.1f} s", file=sys.stderr)
    if args.update:
        old = load(path) if path.exists() else {}
        merged = {**old, **new}
        print(format_differences(differences(old, merged)))
        save(path, merged)
        print(f"wrote {path}")
        return 0
    old = load(path)
    diffs = differences({k: old[k] for k in new if k in old}, new)
    print(format_differences(diffs))
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
