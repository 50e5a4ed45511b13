"""`ganbench check` (the CI regression gate) on synthetic records; scoring is never run here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganbench import check as C
from ganbench.cli import cli
from ganbench.errors import UserError
from ganbench.results import write_record
from tests.test_report import make_record


def _store(tmp_path: Path, records: list[dict], name: str = "results") -> Path:
    store = tmp_path / name
    for rec in records:
        write_record(rec, store)
    return store


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["check", *args])


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    """a: FID 20 with interval [19, 22]; b: FID 30 without one."""
    store = _store(tmp_path, [make_record("a", 20.0, ci=(19.0, 22.0)), make_record("b", 30.0)], "base")
    path = tmp_path / "baseline.json"
    res = _invoke("--baseline", str(path), "--results", str(store), "--update")
    assert res.exit_code == 0, res.output
    return path


def test_update_writes_fid_interval_and_setup(baseline):
    data = json.loads(baseline.read_text())
    assert data["format"] == C.FORMAT and set(data["models"]) == {"a", "b"}
    a = data["models"]["a"]
    assert (a["fid"], a["fid_ci_low"], a["fid_ci_high"]) == (20.0, 19.0, 22.0)
    assert (
        a["setup"]["samples"] == {"key": "1000", "label": "1,000"} and "fid_ci_low" not in data["models"]["b"]
    )


@pytest.mark.parametrize(
    ("fid_a", "fid_b", "code", "status_a", "status_b"),
    [
        (21.9, 30.2, 0, "ok", "ok"),  # a inside its interval (beyond 1%); b within 1% of 30
        (22.1, 30.0, 1, "REGRESSION", "ok"),  # a above its interval and above 1%
        (20.0, 30.4, 1, "ok", "REGRESSION"),  # b has no interval: 1% of 30 = 0.3 is the limit
        (18.0, 25.0, 0, "improved", "improved"),
    ],
)
def test_gate_exit_codes_and_table(tmp_path, baseline, fid_a, fid_b, code, status_a, status_b):
    store = _store(tmp_path, [make_record("a", fid_a), make_record("b", fid_b)])
    res = _invoke("--baseline", str(baseline), "--results", str(store))
    assert res.exit_code == code, res.output
    rows = {line.split()[0]: line for line in res.stdout.splitlines()[1:]}
    assert rows["a"].endswith(status_a) and rows["b"].endswith(status_b)
    assert f"{fid_a - 20.0:+.3f}" in rows["a"]  # the table says by how much it moved
    assert ("FID regression" in res.stderr) == (code == 1)


def test_absolute_tolerance_and_the_latest_record_counts(tmp_path, baseline):
    store = _store(
        tmp_path, [make_record("a", 50.0, step=1), make_record("a", 20.5, step=2), make_record("b", 31.5)]
    )
    assert _invoke("--baseline", str(baseline), "--results", str(store)).exit_code == 1  # b: 1.5 > 1% of 30
    res = _invoke("--baseline", str(baseline), "--results", str(store), "--tolerance", "2")
    assert res.exit_code == 0, res.output


def test_new_models_are_listed_not_failed(tmp_path, baseline):
    store = _store(tmp_path, [make_record("a", 20.0), make_record("b", 30.0), make_record("c", 99.0)])
    res = _invoke("--baseline", str(baseline), "--results", str(store))
    assert res.exit_code == 0 and any(
        line.startswith("c ") and line.endswith("new") for line in res.stdout.splitlines()
    )


def test_differing_setup_is_bad_input_never_a_silent_pass(tmp_path, baseline):
    store = _store(tmp_path, [make_record("a", 20.0, n=500), make_record("b", 30.0, resize="clean")])
    res = _invoke("--baseline", str(baseline), "--results", str(store))
    assert res.exit_code == 2
    assert "a: setup differs: sample count 500 (baseline 1,000)" in res.stderr
    assert "b: setup differs: resize clean (baseline legacy-tf)" in res.stderr


def test_matching_setup_is_preferred_over_a_newer_other_one(tmp_path, baseline):
    store = _store(
        tmp_path,
        [
            make_record("a", 20.0, created="2026-01-01T00:00:01"),
            make_record("a", 99.0, n=500, created="2026-01-02T00:00:00"),
            make_record("b", 30.0),
        ],
    )
    res = _invoke("--baseline", str(baseline), "--results", str(store))
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda tmp, base: (tmp / "none.json", _store(tmp, [make_record("a", 1.0)])), "does not exist"),
        (lambda tmp, base: (base, _store(tmp, [make_record("a", 20.0)])), "b: no current result"),
        (lambda tmp, base: (base, tmp / "empty"), "no usable result records"),
    ],
)
def test_bad_input_exits_2(tmp_path, baseline, setup, message):
    path, store = setup(tmp_path, baseline)
    res = _invoke("--baseline", str(path), "--results", str(store))
    assert res.exit_code == 2 and message in res.stderr, res.output


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"format": "other", "models": {}}',
        '{"format": "ganbench-baseline/1", "models": {"a": {}}}',
    ],
)
def test_corrupt_baseline_is_a_user_error(tmp_path, content):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(UserError, match="recreate it with --update|restore it"):
        C.load_baseline(path)


def test_update_reports_changes_and_is_atomic(tmp_path, baseline):
    store = _store(tmp_path, [make_record("a", 25.0, n=500)])
    res = _invoke("--baseline", str(baseline), "--results", str(store), "--update")
    assert res.exit_code == 0
    assert "a: FID 20.000 -> 25.000; sample count now 500" in res.stdout and "b: removed" in res.stdout
    assert set(json.loads(baseline.read_text())["models"]) == {"a"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(("text", "fid", "allowed"), [("2", 50.0, 2.0), ("1%", 50.0, 0.5), (".5", 9.0, 0.5)])
def test_tolerance_parsing(text, fid, allowed):
    assert C.parse_tolerance(text).allowed(fid) == pytest.approx(allowed)


def test_bad_tolerance(tmp_path, baseline):
    res = _invoke("--baseline", str(baseline), "--results", str(tmp_path), "--tolerance", "-1")
    assert res.exit_code == 2 and "--tolerance" in res.stderr


def test_sources_are_scored_fresh_not_read_from_the_store(tmp_path, baseline, monkeypatch):
    """With SOURCES the gate scores them (here a stand-in for the scoring) and ignores the store."""
    seen = []

    def fake_score(sources, cfg, extractor):
        seen.append((list(sources), cfg.n, cfg.ref))
        return [make_record("a", 20.1), make_record("b", 30.1)]

    monkeypatch.setattr(C, "score_sources", fake_score)
    monkeypatch.setattr("ganbench.cli.leaderboard.make_extractor", lambda *a: None)
    res = _invoke("--baseline", str(baseline), "s1", "s2", "--n", "100", "--results", str(tmp_path / "none"))
    assert res.exit_code == 0, res.output
    assert seen == [(["s1", "s2"], 100, "cifar10-train")]
