"""Training seeds in the benchmark's tables: records that differ only in the seed -> one row (mean ± sd), and
the 'vs ↑' marks from the seeds' spread. Synthetic records with hand-computed values; no network pass."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from ganbench.report import leaderboard as L
from ganbench.report import seeds as S
from ganbench.report.site import build_site
from tests.test_report import make_record, store_of
from trainers import benchmark as B


def seeded(name: str, fid: float, seed: int, *, steps: int = 100, acc: float | None = None, **kw) -> dict:
    """A benchmark unit's record: arch `name` trained with `seed`, scored under one protocol."""
    rec = make_record(name, fid, step=steps, **kw)
    protocol = B.Protocol(preset="cpu", minutes=None, n=1000, ref_n=1000, fid_ci=0)
    rec["benchmark"] = {
        "name": name, "arch": name, "seed": seed, "ref_seed": 0, "steps": steps, "steps_budget": steps,
        "protocol": protocol.__dict__, "train_seconds": 600.0, "img_per_s": 100.0, "model_settings": {},
        "machine": {"cpu": "AMD EPYC", "simd": "AVX2", "cores": 2, "gpu": None, "torch": "2"},
    }  # fmt: skip
    rec["run"]["training_seed"] = seed
    if acc is not None:
        rec["metrics"]["classifier_accuracy"] = acc
    return rec


def test_spread_and_welch_on_hand_computed_values():
    sp = S.spread([seeded("a", v, i) for i, v in enumerate([1.0, 2.0, 3.0])], "fid")
    assert (sp.n, sp.mean, sp.sd) == (3, 2.0, 1.0)
    lo, hi = sp.interval()  # t(0.975, 2) = 4.3027: 2 ± 4.3027 / sqrt(3)
    assert lo == pytest.approx(2 - 2.48414, abs=1e-4) and hi == pytest.approx(2 + 2.48414, abs=1e-4)
    assert S.spread([seeded("a", 5.0, 0)], "fid").sd is None
    # means 2 and 5, variances 1 and 1: t = -3/sqrt(2/3) = -3.674 on 4 df, two-sided p = 0.0213
    assert S.differ([1, 2, 3], [4, 5, 6]) is True
    assert S.differ([1, 2, 3], [4, 5, 6], alpha=0.01) is False
    assert S.differ([30, 35, 40], [32, 37, 42]) is False
    assert S.differ([30.0], [40.0, 41.0]) is None  # one seed: not testable
    assert S.differ([3, 3], [3, 3]) is False and S.differ([3, 3], [4, 4]) is True  # no spread at all


def test_only_the_training_seed_may_differ_within_a_row():
    recs = [seeded("a", 30.0, 0), seeded("a", 31.0, 1), seeded("a", 29.0, 2, steps=200), seeded("b", 40.0, 0)]
    groups = S.group(recs)
    sizes = sorted((g[0]["benchmark"]["name"], g[0]["benchmark"]["steps"], len(g)) for g in groups.values())
    assert sizes == [("a", 100, 2), ("a", 200, 1), ("b", 100, 1)]
    assert S.group([make_record("plain", 10.0)]) == {}  # no training seed: not a seeded row
    # a seed scored twice counts once, the newer record
    again = seeded("a", 35.0, 1, created="2026-02-01T00:00:00+0000")
    (members,) = [g for g in S.group([*recs[:2], again]).values()]
    assert [m["metrics"]["fid"] for m in members] == [30.0, 35.0]


def test_leaderboard_groups_seeds_into_one_row_and_marks_from_their_spread():
    recs = [
        *(seeded("acgan", v, i) for i, v in enumerate([30.0, 31.0, 32.0])),
        *(seeded("biggan", v, i) for i, v in enumerate([40.0, 41.0, 42.0])),  # far from acgan: ranked
        *(seeded("cgan", v, i) for i, v in enumerate([41.5, 44.0, 39.0])),  # overlaps biggan: ≈
        seeded("dcgan", 60.0, 0),  # one seed
        *(seeded("wgan", v, i) for i, v in enumerate([62.0, 63.0, 64.0])),  # under a one-seed row
        make_record("mine", 70.0, ci=(69.0, 71.0)),
        make_record("yours", 75.0, ci=(74.0, 76.0)),
    ]
    (g,) = L.build_groups(recs[:-1])
    assert [(r.model, r.tags, r.mark_above) for r in g.rows] == [
        ("acgan", ["3 seeds"], ""),
        ("biggan", ["3 seeds"], ""),
        ("cgan", ["3 seeds"], "≈"),
        ("dcgan", ["1 seed"], S.ONE_SEED),
        ("wgan", ["3 seeds"], S.ABOVE_ONE_SEED),  # the untested pair is dcgan's one seed, said from below
        ("mine", [], ""),  # 70 is outside wgan's t-interval of the mean, 63 ± 2.5
    ]
    (g,) = L.build_groups([r for r in recs if L.model_name(r) not in ("wgan", "mine")])
    assert [(r.model, r.mark_above) for r in g.rows][-2:] == [
        ("dcgan", S.ONE_SEED),
        ("yours", S.ABOVE_ONE_SEED),
    ]
    assert g.rows[0].fid() == 31.0 and g.rows[2].fid() == pytest.approx(41.5)


def test_site_and_run_page_show_the_mean_the_marks_and_every_seed(tmp_path):
    recs = [
        *(seeded("acgan", v, i, acc=a) for i, (v, a) in enumerate([(30.0, 0.6), (31.0, 0.62), (32.0, 0.64)])),
        *(seeded("biggan", v, i) for i, v in enumerate([40.0, 41.0, 42.0])),
        *(seeded("cgan", v, i) for i, v in enumerate([41.5, 44.0, 39.0])),
    ]
    built = build_site(store_of(tmp_path, recs), tmp_path / "site")
    html = built.index.read_text()
    assert "31.00 ± 1.00" in html and "0.620 ± 0.020" in html and "3 seeds" in html
    assert re.findall(r'<td class="sig"[^>]*>([^<]*)</td>', html) == ["", "", "≈"]
    marks = [json.loads(m.replace("&#34;", '"')) for m in re.findall(r'data-marks="([^"]*)"', html)]
    assert marks[2] == {"1": "≈"} and marks[0] == {}  # cgan ≈ biggan (index 1); acgan ranked against both
    # IS is n/a for one reason in every row: said once under the table, not in each cell
    assert "n/a in every row" in html and "IS: no IS head" in html and "n/a — no IS head" not in html
    page = next(p for p in (built.index.parent / "runs").glob("acgan-*.html"))
    text = page.read_text()
    assert "Training seeds" in text and "31.00 ± 1.00" in text
    for fid in ("30.00", "31.00", "32.00"):
        assert fid in text


def test_benchmark_table_aggregates_seeds_and_marks_rows(tmp_path):
    recs = {
        "acgan": [seeded("acgan", v, i, acc=0.6) for i, v in enumerate([30.0, 31.0, 32.0])],
        "biggan": [seeded("biggan", v, i, acc=0.3) for i, v in enumerate([40.0, 41.0, 42.0])],
        "cgan": [seeded("cgan", v, i, acc=0.3) for i, v in enumerate([41.5, 44.0, 39.0])],
        "dcgan": [seeded("dcgan", 60.0, 0)],
        "wgan-gp": [seeded("wgan-gp", v, i) for i, v in enumerate([62.0, 63.0, 64.0])],
    }
    protocol = B.Protocol(preset="cpu", minutes=None, n=1000, ref_n=1000, fid_ci=0)
    req = B.Request(tuple(recs), protocol, tmp_path, seeds=(0, 1, 2))
    table = B.benchmark_markdown(req, recs)
    lines = table.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| arch | seeds |"))
    body = lines[head + 2 : lines.index("", head)]
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in body}
    assert rows["acgan"][1:4] == ["3", "31.00 ± 1.00", ""]
    assert rows["biggan"][1:4] == ["3", "41.00 ± 1.00", "ranked"]
    sd = math.sqrt(((41.5 - 41.5) ** 2 + 2.5**2 + 2.5**2) / 2)
    assert rows["cgan"][1:4] == ["3", f"41.50 ± {sd:.2f}", "≈"]
    assert rows["dcgan"][1:4] == ["1", "60.00", S.ONE_SEED]
    assert rows["wgan-gp"][1:4] == ["3", "63.00 ± 1.00", S.ABOVE_ONE_SEED]
    assert list(rows) == ["acgan", "biggan", "cgan", "dcgan", "wgan-gp"]  # by mean FID
    assert "- cgan: seed 0: 41.50" in table and "seed 2: 39.00" in table
    assert "subset seed 0, the same for every training seed" in table


def test_parse_seeds():
    from ganbench.errors import UserError

    assert B.parse_seeds("0,1, 2") == (0, 1, 2)
    for bad in ("a", "", "0,0", "-1", "1.5"):
        with pytest.raises(UserError):
            B.parse_seeds(bad)


def test_old_benchmark_records_are_seed_records(tmp_path):
    """A record from before --seeds (protocol.seed for training and subset alike; the benchmark section of the
    acgan row committed on 2026-12-06) is a one-seed row."""
    protocol = {"classifier": "resnet56", "fid_ci": 50, "fid_inf": 15, "minutes": 60.0, "n": 10000, "preset": "cpu",
                "ref": "cifar10-train", "ref_n": 10000, "seed": 0}  # fmt: skip
    rec = {"benchmark": {"arch": "acgan", "name": "acgan", "model_settings": {}, "protocol": protocol,
                         "steps": 14000, "steps_budget": 14000, "train_seconds": 2969.5},
           "run": {"arch": "acgan", "name": "acgan", "step": 14000}, "samples": {"n": 10000}}  # fmt: skip
    assert S.training_seed(rec) == 0 and S.group_key(rec) is not None
    assert S.group_key(rec) != S.group_key(rec | {"benchmark": rec["benchmark"] | {"steps": 13000}})


def _curve(name: str, points: list[tuple[int, float, float]], n: int = 2000) -> dict:
    return {"kind": "ganbench-quality-curve", "schema": 1, "name": name, "seed": 0, "n": n,
            "reference": {"source": "cifar10-train", "n": 10000, "subset": {"seed": 0}, "content_sha256": "f"},
            "extractor": {"weights_sha256": "7ff4", "resize": "legacy-tf"},
            "machine": {"cpu": "AMD EPYC", "simd": "AVX2"},
            "points": [{"step": s, "train_minutes": m, "fid": f} for s, m, f in points]}  # fmt: skip


def test_quality_against_compute_figure_on_the_leaderboard(tmp_path):
    store = store_of(tmp_path, [seeded("acgan", 30.0, 0)])
    (store / "curves").mkdir()
    curves = {"acgan": _curve("acgan", [(2000, 9.0, 120.0), (14000, 64.0, 40.0)]),
              "dcgan": _curve("dcgan", [(2000, 5.0, 150.0), (18000, 60.0, 70.0)]),
              "small": _curve("small", [(100, 1.0, 300.0)], n=500)}  # fmt: skip
    for name, c in curves.items():
        (store / "curves" / f"{name}-seed0.json").write_text(json.dumps(c))
    (store / "curves" / "broken-seed0.json").write_text("{")
    built = build_site(store, tmp_path / "site")
    html = built.index.read_text()
    figs = re.findall(
        r'<section class="compute"[^>]*>.*?<img src="([^"]+)".*?<figcaption>([^<]*)<', html, re.S
    )
    assert len(figs) == 2  # 2,000-sample curves together, the 500-sample one apart
    assert "FID of 2,000 samples" in figs[0][1] and "AMD EPYC AVX2" in figs[0][1]
    assert all((built.index.parent / src).is_file() for src, _ in figs)
    assert any("broken-seed0.json" in s for s in built.skipped) and built.records == 1


def _table_rows(table: str) -> dict[str, list[str]]:
    lines = table.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| arch | seeds |"))
    body = lines[head + 2 : lines.index("", head)]
    return {line.split(" | ")[0][2:]: line.split(" | ") for line in body}


def test_publish_builds_the_table_from_a_store_that_units_of_several_sessions_filled(tmp_path):
    """The committed store gathers units run by different commands (one per session): `--publish STORE` makes
    the table from every record there under the options' protocol; another protocol's records stay out (and
    are counted), a seed scored twice counts once (the newer), and a changed recipe is a row of its own."""
    from click.testing import CliRunner

    from ganbench.cli import cli

    old = seeded("dcgan", 64.0, 0)
    old["benchmark"]["protocol"] = {**old["benchmark"]["protocol"], "minutes": 60.0}  # the pre-seeds protocol
    acgan = [seeded("acgan", 50.0, 0, acc=0.58, created="2026-12-07T08:47:06+0000"),
             seeded("acgan", 99.0, 1, acc=0.50, created="2026-12-08T08:00:00+0000"),
             seeded("acgan", 52.0, 1, acc=0.60, created="2026-12-09T08:00:00+0000"),  # seed 1 scored again
             seeded("acgan", 54.0, 2, acc=0.62, created="2026-12-10T08:00:00+0000")]  # fmt: skip
    acgan[3]["benchmark"]["machine"] = {
        "cpu": "Intel Xeon",
        "simd": "AVX-512",
        "cores": 2,
        "gpu": None,
        "torch": "2",
    }
    cgan = [seeded("cgan", 90.0 + s, s, acc=0.3, created=f"2026-12-0{s + 1}T00:00:00+0000") for s in (0, 1)]
    cgan[1]["benchmark"]["recipe"] = {"sha256_12": "bbbbbbbbbbbb"}
    store = store_of(tmp_path, [old, *acgan, *cgan])
    before = sorted(p.name for p in store.iterdir())

    args = ["benchmark", "--publish", str(store), "--out", str(tmp_path / "out"), "--preset", "cpu",
            "--n", "1000", "--ref-n", "1000", "--fid-ci", "0"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    table = (store / "benchmark.md").read_text()
    rows = _table_rows(table)
    assert rows["acgan"][1:3] == ["3", "52.00 ± 2.00"]  # seeds 50, 52 (the newer of seed 1), 54
    assert rows["acgan"][10] == f"{(0.58 + 0.60 + 0.62) / 3:.3f} ± 0.020"
    assert set(rows) == {"acgan", "cgan (100 steps, recipe ?)", "cgan (100 steps, recipe bbbbbbbbbbbb)"}
    assert "dcgan" not in rows and "1 record(s) scored under another protocol (dcgan 1)" in table
    assert "acgan seed 1: the record of 2026-12-08T08:00:00+0000 replaced by the newer one" in table
    assert (
        "`ganbench benchmark --archs cgan,acgan --seeds 0,1,2 --preset cpu --n 1000 --ref-n 1000 --fid-ci 0`"
        in table
    )
    assert "Intel Xeon AVX-512, 2 cores, no GPU, torch 2 (acgan seed 2)" in table
    assert (
        "AMD EPYC AVX2, 2 cores, no GPU, torch 2 (" in table and "Scored: 2026-12-01 to 2026-12-10" in table
    )
    assert (tmp_path / "out" / "site" / "index.html").is_file()
    assert sorted(p.name for p in store.iterdir()) == sorted([*before, "benchmark.md"])  # records untouched

    # another protocol: no row of this store matches, and the table says why instead of inventing one
    res = CliRunner().invoke(cli, [*args[:-6], "--n", "500"])
    assert res.exit_code == 0 and _table_rows((store / "benchmark.md").read_text()) == {}
    assert "7 record(s) scored under another protocol" in (store / "benchmark.md").read_text()


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_publish_from_a_folder_without_records_is_one_line_and_writes_nothing(tmp_path, make):
    from click.testing import CliRunner

    from ganbench.cli import cli

    store = tmp_path / "store"
    if make == "empty":
        store.mkdir()
    res = CliRunner().invoke(cli, ["benchmark", "--publish", str(store), "--out", str(tmp_path / "out")])
    assert (
        res.exit_code == 2 and "no records there" in res.output and len(res.output.strip().splitlines()) == 1
    )
    assert not (tmp_path / "out").exists() and (not store.exists() or not any(store.iterdir()))


def test_the_committed_table_is_the_store_s_and_readme_shows_it():
    """benchmark-cpu/benchmark.md is rebuilt from the committed records (`--publish`), and README's seeded table
    is that table: a unit committed without republishing, or README left behind, fails here."""
    root = Path(__file__).resolve().parents[1]
    store = root / "leaderboard" / "results" / "benchmark-cpu"
    protocol = B.Protocol(preset="cpu", minutes=None, n=10_000, ref_n=10_000, fid_ci=50)
    rows, notes = B.scored_records(store, protocol)
    rebuilt = _table_rows(B.benchmark_markdown(B.Request(tuple(rows), protocol, root), rows, notes))
    committed = _table_rows((store / "benchmark.md").read_text())
    assert rebuilt and committed == rebuilt
    assert _table_rows((root / "README.md").read_text()) == committed


def test_curves_from_machines_of_different_speeds_share_the_reference_machine_s_minutes(tmp_path):
    """acgan's curve measured on a slow VM, dcgan's on one twice as fast: with their calibration (a step's cost on
    the reference machine) both are drawn against that machine's minutes; an old curve file gets its
    calibration at publish; a setup with one uncalibrated curve keeps the measured minutes and says so."""
    from ganbench.report.compute import figures, load_curves

    recipe = {"model": {"n_dis": 1}, "train": {"batch_size": 64}}
    store = tmp_path / "store"
    (store / "curves").mkdir(parents=True)
    acgan = _curve("acgan", [(1800, 15.0, 134.1), (9000, 57.5, 60.2)]) | {"recipe": recipe,
                                                                            "protocol": {"preset": "cpu"}}  # fmt: skip
    dcgan = _curve("dcgan", [(1900, 7.2, 163.1), (9500, 33.7, 71.5)]) | {"recipe": recipe,
                                                                           "protocol": {"preset": "cpu"}}  # fmt: skip
    dcgan["calibration"] = B.calibration("dcgan", "cpu", recipe)
    for c in (acgan, dcgan):
        (store / "curves" / f"{c['name']}-seed0.json").write_text(json.dumps(c))
    said: list[str] = []
    B.calibrate_curves(store, said.append)  # the acgan file predates calibrations
    assert said == ["acgan-seed0.json: the reference machine's calibration added (0.403 s a step)"]
    assert (
        json.loads((store / "curves" / "acgan-seed0.json").read_text())["calibration"]["real_img_per_s"]
        == 159
    )
    [fig] = figures(load_curves(store)[0])
    assert fig["xlabel"] == "minutes on the reference machine"
    # 64 real images a step at 159 (acgan) and 169 (dcgan) img/s: the budgets fill ~60 reference minutes
    assert fig["lines"]["acgan"][-1] == (9000, pytest.approx(9000 * 64 / 159 / 60), 60.2)
    assert fig["lines"]["dcgan"][-1] == (9500, pytest.approx(9500 * 64 / 169 / 60), 71.5)
    assert "2-core AMD EPYC VM, AVX2 only" in fig["caption"] and "bench_train.py" in fig["caption"]
    assert fig["accuracy"] == {} and "classifier's accuracy" not in fig["caption"]

    # a conditional arch's curve with its classifier accuracy: a second row on the same compute axis
    acgan["points"] = [
        p | {"classifier_accuracy": a} for p, a in zip(acgan["points"], (0.3, 0.6), strict=True)
    ]
    acgan["calibration"] = B.calibration("acgan", "cpu", recipe)
    (store / "curves" / "acgan-seed0.json").write_text(json.dumps(acgan))
    [fig] = figures(load_curves(store)[0])
    assert fig["accuracy"] == {"acgan": [(1800, pytest.approx(1800 * 64 / 159 / 60), 0.3),
                                         (9000, pytest.approx(9000 * 64 / 159 / 60), 0.6)]}  # fmt: skip
    assert "classifier's accuracy" in fig["caption"] and "(acgan)" in fig["caption"]
    from ganbench.report import plots

    one, two = tmp_path / "one.png", tmp_path / "two.png"
    plots.quality_vs_compute(fig["lines"], fig["xlabel"], {}, one)
    plots.quality_vs_compute(fig["lines"], fig["xlabel"], fig["accuracy"], two)
    from PIL import Image

    with Image.open(one) as a, Image.open(two) as b:
        assert b.width == a.width and b.height == 2 * a.height  # the accuracy row below the FID row

    wgan = _curve("wgan-gp", [(4200, 20.0, 90.0)])  # no recipe: no calibration to give it
    (store / "curves" / "wgan-gp-seed0.json").write_text(json.dumps(wgan))
    B.calibrate_curves(store, said.append)
    [fig] = figures(load_curves(store)[0])
    assert fig["xlabel"] == "training minutes" and fig["lines"]["acgan"][-1] == (9000, 57.5, 60.2)
    assert "Minutes depend on the machine" in fig["caption"]
    assert B.calibration("dcgan", "paper", recipe) is None  # the reference machine measured the cpu presets
    assert (
        B.calibration("wgan-gp", "cpu", {"model": {"n_dis": 5}, "train": {"batch_size": 64}})[
            "real_images_per_step"
        ]
        == 320
    )
