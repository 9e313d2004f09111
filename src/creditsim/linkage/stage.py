"""The linkage stage: departmental records → one resident per record.

Order of work (each step a function of typed tables):

1. :func:`prepare.record_views` / :func:`prepare.register_view` select the identity
   columns the platform may read;
2. :func:`deterministic.link_by_id` links records whose ID passes the check digit;
3. :func:`probabilistic.link_probabilistic` scores the rest with Splink, against
   the register indexed once (:func:`features.register_features`);
4. :func:`evaluate.true_subjects` and :func:`evaluate.attach_truth` bring in the
   true subjects (only now: the platform steps never see them), and
   :func:`evaluate.evaluate_links` measures the result (``linkage.json``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim import idnumber
from creditsim.errors import ConfigError
from creditsim.linkage import evaluate, features, model, prepare
from creditsim.linkage.deterministic import RegisterIndex, link_by_id, link_parts_by_id
from creditsim.linkage.probabilistic import SplinkOptions, link_probabilistic
from creditsim.linkage.schema import DEFAULT_THRESHOLD, PLATFORM_LINKS_SCHEMA, MethodT

#: File names of the exported Splink charts (in ``charts_dir``).
CHART_FILES = {"match_weights": "linkage_match_weights.html",
               "m_u_parameters": "linkage_m_u_parameters.html"}


@dataclass
class LinkageResult:
    """Output of :func:`link_records`."""

    links: pl.DataFrame  #: the ``links`` table (see evaluate.LINKS_SCHEMA)
    #: the ``linkage.json`` document (deterministic given the seed); empty when
    #: ``link_records(defer_metrics=True)``: then ``measure()`` makes it.
    metrics: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)  #: seconds per step
    charts: dict[str, Path] = field(default_factory=dict)  #: chart name → written file
    #: Computes the metrics document (a function of frames of its own: it may run in
    #: another thread while the caller goes on with ``links``).
    measure: Callable[[], dict[str, Any]] | None = None


@dataclass
class RegisterPrep:
    """The register made ready for linking: its identity view, the ID index and the
    blocking features. A pure function of the register (:func:`prepare_register`),
    so it can be built before any record exists — the pipeline builds it in the
    background while the behaviour and records stages run. :func:`link_records`
    consumes it (it drops each part once used, to free memory)."""

    reg: pl.DataFrame
    index: RegisterIndex | None
    features: features.RegisterFeatures | None
    name_count: np.ndarray


def prepare_register(register: pl.DataFrame) -> RegisterPrep:
    """Index ``register`` for both passes (ID strings parsed once, used twice)."""
    reg = prepare.register_view(register)
    body, check = idnumber.parse(reg["id_number"])
    index = RegisterIndex.build(reg, packed=idnumber.pack_parsed(body, check))
    del check
    feat = features.register_features(reg, body=body)
    return RegisterPrep(reg=reg, index=index, features=feat, name_count=feat.name_count())


def _check_options(threshold: float, seed: int) -> None:
    problems = []
    if not isinstance(threshold, (int, float)) or not (0.0 < float(threshold) <= 1.0):
        problems.append(f"linkage threshold must be in (0, 1], got {threshold!r}")
    if not isinstance(seed, int) or seed < 0:
        problems.append(f"seed must be a non-negative integer, got {seed!r}")
    if problems:
        raise ConfigError(problems)


def link_records(
    records: Mapping[str, pl.DataFrame],
    register: pl.DataFrame,
    *,
    seed: int,
    threshold: float = DEFAULT_THRESHOLD,
    workdir: Path,
    charts_dir: Path | None = None,
    preset: str = "beijing",
    memory_limit: str = "4GB",
    threads: int = 2,
    chunk_rows: int = 8_000_000,
    predict_chunks: int = 1,
    prep: RegisterPrep | None = None,
    defer_metrics: bool = False,
    settings: model.LinkageModel | None = None,
) -> LinkageResult:
    """Link every departmental record to at most one registered resident.

    Args:
        records: department name → records table (the records stage's output).
        register: the resident register (residents table; only resident_id, name,
            id_number, birth_date, sex, district are read for linking; hukou is
            used for the audit's group metrics).
        seed: the run's seed (u sampling and tie-breaks).
        threshold: minimum posterior to accept a probabilistic link, in (0, 1].
        workdir: scratch directory for Splink's DuckDB database; removed afterwards.
        charts_dir: where to write Splink's charts as self-contained HTML, or None.
        preset: which trained model (``models/<preset>.json``) to load.
        memory_limit, threads: DuckDB resources; chunk_rows, predict_chunks: work
            sizes. None of these changes the result.
        prep: ``prepare_register(register)`` if already built (it is consumed).
        defer_metrics: leave ``metrics`` empty and return ``measure`` to compute it
            later (the pipeline runs it in its background thread while the platform
            stage starts); the document is the same.
        settings: the crowd cap, outside-blocks prior, u sample, least match weight
            kept and m floor (default: LinkageModel()).
    """
    settings = settings or model.LinkageModel()
    _check_options(threshold, seed)
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    parts = prepare.record_views(records)
    trained = model.load_model(preset)
    if prep is None:
        prep = prepare_register(register)
    assert prep.index is not None and prep.features is not None, "RegisterPrep used twice"
    t["prepare"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dets = link_parts_by_id(parts, prep.index, chunk_rows=chunk_rows)
    prep.index = None
    t["deterministic"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # Rows of ``dets`` align with ``parts``: the rest are the rows left unlinked.
    rest = pl.concat([p.filter(d["resident_id"].is_null()) for p, d in zip(parts, dets,
                                                                          strict=True)]) \
        if parts else prepare.record_view({})
    det = pl.concat(dets) if dets else link_by_id(prepare.record_view({}), RegisterIndex(
        keys=pl.DataFrame(schema={"key": pl.Int64, "resident_id": pl.Int32})))
    del parts, dets
    prob_stats: dict[str, Any] = {"records": rest.height}
    best = pl.DataFrame(schema={"record_id": pl.Int64, "resident_id": pl.Int32,
                                "posterior": pl.Float64, "n_candidates": pl.Int32})
    written: dict[str, Path] = {}
    name_count = prep.name_count
    reg_feat, prep.features = prep.features, None
    if rest.height:
        rec_key, res = link_probabilistic(
            rest, reg_feat, trained=trained, seed=seed, workdir=Path(workdir),
            opts=SplinkOptions(memory_limit=memory_limit, threads=threads,
                               predict_chunks=predict_chunks),
            model=settings, charts=charts_dir is not None)
        best = rec_key.join(res.best, on="uid", how="left").select(
            "record_id", "resident_id", "posterior",
            pl.col("n_candidates").fill_null(0))
        prob_stats.update(res.stats)
        if charts_dir is not None:
            Path(charts_dir).mkdir(parents=True, exist_ok=True)
            for name, html in res.charts.items():
                path = Path(charts_dir) / CHART_FILES[name]
                path.write_text(html, encoding="utf-8")
                written[name] = path
    del reg_feat
    t["probabilistic"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    platform = _assemble(det, best, threshold)
    truth = evaluate.true_subjects(records)  # made here, not held through Splink
    links = evaluate.attach_truth(platform, truth)
    del truth, platform
    status = {str(k): int(v) for k, v in det.group_by("id_status").len().sort("id_status")
              .iter_rows()}
    del det
    # Frames of its own (the same buffers): Polars frames must not be shared by threads.
    reg_cols = [c for c in ("resident_id", "name", "district", "hukou") if c in register.columns]
    measure = partial(_metrics, links.clone(), register.select(reg_cols), status, best.clone(),
                      threshold, seed, preset, prob_stats, name_count,
                      settings.crowd_cap.value)
    metrics = {} if defer_metrics else measure()
    t["evaluate"] = time.perf_counter() - t0
    return LinkageResult(links=links, metrics=metrics, timings=t, charts=written,
                         measure=measure if defer_metrics else None)


def _assemble(det: pl.DataFrame, best: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """The platform's links table, one row per record, in department/record order.

    Records linked by ID keep that link; the others take their best probabilistic
    candidate when its posterior reaches ``threshold``. Work is by position
    (:func:`catalogue.rows_of`), not by joining tens of millions of rows."""
    rid = det["record_id"].to_numpy()
    res = det["resident_id"].fill_null(-1).to_numpy().copy()
    method = np.where(res >= 0, np.uint8(0), np.uint8(2))  # id / unlinked
    prob = np.full(len(rid), np.nan)
    has_prob = np.zeros(len(rid), dtype=bool)
    if best.height:
        rows = cat.rows_of(rid, best["record_id"].to_numpy())
        post = best["posterior"].to_numpy()
        ok = (rows >= 0) & ~np.isnan(post)
        ok[ok] &= res[rows[ok]] < 0
        prob[rows[ok]] = post[ok]
        has_prob[rows[ok]] = True
        acc = ok & (post >= threshold)
        res[rows[acc]] = best["resident_id"].to_numpy()[acc]
        method[rows[acc]] = 1
    out = pl.DataFrame({
        "department": det["department"].cast(cat.DepartmentT),
        "record_id": det["record_id"],
        "resident_id": pl.Series(res, dtype=pl.Int32).set(pl.Series(res < 0), None),
        "method": cat.enum_from_codes(method, MethodT),
        "match_probability": pl.Series(prob).set(pl.Series(~has_prob), None),
    })
    return _sorted(out).cast(PLATFORM_LINKS_SCHEMA)  # type: ignore[arg-type]


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` in (department, record_id) order; no work when it already is."""
    d = df["department"].to_physical().to_numpy().astype(np.int64)
    r = df["record_id"].to_numpy()
    dd, dr = np.diff(d), np.diff(r)
    if np.all((dd > 0) | ((dd == 0) & (dr > 0))):
        return df
    return df.sort("department", "record_id")


def _metrics(links: pl.DataFrame, register: pl.DataFrame, status: dict[str, int],
             best: pl.DataFrame, threshold: float, seed: int,
             preset: str, prob_stats: dict[str, Any],
             name_count: np.ndarray | None = None, cap: int = model.CROWD_CAP
             ) -> dict[str, Any]:
    """The ``linkage.json`` document. ``links`` carries each record's true subject
    (the threshold sweep reads it there); ``status``: records per ID-check outcome."""
    if name_count is not None and not register["resident_id"].is_sorted():
        name_count = None  # counted in register_view's (sorted) order
    m = evaluate.evaluate_links(links, register, name_count)
    unl = links.filter(pl.col("method") == "unlinked")
    m.update({
        "threshold": threshold,
        "seed": seed,
        "model": preset,
        "blocking_crowd_cap": cap,
        "id_check": status,
        "unlinked": {
            "total": unl.height,
            "no_candidate": int(best.filter(pl.col("resident_id").is_null()).height),
            "by_department": {str(k): int(v) for k, v in
                              unl.group_by("department").len().sort("department").iter_rows()},
        },
        "probabilistic_pass": prob_stats,
        "threshold_sweep": evaluate.threshold_sweep(best, links) if best.height else [],
    })
    return m
