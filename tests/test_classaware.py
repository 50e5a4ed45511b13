"""Class-aware scoring end to end: the record's classwise section, the heatmap sidecar, unlabelled samples,
--classifier none, statistics-only references, the calibration on cifar10-test, and the CLI.

Inception work is limited to the shared `small_sets` (40 + 60 images) plus ~30 more; the rest reuses the
feature cache (same pixels in the same order hash the same, whatever the container)."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganbench import classaware
from ganbench.extractors.classifier import ClassifierExtractor, resolve_classifier
from ganbench.inputs.imageset import CIFAR10_CLASSES, ImageSet
from ganbench.inputs.sources import load_source
from ganbench.metrics import fid
from ganbench.references import Reference
from ganbench.results import write_record
from ganbench.scoring import ScoreConfig, features_for, score

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def clf() -> ClassifierExtractor:
    return ClassifierExtractor(resolve_classifier("resnet20"), device="cpu")


def run_score(cfg: ScoreConfig, extractor, classifier) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return score(cfg, extractor, classifier)


@pytest.fixture(scope="module")
def labelled(small_sets, ort_extractor, clf) -> dict:
    cfg = ScoreConfig(samples=str(small_sets["samples"]), ref=str(small_sets["ref"]), classifier="resnet20")
    return run_score(cfg, ort_extractor, clf)


def test_labelled_record(labelled, small_sets, clf):
    m, cw = labelled["metrics"], labelled["classwise"]
    samples = load_source(str(small_sets["samples"]))
    probs = clf(samples.images)["probs"]
    assert m["classifier_accuracy"] == pytest.approx((probs.argmax(1) == samples.labels).mean())
    assert 1 <= m["classifier_score"] <= 10 and m["classifier_kl"] == pytest.approx(
        np.log(m["classifier_score"])
    )
    assert np.sum(cw["confusion_matrix"]) == 40 and cw["labels"] == "class-folders"
    assert [r["class"] for r in cw["per_class"]][:2] == ["airplane", "automobile"]
    assert (
        sum(r["support"] for r in cw["per_class"]) == 40
        and sum(r["predicted"] for r in cw["per_class"]) == 40
    )
    assert cw["classifier"]["arch"] == "resnet20" and len(cw["classifier"]["weights_sha256"]) == 64
    assert "calibration" not in cw["classifier"]  # folders, not a CIFAR-10 split: no calibration run
    assert m["diversity_ratio"] > 0 and 0 <= m["near_duplicate_rate"] <= 1
    # 4 samples and 6 reference images per class on average: IFID exists only if every class has 2+
    per_class_fid = [r.get("fid") for r in cw["per_class"]]
    if m["ifid"] is None:
        assert labelled["unavailable"]["ifid"].startswith("no per-class FID")
    else:
        assert m["ifid"] == pytest.approx(np.mean(per_class_fid))
    assert any("biased upwards" in w for w in labelled["warnings"])  # tiny classes are warned about


def test_per_class_fid_equals_core_fid_on_that_class(labelled, small_sets, ort_extractor, tmp_path):
    c = next(i for i, r in enumerate(labelled["classwise"]["per_class"]) if r.get("fid") is not None)
    samples, ref = load_source(str(small_sets["samples"])), load_source(str(small_sets["ref"]))
    fake = ort_extractor(np.ascontiguousarray(samples.images[samples.labels == c]))["pool3"]
    real = ort_extractor(np.ascontiguousarray(ref.images[ref.labels == c]))["pool3"]
    assert labelled["classwise"]["per_class"][c]["fid"] == pytest.approx(fid(fake, real)["fid"], rel=1e-4)


def test_heatmap_written_beside_the_record(labelled, tmp_path):
    record = json.loads(json.dumps(labelled))
    path = write_record(record, tmp_path)
    png = tmp_path / record["classwise"]["heatmap"]
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(path.read_text())["classwise"]["heatmap"] == png.name
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_unlabelled_samples_use_predictions(small_sets, ort_extractor, clf, tmp_path):
    samples = load_source(str(small_sets["samples"]))
    np.savez(tmp_path / "s.npz", x=samples.images)  # same pixels, same order: the features are a cache hit
    cfg = ScoreConfig(samples=str(tmp_path / "s.npz"), ref=str(small_sets["ref"]), classifier="resnet20")
    rec = run_score(cfg, ort_extractor, clf)
    assert rec["cache"]["samples_hit"] is True
    for key in ("classifier_accuracy", "macro_f1", "ifid"):
        assert rec["metrics"][key] is None and "no labels" in rec["unavailable"][key]
    cw = rec["classwise"]
    assert cw["confusion_matrix"] is None and cw["diversity_groups"] == "predicted"
    assert sum(r["predicted"] for r in cw["per_class"]) == 40 and rec["metrics"]["classifier_score"] > 1
    path = write_record(rec, tmp_path / "store")
    assert rec["classwise"]["heatmap"] is None and list(path.parent.glob("*.png")) == []


def test_classifier_none(small_sets, ort_extractor):
    cfg = ScoreConfig(samples=str(small_sets["samples"]), ref=str(small_sets["ref"]), classifier="none")
    rec = run_score(cfg, ort_extractor, None)
    for key in classaware.PROB_KEYS:
        assert rec["metrics"][key] is None and "--classifier none" in rec["unavailable"][key]
    assert rec["metrics"]["ifid"] is not None or "ifid" in rec["unavailable"]  # labels alone suffice for IFID
    assert rec["classwise"]["classifier"] is None


def test_real_data_run_records_the_calibration(small_sets, ort_extractor, clf, cifar_dir):
    cfg = ScoreConfig(samples="cifar10-test", n=20, ref=str(small_sets["ref"]), calibration_n=20,
                      data_dir=str(cifar_dir))  # fmt: skip
    rec = run_score(cfg, ort_extractor, clf)
    cal = rec["classwise"]["classifier"]["calibration"]
    assert cal["n"] == 20 and cal["split"] == "cifar10-test" and cal["copy"].startswith("cifar10-")
    assert cal["accuracy"] == pytest.approx(rec["metrics"]["classifier_accuracy"])  # the same 20 images


def test_statistics_only_or_unlabelled_reference(clf):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    samples = ImageSet(
        images, np.arange(12, dtype=np.int64) % 10, [f"{i}.png" for i in range(12)], "s", "npz"
    )
    pool3 = rng.random((12, 32)).astype(np.float32)
    kw = {"identity": {"extractor": "test"}, "seed": 0, "data_dir": None, "calibration_n": 0}
    stats_only = Reference({"source": "stats"}, np.zeros(32), np.eye(32))
    m, un, cw, _ = classaware.evaluate(samples, pool3, stats_only, clf, features_for, **kw)
    assert (
        m["ifid"] is None and "statistics only" in un["ifid"] and "statistics only" in un["diversity_ratio"]
    )
    assert m["classifier_accuracy"] is not None  # labels + classifier need no reference
    real = rng.random((30, 32)).astype(np.float32)
    unlabelled = Reference({"source": "r"}, real.mean(0), np.cov(real.T), real)
    m, un, cw, notes = classaware.evaluate(samples, pool3, unlabelled, clf, features_for, **kw)
    assert "no labels" in un["ifid"] and m["diversity_ratio"] is not None and cw["diversity_groups"] == "none"
    assert "classes_flagged" in un and m["near_duplicate_rate"] is not None


def test_cli_options_and_bad_weights(small_sets, tmp_path):
    from ganbench.cli import cli

    args = ["score", str(small_sets["samples"]), "--ref", str(small_sets["ref"]), "--results", str(tmp_path)]
    ok = CliRunner().invoke(cli, [*args, "--classifier", "resnet20"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.stderr
    assert "classifier accuracy" in ok.stdout and "airplane" in ok.stdout and "heatmap" in ok.stdout
    assert len(list(tmp_path.glob("*-confusion.png"))) == 1
    bad = CliRunner().invoke(cli, [*args, "--classifier-weights", str(tmp_path / "nope.th")])
    assert bad.exit_code == 2 and "does not exist" in bad.stderr
    wrong = CliRunner().invoke(cli, [*args, "--classifier", "vgg"])
    assert wrong.exit_code == 2


def test_record_kept_when_the_heatmap_cannot_be_drawn(tmp_path, monkeypatch, capsys):
    import ganbench.report.plots as plots

    def no_seaborn(*args, **kwargs):
        raise ImportError("No module named 'seaborn'")

    monkeypatch.setattr(plots, "confusion_heatmap", no_seaborn)
    record = {"samples": {"source": "s", "content_sha256": "0" * 64}, "metrics": {},
              "classwise": {"confusion_matrix": [[1]], "classes": ["airplane"], "heatmap": None}}  # fmt: skip
    path = write_record(record, tmp_path)
    assert json.loads(path.read_text())["classwise"]["heatmap"] is None
    assert "no confusion-matrix heatmap" in capsys.readouterr().err and not list(tmp_path.glob("*.png"))


def test_calibration_is_cached_by_the_split_files(tmp_path, clf, monkeypatch):
    """A second CIFAR run does not decode the test split again; changing a file of it recomputes."""
    rng = np.random.default_rng(0)
    for c in CIFAR10_CLASSES:
        (tmp_path / "copy" / "test" / c).mkdir(parents=True)
        for i in range(3):
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(img).save(tmp_path / "copy" / "test" / c / f"{i}.png")
    data = str(tmp_path / "copy")
    loads = []
    real_load = classaware.load_source
    monkeypatch.setattr(classaware, "load_source", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    samples = load_source(data + "/test")  # a folder, not "cifar10-test": calibration must load the split
    first = classaware.calibration(clf, data, None, features_for, samples)
    again = classaware.calibration(clf, data, None, features_for, samples)
    assert len(loads) == 1 and again.pop("cached") is True and "cached" not in first
    assert again == first and first["n"] == 30 and first["copy"] == "cifar10-image-folder"
    os.utime(tmp_path / "copy" / "test" / "cat" / "0.png", ns=(1, 1))  # a touched file: a new fingerprint
    assert "cached" not in classaware.calibration(clf, data, None, features_for, samples) and len(loads) == 2
    other_n = classaware.calibration(clf, data, 10, features_for, samples)  # a subset is its own entry
    assert other_n["n"] == 10 and "cached" not in other_n and len(loads) == 3
