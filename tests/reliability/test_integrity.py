"""Integrity: every reader checks what it reads against the manifest; a damaged or
mixed-up run directory is refused with one line per file, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

import creditsim
from creditsim.errors import RunDirError
from creditsim.rundir import write_parquet
from .helpers import cli, edit_manifest, error_lines, reseal

READERS = {
    "audit": lambda run, tmp: ["audit", run],
    "explain": lambda run, tmp: ["explain", run, "--resident", "1"],
    "compare": lambda run, tmp: ["compare", run, run],
    "report": lambda run, tmp: ["report", run, "--out", tmp / "r.html"],
}


#: Real runs, child processes and signals: the full suite, not the fast subset.
pytestmark = pytest.mark.slow


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_refuses_a_flipped_byte(copy_run, tmp_path: Path, reader: str) -> None:
    run = copy_run()
    flip_byte(run / "links.parquet")
    lines = error_lines(cli(*READERS[reader](run, tmp_path)))
    assert len(lines) == 1 and "links.parquet" in lines[0] and "sha256" in lines[0], lines
    with pytest.raises(RunDirError, match="links.parquet"):
        creditsim.open_run(run)


@pytest.mark.parametrize("damage", ["table_from_another_run", "zeroed_checksum",
                                    "edited_row_count", "edited_policy", "edited_size",
                                    "missing_document"])
def test_mismatches_with_the_manifest_are_caught(copy_run, other_run: Path, tmp_path: Path,
                                                 damage: str) -> None:
    run = copy_run()
    named = "residents.parquet"
    if damage == "table_from_another_run":
        shutil.copy(other_run / named, run / named)
    elif damage == "zeroed_checksum":
        edit_manifest(run, lambda m: m["tables"][named].update(sha256="0" * 64))
    elif damage == "edited_row_count":
        edit_manifest(run, lambda m: m["tables"][named].update(rows=m["tables"][named]
                                                              ["rows"] + 1))
    elif damage == "edited_policy":
        named = "policy.toml"
        flip_byte(run / named, offset=5)
    elif damage == "edited_size":
        edit_manifest(run, lambda m: m["tables"][named].update(bytes=12))
    else:
        named = "linkage.json"
        (run / named).unlink()
    lines = error_lines(cli("audit", run))
    assert len(lines) == 1 and named in lines[0], lines


def test_no_verify_skips_only_the_checksums(copy_run) -> None:
    run = copy_run()
    edit_manifest(run, lambda m: m["tables"]["links.parquet"].update(sha256="0" * 64))
    assert cli("audit", run).exit_code == 2
    res = cli("audit", run, "--no-verify")
    assert res.exit_code == 0, res.output
    assert creditsim.open_run(run, verify=False).links.height > 0
    edit_manifest(run, lambda m: m["tables"]["links.parquet"].update(rows=1))
    lines = error_lines(cli("audit", run, "--no-verify"))
    assert "rows" in lines[0]


def test_digests_are_cached_outside_the_run_and_rechecked_on_change(
        copy_run, monkeypatch: pytest.MonkeyPatch) -> None:
    from creditsim.audit import verify

    run = copy_run()
    files_before = sorted(p.relative_to(run) for p in run.rglob("*"))
    creditsim.open_run(run)
    cache = list((verify.cache_dir() / "verified").glob("*.json"))
    assert any(json.loads(c.read_text())["run"] == str(run.resolve()) for c in cache)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == files_before

    def no_hashing(_p: Path) -> str:
        raise AssertionError("hashed although cached")
    monkeypatch.setattr("creditsim.rundir.sha256_file", no_hashing)
    creditsim.open_run(run)  # every digest from the cache
    monkeypatch.undo()
    # A change that keeps the size and the modification time is still seen (the key
    # includes the inode change time, which cannot be set back).
    path = run / "events.parquet"
    st = path.stat()
    flip_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(RunDirError, match="events.parquet"):
        creditsim.open_run(run)


def test_unpublished_directories_are_refused(tiny_run: Path, tmp_path: Path) -> None:
    for name in (".run.partial-12345-0a1b2c3d", ".run.partial-12345", ".run.old-99-ffee0011"):
        d = tmp_path / name
        shutil.copytree(tiny_run, d)
        lines = error_lines(cli("audit", d))
        assert "unfinished" in lines[0], lines
        with pytest.raises(RunDirError, match="not a published run"):
            creditsim.open_run(d)


def _retype(run: Path, edit_columns: bool) -> None:
    rel = "list_spells.parquet"
    df = pl.read_parquet(run / rel)
    write_parquet(df.with_columns(pl.col("resident_id").cast(pl.String)), run / rel)
    reseal(run, rel)
    if edit_columns:
        edit_manifest(run, lambda m: m["tables"][rel]["columns"].update(resident_id="String"))


def _config(run: Path, **values: object) -> None:
    edit_manifest(run, lambda m: m["config"].update(values))


CORRUPT = {
    "truncated_parquet": lambda run: (
        (run / "events.parquet").write_bytes((run / "events.parquet").read_bytes()[:-40]),
        reseal(run, "events.parquet")),
    "garbage_parquet": lambda run: (
        (run / "events.parquet").write_bytes(os.urandom(3000)), reseal(run, "events.parquet")),
    "empty_parquet": lambda run: (
        (run / "events.parquet").write_bytes(b""), reseal(run, "events.parquet")),
    "changed_column_type": lambda run: _retype(run, edit_columns=False),
    "changed_column_type_and_manifest": lambda run: _retype(run, edit_columns=True),
    "config_days_text": lambda run: _config(run, days="thirty"),
    "config_seed_list": lambda run: _config(run, seed=[1]),
    "config_start_date_number": lambda run: _config(run, start_date=5),
    "config_start_date_bad": lambda run: _config(run, start_date="2021-13-45"),
    "config_policy_number": lambda run: _config(run, policy=7),
    "config_days_negative": lambda run: _config(run, days=-5),
    "config_not_object": lambda run: edit_manifest(run, lambda m: m.update(config=[1])),
    "tables_not_object": lambda run: edit_manifest(run, lambda m: m.update(tables="x")),
    "table_entry_rows_text": lambda run: edit_manifest(
        run, lambda m: m["tables"]["events.parquet"].update(rows="many")),
    "manifest_not_json": lambda run: (run / "manifest.json").write_text("{", "utf-8"),
    "manifest_binary": lambda run: (run / "manifest.json").write_bytes(os.urandom(200)),
    "manifest_a_list": lambda run: (run / "manifest.json").write_text("[1, 2]", "utf-8"),
    "binary_policy": lambda run: ((run / "policy.toml").write_bytes(os.urandom(500)),
                                  reseal(run, "policy.toml")),
    "policy_not_toml": lambda run: ((run / "policy.toml").write_text("[[[", "utf-8"),
                                    reseal(run, "policy.toml")),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("corruption", sorted(CORRUPT))
def test_corrupt_inputs_give_one_line_each(copy_run, tmp_path: Path, corruption: str,
                                           reader: str) -> None:
    run = copy_run()
    CORRUPT[corruption](run)
    args = READERS[reader](run, tmp_path)
    lines = error_lines(cli(*args))
    assert len(lines) <= 3, lines
    assert not (tmp_path / "r.html").exists()
