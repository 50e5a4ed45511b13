"""`ganbench demo` (train -> score -> report) with the scoring step replaced: no network pass here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ganbench.errors import UserError
from ganbench.report.site import page_name
from tests.test_report import _html, _run_folder, make_record


def _fake_score(calls: list):
    def score(cfg):
        calls.append(cfg)
        rec = make_record("ignored", 55.0, n=cfg.n, samples_path=cfg.samples)
        rec["samples"]["source"] = cfg.samples
        return rec

    return score


def test_demo_without_training_scores_the_test_copy(tmp_path):
    from trainers.demo import DemoConfig, run_demo

    calls, lines = [], []
    index = run_demo(
        DemoConfig(workdir=tmp_path, train=False), echo=lines.append, score_fn=_fake_score(calls)
    )
    assert [(c.samples, c.n, c.ref_n, c.ref) for c in calls] == [("cifar10-test", 500, 1000, "cifar10-train")]
    assert index == tmp_path / "site" / "index.html" and "cifar10-test" in _html(index)
    assert len(list((tmp_path / "results").glob("*.json"))) == 1 and any("FID 55.00" in ln for ln in lines)


def test_demo_trains_then_scores_the_run_samples(tmp_path, monkeypatch):
    pytest.importorskip("trainers.cli")
    from trainers import cli as trainers_cli
    from trainers.demo import DemoConfig, run_demo

    seen = []

    def fake_train(args, prog_name=None, standalone_mode=True):  # writes what the trainer writes, instantly
        seen.append(args)
        out = Path(args[args.index("--out") + 1])
        run = _run_folder(out.parent / "scratch", [20, 137])  # the time budget ended it at step 137
        out.mkdir(parents=True, exist_ok=True)
        run.rename(out / "00000-cgan")

    monkeypatch.setattr(trainers_cli.train_command, "main", fake_train)
    calls = []
    index = run_demo(
        DemoConfig(workdir=tmp_path, minutes=2.5), echo=lambda s: None, score_fn=_fake_score(calls)
    )
    assert seen[0][:2] == ["cgan", "--preset"] and "--device" in seen[0] and "cpu" in seen[0]
    assert seen[0][seen[0].index("--minutes") + 1] == "2.5" and "--steps" not in seen[0]
    assert calls[0].samples == str(tmp_path / "train" / "00000-cgan" / "samples" / "137")  # newest, not 20
    page = _html(index.parent / "runs" / page_name("00000-cgan"))
    assert "grid-137.png" in page and 'id="training"' in page


def test_demo_falls_back_when_training_fails(tmp_path, monkeypatch):
    pytest.importorskip("trainers.cli")
    from trainers import cli as trainers_cli
    from trainers.demo import DemoConfig, run_demo

    def broken(*a, **k):
        raise UserError("no CIFAR-10 copy given")

    monkeypatch.setattr(trainers_cli.train_command, "main", broken)
    calls, lines = [], []
    run_demo(DemoConfig(workdir=tmp_path), echo=lines.append, score_fn=_fake_score(calls))
    assert calls[0].samples == "cifar10-test" and any("training failed" in ln for ln in lines)


def test_demo_scores_without_the_classifier_when_its_weights_are_missing(tmp_path):
    from ganbench.scoring import ScoreConfig
    from trainers.demo import DemoConfig, run_demo

    if "classifier" not in {f.name for f in dataclasses.fields(ScoreConfig)}:
        pytest.skip("scoring has no surrogate classifier yet")
    calls, lines = [], []
    inner = _fake_score(calls)

    def score(cfg):
        if cfg.classifier != "none":
            raise UserError("no resnet56-4bfd9763.th in the cache and GANBENCH_OFFLINE is set")
        return inner(cfg)

    run_demo(DemoConfig(workdir=tmp_path, train=False), echo=lines.append, score_fn=score)
    assert [c.classifier for c in calls] == ["none"] and any("without the class-aware" in ln for ln in lines)
