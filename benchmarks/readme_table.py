"""The README's performance figures, generated from the latest result files.

    .venv/bin/python benchmarks/readme_table.py           # rewrite the blocks in README.md
    .venv/bin/python benchmarks/readme_table.py --check   # exit 1 when README.md differs

README.md holds three generated blocks, each between marker comments
(``<!-- perf-table:start ... -->`` … ``<!-- perf-table:end -->``, likewise
``perf-city`` and ``perf-peer``):

* ``perf-table``: one row per configuration of ``configs.toml`` (but ``smoke``) from
  ``results/<configuration>.json``, with the date and commit of each, then the runs
  behind a median and the steps inside the linkage and platform stages of the largest;
* ``perf-city``: the city stages alone, from the largest ``results/city-<n>*.json``;
* ``perf-peer``: the Mesa comparison, from ``results/peer.json``.

``tests/test_readme.py`` checks that README.md equals what this script makes from the
committed results, so a new measurement and the README cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
BLOCKS = ("perf-table", "perf-city", "perf-peer")
STAGES = ("population", "behaviour", "records", "linkage", "platform", "write")

Doc = dict[str, Any]


def _load(path: Path) -> Doc:
    return json.loads(path.read_text(encoding="utf-8"))


def _stamp(doc: Doc) -> str:
    return f"{str(doc.get('date', 'unknown'))[:10]}, commit {str(doc.get('commit', '?'))[:7]}"


def _row(doc: Doc, mark: str) -> str:
    cfg = doc["config"]
    st = {s["stage"]: s["seconds"] for s in doc["stages"]}
    cells = [f"{cfg['residents']:,} × {cfg['days']}",
             *(f"{st.get(s, 0.0):.1f}" for s in STAGES),
             f"{doc['wall_seconds']:.1f} s{mark}", f"{doc['peak_rss_gb']:.1f} GB",
             f"{doc['resident_days_per_second'] / 1e6:.1f} M",
             f"{doc['seconds_per_million_resident_days']:.3f}",
             str(doc.get("date", "unknown"))[:10], f"`{str(doc.get('commit', '?'))[:7]}`"]
    return "| " + " | ".join(cells) + " |"


def _repeats(name: str, doc: Doc) -> list[str]:
    runs = doc.get("repeats") or []
    if len(runs) < 2:
        return []
    walls = ", ".join(f"{r['wall_seconds']:.1f}" for r in runs)
    peaks = ", ".join(f"{r['peak_rss_gb']:.2f}" for r in runs)
    return [f"¹ The median of {len(runs)} consecutive runs (`benchmarks/results/{name}.json`, "
            f"every run kept): {walls} s; peaks {peaks} GB."]


def _extremes(doc: Doc) -> str:
    runs = doc.get("repeats") or [doc]
    slowest = max(r["wall_seconds"] for r in runs)
    peak = max(r["peak_rss_gb"] for r in runs)
    return (f"At {doc['config']['residents']:,} residents × {doc['config']['days']} days the "
            f"slowest run took {slowest:.1f} s and the highest peak was {peak:.2f} GB "
            f"({peak * 2**30 / 1e9:.1f} × 10⁹ bytes).")


def _steps(doc: Doc) -> list[str]:
    out = [f"Steps inside the stages at {doc['config']['residents']:,} residents (seconds; "
           "`*_background` steps run in the background thread beside other stages and are "
           "not part of the stage's time):", "", "| stage | steps |", "|---|---|"]
    for s in doc["stages"]:
        if s.get("steps"):
            steps = " · ".join(f"{k} {v:.1f}" for k, v in s["steps"].items())
            out.append(f"| {s['stage']} | {steps} |")
    return out


def perf_table(results: Path, configs: dict[str, Any]) -> str:
    docs = [(n, _load(results / f"{n}.json")) for n in configs
            if n != "smoke" and (results / f"{n}.json").exists()]
    if not docs:
        raise SystemExit(f"no result files for {', '.join(configs)} in {results}")
    head = ["residents × days", *STAGES, "wall", "peak RSS", "resident-days/s",
            "s per M resident-days", "measured", "commit"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: list[str] = []
    for name, doc in docs:
        more = _repeats(name, doc)
        lines.append(_row(doc, " ¹" if more else ""))
        notes += more
    largest = max(docs, key=lambda nd: nd[1]["config"]["residents"])[1]
    return "\n".join([*lines, "", *notes, *([""] if notes else []), _extremes(largest), "",
                      *_steps(largest)])


def perf_city(results: Path) -> str:
    files = sorted(results.glob("city-*.json"))
    if not files:
        return "(no `benchmarks/results/city-*.json` yet)"
    docs = [_load(f) | {"_file": f.name} for f in files if re.fullmatch(
        r"city-\d+(-feedback)?\.json", f.name)]
    n = max(d["residents"] for d in docs)

    def one(d: Doc) -> str:
        peak = max(s["peak_rss_gb"] for s in d["stages"])
        return (f"{d['total_seconds']:.1f} s and a {peak:.1f} GB peak "
                f"(`{d['_file']}`, {_stamp(d)})")

    plain = [d for d in docs if d["residents"] == n and not d["feedback"]]
    fb = [d for d in docs if d["residents"] == n and d["feedback"]]
    text = f"at {n:,} residents × {(plain or fb)[0]['days']} days " + \
        (one(plain[0]) if plain else "")
    if fb:
        text += ("; " if plain else "") + \
            f"with the feedback loop's extra candidate events (`--feedback`) {one(fb[0])}"
    return text + "."


def perf_peer(results: Path) -> str:
    path = results / "peer.json"
    if not path.exists():
        return "(no `benchmarks/results/peer.json` yet)"
    d = _load(path)
    cfg, tp = d["config"], d["throughput"]
    agree = "agree on every aggregate" if d["all_agree"] else "DISAGREE on an aggregate"
    return (f"At {cfg['residents']:,} residents × {cfg['days']} days (median of "
            f"{cfg['repeats']} runs each): **Mesa "
            f"{tp['mesa']['resident_days_per_second'] / 1e6:.2f} M resident-days/s, "
            f"creditsim {tp['creditsim']['resident_days_per_second'] / 1e6:.1f} M "
            f"resident-days/s ({d['ratio_creditsim_over_mesa']:.0f}×)**; the two {agree} "
            f"(`benchmarks/results/peer.json`, {_stamp(d)}).")


def render(results: Path = RESULTS, configs_file: Path = HERE / "configs.toml") -> dict[str, str]:
    """Every block's text, made from the result files in ``results``."""
    configs = tomllib.loads(configs_file.read_text(encoding="utf-8"))
    return {"perf-table": perf_table(results, configs), "perf-city": perf_city(results),
            "perf-peer": perf_peer(results)}


def apply(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each block's body between its markers replaced."""
    for name, body in blocks.items():
        pat = re.compile(rf"(<!-- {name}:start[^>]*-->)(.*?)(<!-- {name}:end -->)", re.S)
        if len(pat.findall(text)) != 1:
            raise SystemExit(f"README.md needs exactly one <!-- {name}:start --> … "
                             f"<!-- {name}:end --> block")
        text = pat.sub(lambda m, b=body: f"{m.group(1)}\n{b}\n{m.group(3)}", text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is not current")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args(argv)
    old = args.readme.read_text(encoding="utf-8")
    new = apply(old, render(args.results))
    if args.check:
        if new != old:
            print(f"{args.readme}: the performance figures differ from {args.results}; "
                  "run benchmarks/readme_table.py", file=sys.stderr)
            return 1
        return 0
    if new != old:
        args.readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
