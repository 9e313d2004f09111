"""What passes between stages is what a stage returns: tables, documents, step
seconds and typed handoffs; a handoff reaches only the stages that take it and is
let go after its last taker."""

from __future__ import annotations

import gc
import weakref
from concurrent.futures import Future
from dataclasses import fields
from pathlib import Path

import polars as pl

from creditsim import pipeline
from creditsim.config import make_config
from creditsim.platform import ROUND_STEPS


class _Index:
    """Stands in for a big background result whose lifetime is watched."""


def _done(value: object) -> Future:
    f: Future = Future()
    f.set_result((value, 0.5))
    return f


def test_handoff_reaches_its_taker_only_and_is_let_go_after_it(tmp_path: Path) -> None:
    seen: dict[str, object] = {}
    ref: list[weakref.ref] = []

    def give(_ctx: pipeline.RunContext, _given: pipeline.StageInput) -> pipeline.StageOutput:
        index = _Index()
        ref.append(weakref.ref(index))
        return pipeline.StageOutput({"a": pl.DataFrame({"x": [1]})}, steps={"make": 1.0},
                                    handoffs=pipeline.Handoffs(
                                        register_index=pipeline.Deferred(_done(index))))

    def take(_ctx: pipeline.RunContext, given: pipeline.StageInput) -> pipeline.StageOutput:
        assert given.handoffs.register_index is not None
        seen["taken"] = given.handoffs.register_index.result()[0]
        seen["tables"] = sorted(given.tables)
        seen.pop("taken")
        return pipeline.StageOutput({}, documents={"d.json": {"k": 1}})

    def after(_ctx: pipeline.RunContext, given: pipeline.StageInput) -> pipeline.StageOutput:
        gc.collect()
        seen["after"] = given.handoffs.register_index
        seen["alive_after"] = ref[0]() is not None
        return pipeline.StageOutput({})

    stages = [pipeline.Stage("give", (), ("a",), give, "", gives=("register_index",)),
              pipeline.Stage("take", ("a",), (), take, "", takes=("register_index",)),
              pipeline.Stage("after", (), (), after, "")]
    ctx = pipeline.RunContext(config=make_config(residents=10, days=1), workdir=tmp_path,
                              run_dir=tmp_path, progress=lambda s, f: None)
    tables, timings, docs = pipeline.run_stages(ctx, stages)
    assert seen == {"tables": ["a"], "after": None, "alive_after": False}
    assert tables == {}  # no later stage reads "a": let go
    assert timings[0]["steps"] == {"make": 1.0} and "steps" not in timings[1]
    assert docs == [("take", "d.json", {"k": 1})]


def test_plan_handoffs_are_given_before_they_are_taken() -> None:
    names = {f.name for f in fields(pipeline.Handoffs)}
    given: set[str] = set()
    for st in pipeline.PLAN:
        assert set(st.takes) <= given, (st.name, set(st.takes) - given)
        assert set(st.gives) <= names
        given |= set(st.gives)
    assert given == names  # every field is made by some stage


def test_platform_stage_shows_its_round_steps() -> None:
    plat = next(s for s in pipeline.PLAN if s.name == "platform")
    assert [s.name for s in plat.steps] == ["score", "appeal_and_repay", "serve", "respond"]
    assert plat.steps == tuple(ROUND_STEPS) and all(s.doc for s in plat.steps)
