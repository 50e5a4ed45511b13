"""The leaderboard and report site, on synthetic records (no network pass anywhere in this file)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganbench.errors import UserError
from ganbench.report import leaderboard as L
from ganbench.report.site import build_site, page_name
from ganbench.results import write_record

BASE = {
    "schema": 1,
    "ganbench_version": "0.1.0",
    "created": "2026-01-01T00:00:00+0000",
    "wall_seconds": 1.0,
    "samples": {
        "source": "x",
        "kind": "class-folders",
        "n": 1000,
        "content_sha256": "0" * 64,
        "labels": True,
        "notes": {},
        "origin": {"path": "/nonexistent/x"},
        "subset": None,
    },
    "reference": {
        "source": "cifar10-train",
        "kind": "cifar10",
        "n": 1000,
        "content_sha256": "f" * 64,
        "origin": {"copy": "cifar10-jpeg-folder", "path": "/data", "split": "train"},
        "subset": {"n": 1000, "of": 50000, "seed": 0},
    },
    "extractor": {
        "extractor": "inception-v3-fid",
        "version": 1,
        "weights_sha256": "7ff4a85c" + "0" * 56,
        "resize": "legacy-tf",
        "weights": {"file": "default_1.pt", "sha256": "7ff4a85c" + "0" * 56},
        "backend": "onnxruntime",
        "device": "cpu",
        "batch_size": 64,
    },
    "metrics": {
        "fid": 50.0,
        "kid_mean": 0.01,
        "kid_std": 0.001,
        "is_mean": None,
        "is_std": None,
        "is_kl": None,
        "precision": 0.5,
        "recall": 0.4,
        "density": 0.6,
        "coverage": 0.7,
    },
    "unavailable": {"is_mean": "no IS head", "is_std": "no IS head", "is_kl": "no IS head"},
    "warnings": [],
}


def make_record(
    name: str,
    fid: float | None,
    *,
    n: int = 1000,
    ci: tuple[float, float] | None = None,
    step: int | None = None,
    created: str = "2026-01-01T00:00:00+0000",
    resize: str = "legacy-tf",
    samples_path: str | None = None,
    **extra,
) -> dict:
    """A record like scoring.score() writes, for model `name` (via run.name unless samples_path is given)."""
    rec = copy.deepcopy(BASE)
    rec["created"] = created
    rec["samples"]["n"] = n
    rec["samples"]["source"] = samples_path or f"/fake/{name}"
    rec["samples"]["content_sha256"] = hashlib.sha256(repr((name, step, fid, n)).encode()).hexdigest()
    rec["samples"]["origin"] = {"path": samples_path or f"/nonexistent/{name}"}
    rec["extractor"]["resize"] = resize
    rec["metrics"]["fid"] = fid
    if ci is not None:
        rec["metrics"] |= {"fid_ci_low": ci[0], "fid_ci_high": ci[1], "fid_boot_n": 50.0}
    if samples_path is None:
        rec["run"] = {"name": name, "step": step}
    rec.update(extra)
    return rec


def store_of(tmp_path: Path, records: list[dict]) -> Path:
    store = tmp_path / "results"
    for rec in records:
        write_record(rec, store)
    return store


def test_groups_never_mix_setups_and_name_the_difference():
    recs = [
        make_record("a", 30.0),
        make_record("b", 20.0),
        make_record("c", 10.0, n=500),
        make_record("d", 40.0, resize="clean"),
    ]
    groups = L.build_groups(recs)
    assert [[r.model for r in g.rows] for g in groups] == [["b", "a"], ["c"], ["d"]]
    assert groups[1].differs == ["sample count 500 vs 1,000"]
    assert groups[2].differs == ["resize clean vs legacy-tf"]
    assert L.varying_fields(groups) == ["samples", "resize"]
    assert [r.rank for r in groups[0].rows] == [1, 2]


def test_best_and_latest_rows_per_run():
    recs = [
        make_record("g", 60.0, step=1000, created="2026-01-01T00:00:01"),
        make_record("g", 40.0, step=2000, created="2026-01-01T00:00:02"),
        make_record("g", 45.0, step=3000, created="2026-01-01T00:00:03"),
        make_record("h", 70.0, step=500),
    ]
    (g,) = L.build_groups(recs)
    rows = [(r.model, r.step, r.tags) for r in g.rows]
    assert rows == [("g", 2000, ["best"]), ("g", 3000, ["latest"]), ("h", 500, [])]


def test_overlap_marks_only_where_adjacent_intervals_overlap():
    recs = [
        make_record("a", 10.0, ci=(9.0, 11.0)),
        make_record("b", 10.5, ci=(10.2, 11.5)),
        make_record("c", 20.0, ci=(19.0, 21.0)),
        make_record("d", 25.0),
    ]
    (g,) = L.build_groups(recs)
    assert [(r.model, r.overlaps_above) for r in g.rows] == [
        ("a", False),
        ("b", True),
        ("c", False),
        ("d", False),
    ]


def test_model_name_and_step_from_a_trainer_run_folder(tmp_path):
    run = tmp_path / "runs" / "00003-cgan"
    (run / "samples" / "5000" / "airplane").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "log.csv").write_text("step,loss_D\n1,0.5\n")
    rec = make_record("ignored", 30.0, samples_path=str(run / "samples" / "5000"))
    assert (L.model_name(rec), L.step_of(rec), L.run_dir_of(rec)) == ("00003-cgan", 5000, run)
    plain = make_record("ignored", 30.0, samples_path=str(tmp_path / "my-samples"))
    assert (L.model_name(plain), L.step_of(plain)) == ("my-samples", None)
    zipped = make_record("ignored", 30.0, samples_path="out/fakes.ZIP")
    assert L.model_name(zipped) == "fakes"
    assert L.model_name(make_record("named", 1.0)) == "named"
    ckpt = make_record("ignored", 30.0, samples_path=str(run / "ckpt-7000.pt"))  # `ganbench score CKPT`
    ckpt["samples"] |= {"kind": "checkpoint", "source": str(run / "ckpt-7000.pt")}
    ckpt["samples"]["origin"]["step"] = "7000"
    assert (L.model_name(ckpt), L.step_of(ckpt)) == ("00003-cgan", 7000)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("schema"), "schema None is older"),
        (lambda r: r["extractor"].pop("weights_sha256"), "no extractor.weights_sha256"),
        (lambda r: r["metrics"].update(fid="12"), "not a number"),
    ],
)
def test_validate_names_what_is_wrong(mutate, reason):
    rec = make_record("a", 1.0)
    mutate(rec)
    with pytest.raises(L.SkipRecord, match=reason):
        L.validate(rec)


def _html(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_site_renders_groups_reported_rows_and_escapes_names(tmp_path):
    recs = [
        make_record("<script>alert(1)</script>", 12.0, ci=(11.0, 13.0)),
        make_record("b", 12.5, ci=(12.1, 13.2)),
        make_record("c", 9.0, n=500),
    ]
    built = build_site(store_of(tmp_path, recs), tmp_path / "site")
    html = _html(built.index)
    assert built.records == 3 and built.skipped == []
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(re.findall(r'<section class="group"', html)) == 2
    assert "Differs from setup 1 in sample count 500 vs 1,000" in html
    assert "[11.00, 13.00]" in html and "no interval" in html
    assert html.count('<td class="sig"') == 3 and ">≈</td>" in html  # b overlaps the <script> row above it
    assert "not measured here" in html and "StyleGAN2-ADA" in html and "45.04" in html
    assert "IFID" not in html  # no record carries it: the column stays out
    page = built.index.parent / "runs" / page_name("<script>alert(1)</script>")
    assert page.is_file() and "<script>alert(1)" not in _html(page)
    # every local link and image on every page resolves
    for f in [built.index, *built.index.parent.glob("runs/*.html")]:
        for ref in re.findall(r'(?:href|src)="([^"#:]+)"', _html(f)):
            assert (f.parent / ref).exists(), f"{f.name} links to missing {ref}"


def test_bad_records_are_skipped_and_named(tmp_path):
    store = store_of(tmp_path, [make_record("good", 20.0)])
    (store / "broken.json").write_text('{"schema": 1, "metrics": {"fid": 3')  # half-written
    (store / "list.json").write_text("[1, 2]")
    old = make_record("old", 5.0)
    del old["schema"], old["extractor"]["weights_sha256"]
    (store / "old.json").write_text(json.dumps(old))
    built = build_site(store, tmp_path / "site")
    assert built.records == 1
    skipped = "\n".join(built.skipped)
    for name in ("broken.json", "list.json", "old.json"):
        assert name in skipped and name in _html(built.index)
    assert "older than this report reads" in skipped


def test_empty_or_missing_store_still_renders(tmp_path):
    built = build_site(tmp_path / "nothing-here", tmp_path / "site")
    html = _html(built.index)
    assert built.records == 0 and 'id="no-records"' in html and "reported" in html


def test_out_folder_is_swapped_and_never_clobbers_a_foreign_folder(tmp_path):
    store = store_of(tmp_path, [make_record("a", 20.0)])
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not a ganbench site"):
        build_site(store, foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"
    site = tmp_path / "site"
    build_site(store, site)
    (site / "stale.html").write_text("old")
    build_site(store, site)
    assert not (site / "stale.html").exists() and (site / "index.html").is_file()
    assert not list(tmp_path.glob(".site.*"))  # no temp or old folders left beside it


def _run_folder(root: Path, steps: list[int]) -> Path:
    run = root / "runs" / "00001-cgan"
    rng = np.random.default_rng(0)
    for step in steps:
        for cls in ("airplane", "automobile"):
            d = run / "samples" / str(step) / cls
            d.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(d / f"{i}.png")
        Image.fromarray(rng.integers(0, 255, (34, 34, 3), dtype=np.uint8)).save(run / f"grid-{step}.png")
    (run / "config.json").write_text(json.dumps({"arch": "cgan", "preset": "cpu", "steps": max(steps)}))
    rows = "".join(f"{s},{1 / s:.4f},{0.7:.2f},0.6,0.4\n" for s in range(50, max(steps) + 1, 50))
    (run / "log.csv").write_text("step,loss_D,loss_G,D_x,D_G_z\n" + rows)
    return run


def _classwise(flags=("ok", "collapsed"), heatmap=None) -> dict:
    """record["classwise"] as ganbench/classaware.py writes it (two classes here)."""
    rows = [
        {"label": i, "class": c, "recall": r, "fid": f, "diversity_ratio": d, "flag": fl}
        for i, (c, r, f, d, fl) in enumerate(
            zip(("airplane", "automobile"), (0.9, 0.8), (40.0, 50.0), (0.3, 0.2), flags, strict=True)
        )
    ]
    return {
        "classes": ["airplane", "automobile"],
        "per_class": rows,
        "confusion_matrix": [[9, 1], [2, 8]],
        "heatmap": heatmap,
    }


def test_run_page_has_grid_curves_fid_steps_and_class_sections(tmp_path):
    run = _run_folder(tmp_path, [100, 200])
    recs = [
        make_record("x", 80.0, samples_path=str(run / "samples" / "100"), created="2026-01-01T00:00:01"),
        make_record(
            "x",
            60.0,
            samples_path=str(run / "samples" / "200"),
            created="2026-01-01T00:00:02",
            ci=(58.0, 62.0),
            classwise=_classwise(),
        ),
        make_record("plain", 70.0),
    ]
    recs[1]["metrics"] |= {"ifid": 45.0, "classifier_accuracy": 0.85}
    built = build_site(store_of(tmp_path, recs), tmp_path / "site")
    index = _html(built.index)
    assert "IFID" in index and "classifier acc." in index and "automobile: collapsed" in index
    page = _html(built.index.parent / "runs" / page_name("00001-cgan"))
    for section in (
        'id="samples"',
        'id="per-class"',
        'id="training"',
        "grid-200.png",
        "Learning curves",
        "FID of each scored checkpoint",
        "Confusion matrix",
        "automobile: collapsed",
    ):
        assert section in page, section
    assert len(re.findall(r'<img [^>]*src="\.\./img/', page)) == 5  # grid, bars, confusion, curves, fid-steps
    plain = _html(built.index.parent / "runs" / page_name("plain"))
    assert 'id="per-class"' not in plain and 'id="training"' not in plain and "no sample grid" in plain
    again = build_site(tmp_path / "results", tmp_path / "site")
    assert again.figures_drawn == 0 and again.figures_reused == built.figures_drawn > 0


def test_confusion_png_beside_the_record_is_used(tmp_path):
    store = tmp_path / "results"
    path = write_record(make_record("m", 20.0, classwise=_classwise()), store)
    heatmap = json.loads(path.read_text())["classwise"].get("heatmap")
    assert heatmap, "write_record names the confusion PNG it writes beside the record"
    Image.new("RGB", (7, 5), "red").save(store / heatmap)  # a stand-in we can recognise
    built = build_site(store, tmp_path / "site")
    (img,) = re.findall(
        r'src="\.\./img/(confusion-[0-9a-f]+\.png)"', _html(built.index.parent / "runs" / page_name("m"))
    )
    assert Image.open(built.index.parent / "img" / img).size == (7, 5)  # the PNG itself, not a redrawn one


def test_class_view_reads_the_classwise_section():
    v = L.class_view({"classwise": _classwise(flags=("ok", "ok")), "_file": "/r/x.json"})
    assert v.classes == ["airplane", "automobile"] and v.flags == []
    assert v.series["IFID (FID per class)"] == [40.0, 50.0] and v.confusion == [[9, 1], [2, 8]]
    assert v.confusion_png is None
    unlabelled = {
        "classwise": {"classes": ["a"], "per_class": [{"class": "a", "fid": None}], "overall_flag": "ok"}
    }
    v = L.class_view(unlabelled)
    assert v.series == {} and v.flags == []
    assert L.class_view({"metrics": {}}).flags is None and L.class_view({}).series == {}


def test_malformed_reported_file_is_a_note_not_a_crash(tmp_path):
    bad = tmp_path / "reported.json"
    bad.write_text('{"sources": [{"title": "x"}]}')
    built = build_site(tmp_path / "none", tmp_path / "site", reported_path=bad)
    assert any("reported.json: unreadable" in s for s in built.skipped)
    assert 'id="reported"' not in _html(built.index)


def test_cli_report(tmp_path):
    from ganbench.cli import cli

    store = store_of(tmp_path, [make_record("a", 20.0)])
    (store / "bad.json").write_text("{")
    out = tmp_path / "site"
    res = CliRunner().invoke(cli, ["report", "--results", str(store), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().endswith(str(out / "index.html")) and "bad.json" in res.stderr
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "a.txt").write_text("x")
    res = CliRunner().invoke(cli, ["report", "--results", str(store), "--out", str(tmp_path / "foreign")])
    assert res.exit_code == 2 and "not a ganbench site" in res.stderr


def test_many_diversity_flags_are_counted_on_the_leaderboard():
    from ganbench.report.cells import flags_cell

    many = flags_cell([f"{c}: collapsed" for c in ("cat", "dog", "frog")] + ["ship: memorising"])
    assert many["text"] == "collapsed ×3, memorising ×1" and "frog: collapsed" in many["title"]
    assert flags_cell(["cat: collapsed"])["text"] == "cat: collapsed" and flags_cell([])["text"] == "none"
    assert flags_cell(None)["text"] == "—"


def test_committed_records_sit_beside_the_store_marked_with_where_and_when(tmp_path):
    own = store_of(tmp_path, [make_record("my-run", 60.0, n=500)])
    machine = {"cpu": "Test CPU @ 2.0GHz", "cores": 2, "gpu": None, "torch": "2.x"}
    committed = tmp_path / "committed"
    write_record(make_record("cgan", 80.0, n=10_000, created="2026-12-02T03:00:00+0000", machine=machine),
                 committed)  # fmt: skip
    built = build_site(own, tmp_path / "site", committed=[committed])
    html = _html(built.index)
    assert built.records == 2
    assert html.count("tag-committed") == 1 and "measured 2026-12-02 on Test CPU @ 2.0GHz, 2 cores" in html
    row = next(r for r in html.split("<tr") if "my-run" in r)
    assert "tag-committed" not in row  # the newcomer's own row is not marked
    page = _html(built.index.parent / "runs" / page_name("cgan"))
    assert "not an image folder on this machine" in page  # its samples are not here: said, not a broken image
    for f in [built.index, *built.index.parent.glob("runs/*.html")]:
        for ref in re.findall(r'(?:href|src)="([^"#:]+)"', _html(f)):
            assert (f.parent / ref).exists(), f"{f.name} links to missing {ref}"
