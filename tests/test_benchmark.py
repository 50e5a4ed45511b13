"""`ganbench benchmark`: train -> sample -> score -> publish for several archs on tiny data; the pinned
protocol; resume with what remains of a time budget (a driven clock); bad input is one line, nothing written."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganbench.cli import cli
from ganbench.inputs.imageset import CIFAR10_CLASSES


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR/{train,test}/<class>/N.png: 4 and 2 random 32x32 images per class."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("test", 2)):
        for name in CIFAR10_CLASSES:
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    root / split / name / f"{i}.png"
                )
    return root


@pytest.fixture
def small_samples(monkeypatch):
    import trainers.loop as loop

    monkeypatch.setattr(loop, "N_FIXED", 20)  # the trainers' sample folders: 20 images, not 1,000
    monkeypatch.setattr(loop, "GRID", 2)
    monkeypatch.setattr("trainers.benchmark.units.CURVE_N", 10)  # the quality curve's samples per checkpoint


def bench(*args: object):
    return CliRunner().invoke(cli, ["benchmark", *map(str, args)])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--archs", "dcgan,stylegan"], "unknown arch stylegan; valid: dcgan, cgan, acgan, biggan, biggan-aux, wgan-gp"),
        (["--minutes", "0"], "--minutes must be above 0"),
        (["--minutes", "-5"], "--minutes must be above 0"),
        (["--n", "1"], "--n must be at least 2"),
        (["--ref-n", "1"], "--ref-n must be at least 2"),
        (["--archs", "cgan,cgan"], "names an arch twice"),
        (["--seeds", "a"], "--seeds takes comma-separated whole numbers"),
        (["--seeds", "0,0"], "--seeds names a seed twice"),
        (["--seeds", ","], "--seeds names no seed"),
        (["--seeds", "-1"], "--seeds must be 0 or more"),
        (["--ref-seed", "-1"], "--ref-seed must be 0 or more"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, tiny_cifar, args, expected):
    out = tmp_path / "bench"
    result = bench("--out", out, "--data", tiny_cifar, "--preset", "smoke", *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_no_cifar10_data_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "bench"
    result = bench("--out", out, "--data", tmp_path / "nowhere", "--preset", "smoke", "--archs", "dcgan")
    assert result.exit_code == 2 and "does not exist" in result.output, result.output
    assert not out.exists()


def test_benchmark_trains_scores_publishes_and_does_not_redo_work(
    tmp_path, tiny_cifar, small_samples, monkeypatch
):
    out = tmp_path / "bench"
    common = ["--out", out, "--data", tiny_cifar, "--preset", "smoke", "--archs", "dcgan,cgan", "--n", 12,
              "--ref-n", 20, "--fid-ci", 3]  # fmt: skip
    result = bench(*common)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "[1/2] dcgan seed 0: training" in result.output and "benchmark ETA" in result.output
    assert "[2/2] cgan seed 0: sampling and scoring" in result.output

    records = {
        r["benchmark"]["name"]: r
        for r in map(json.loads, map(Path.read_text, (out / "results").glob("*.json")))
    }
    assert sorted(records) == ["cgan", "dcgan"]
    for name, rec in records.items():
        b = rec["benchmark"]
        assert b["arch"] == name and b["steps"] == b["steps_budget"] == 2 and b["train_seconds"] > 0
        assert b["img_per_s"] > 0 and b["protocol"]["n"] == 12 and b["protocol"]["preset"] == "smoke"
        assert rec["samples"]["kind"] == "checkpoint" and rec["samples"]["n"] == 12
        assert rec["reference"]["n"] == 20 and rec["reference"]["subset"]["seed"] == 0
        assert rec["metrics"]["fid"] > 0 and rec["metrics"]["fid_boot_n"] == 3
        assert rec["run"]["name"] == name
        assert b["seed"] == b["ref_seed"] == rec["run"]["training_seed"] == 0 and b["recipe"]["sha256_12"]
        grid = out / "results" / b["grid"]  # the final sample grid, beside the record that gets committed
        assert grid.is_file() and grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with (
            Image.open(grid) as im,
            Image.open(Path(rec["run"]["run_dir"]) / f"grid-{b['steps']}.png") as full,
        ):
            assert im.mode == "P" and im.size == full.size  # the run's grid in 256 colours, to commit
    assert (
        records["cgan"]["samples"]["labels"] and records["cgan"]["metrics"]["classifier_accuracy"] is not None
    )
    assert (out / "site" / "index.html").is_file()
    table = (out / "results" / "benchmark.md").read_text()  # beside the records it links to
    assert "| dcgan | " in table and "| cgan | " in table and "2 / 2" in table
    from trainers.benchmark import code_version

    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
                         capture_output=True, text=True)  # fmt: skip
    want = git.stdout.strip() if git.returncode == 0 else None  # the commit that ran, when a checkout ran it
    assert code_version() == want and all(r["benchmark"]["code"] == want for r in records.values())
    assert "FID 138.3" in table and "Machines: " in table and "the `smoke` preset's steps" in table
    # an unconditional arch's class metrics say so in the cell, without the scorer's hint about labels
    dcgan_row = next(line for line in table.splitlines() if line.startswith("| dcgan | "))
    assert dcgan_row.count("n/a (unconditional)") == 2 and "dcgan classifier_accuracy" not in table
    assert re.search(r"\bcgan classifier_accuracy", table) is None  # cgan has labels: it has an accuracy
    # the quality curve follows a conditional arch's class fidelity too, and only a conditional arch's
    curves = {n: json.loads((out / "results" / "curves" / f"{n}-seed0.json").read_text()) for n in records}
    assert all(0 <= p["classifier_accuracy"] <= 1 for p in curves["cgan"]["points"])
    assert curves["cgan"]["classifier"] == "resnet56" and curves["dcgan"]["classifier"] == "none"
    assert not any("classifier_accuracy" in p for p in curves["dcgan"]["points"])

    # the same command again: nothing is trained or scored twice
    import ganbench.scoring
    import trainers.loop

    def must_not_run(*a, **k):
        raise AssertionError("ran again")

    monkeypatch.setattr(trainers.loop, "train", must_not_run)
    monkeypatch.setattr(ganbench.scoring, "score", must_not_run)
    monkeypatch.setattr(ganbench.scoring, "score_images", must_not_run)
    again = bench(*common)
    assert again.exit_code == 0, f"{again.output}\n{again.exception!r}"
    assert "dcgan seed 0: trained already" in again.output and "cgan seed 0: scored already" in again.output
    assert len(list((out / "results").glob("*.json"))) == 2

    # another protocol in the same folder is refused, naming what differs
    other = bench(*common[:-4], "--ref-n", 30, "--fid-ci", 3)
    assert other.exit_code == 2 and "ref_n 20 -> 30" in other.output, other.output


def _die_at_step_3(monkeypatch):
    """dcgan's step raises KeyboardInterrupt (a killed run) at step 3; returns the real step, to restore."""
    import trainers.dcgan as dcgan

    real_step = dcgan.step

    def dies_at_step_3(nets, cfg, batches, it):
        if it == 3:
            raise KeyboardInterrupt
        return real_step(nets, cfg, batches, it)

    monkeypatch.setattr(dcgan, "step", dies_at_step_3)
    return real_step


def test_a_time_budget_survives_an_interruption(tmp_path, tiny_cifar, small_samples, monkeypatch):
    """--minutes 1 on a clock that advances 10 s a reading: killed after step 3, the second run resumes at
    the step-2 checkpoint with the minutes that checkpoint had left and stops when they are spent."""
    import trainers.dcgan as dcgan
    import trainers.loop as loop
    from trainers import benchmark as B
    from trainers import checkpoint

    monkeypatch.setitem(
        dcgan.PRESETS, "smoke", dict(dcgan.PRESETS["smoke"], steps=100, ckpt_every=2, sample_every=1000)
    )
    now = [0.0]

    def clock() -> float:
        now[0] += 10.0
        return now[0]

    monkeypatch.setattr(loop, "_clock", clock)
    real_step = _die_at_step_3(monkeypatch)
    protocol = B.Protocol(preset="smoke", minutes=1.0, n=10, ref_n=10, fid_ci=0, classifier="none")
    req = B.Request(("dcgan",), protocol, tmp_path / "bench", "cpu", str(tiny_cifar))
    with pytest.raises(KeyboardInterrupt):
        B.run(req, echo=lambda line: None)
    run_dir = next((tmp_path / "bench" / "dcgan" / "seed0" / "train").iterdir())
    first = checkpoint.load(checkpoint.latest(run_dir))
    assert first["step"] == 2 and 0 < first["train_seconds"] < 60
    assert B.read_state(req.out, "dcgan") == {}  # not trained: the next run continues it

    monkeypatch.setattr(dcgan, "step", real_step)
    lines: list[str] = []
    B.run(req, echo=lines.append)
    assert any("resuming" in line and "at step 2" in line for line in lines), lines
    state = B.read_state(req.out, "dcgan")
    final = checkpoint.load(state["checkpoint"])
    assert state["status"] == "scored" and 2 < state["steps"] < 100
    assert 60 <= final["train_seconds"] <= 60 + 30  # the whole budget, across both runs, to a step or two
    assert state["train_seconds"] == round(final["train_seconds"], 1)


def test_an_edited_preset_is_not_resumed_on_the_old_recipe(tmp_path, tiny_cifar, monkeypatch):
    """An arch interrupted under one recipe and continued after its preset changed would be reported under the
    new recipe: the rerun refuses, naming what changed, and leaves the run folder as it was."""
    import trainers.dcgan as dcgan
    from ganbench.errors import UserError
    from trainers import benchmark as B

    monkeypatch.setitem(dcgan.PRESETS, "smoke", dict(dcgan.PRESETS["smoke"], steps=4, ckpt_every=2))
    real_step = _die_at_step_3(monkeypatch)
    protocol = B.Protocol(preset="smoke", minutes=None, n=10, ref_n=10, fid_ci=0, classifier="none")
    req = B.Request(("dcgan",), protocol, tmp_path / "bench", "cpu", str(tiny_cifar))
    with pytest.raises(KeyboardInterrupt):
        B.run(req, echo=lambda line: None)
    monkeypatch.setattr(dcgan, "step", real_step)
    before = sorted(p.name for p in (tmp_path / "bench").rglob("*"))
    monkeypatch.setitem(dcgan.PRESETS, "smoke", dict(dcgan.PRESETS["smoke"], d_mbstd=2))
    with pytest.raises(
        UserError, match=r"dcgan: its smoke preset changed since its run started \(d_mbstd 0 -> 2\)"
    ):
        B.run(req, echo=lambda line: None)
    assert sorted(p.name for p in (tmp_path / "bench").rglob("*")) == before


def test_seeds_are_units_that_resume_alone_against_one_reference(
    tmp_path, tiny_cifar, small_samples, monkeypatch
):
    """--seeds 0,1 killed in seed 1's training: the rerun (now --seeds 0,1,2) leaves seed 0 alone, resumes seed
    1 from its checkpoint and trains seed 2; every seed is scored against the same reference subset, and the
    table has one row over the three seeds."""
    import torch

    import trainers.dcgan as dcgan
    from trainers import benchmark as B
    from trainers import checkpoint

    monkeypatch.setitem(dcgan.PRESETS, "smoke", dict(dcgan.PRESETS["smoke"], steps=4, ckpt_every=2))
    real_step, starts = dcgan.step, []

    def dies_in_the_second_unit(nets, cfg, batches, it):
        starts.extend([it] if it == 1 else [])
        if it == 3 and len(starts) == 2:
            raise KeyboardInterrupt
        return real_step(nets, cfg, batches, it)

    monkeypatch.setattr(dcgan, "step", dies_in_the_second_unit)
    protocol = B.Protocol(preset="smoke", minutes=None, n=10, ref_n=10, fid_ci=0, classifier="none")
    req = B.Request(("dcgan",), protocol, tmp_path / "bench", "cpu", str(tiny_cifar), seeds=(0, 1))
    with pytest.raises(KeyboardInterrupt):
        B.run(req, echo=lambda line: None)
    assert B.read_state(req.out, "dcgan", 0)["status"] == "scored" and B.read_state(req.out, "dcgan", 1) == {}

    monkeypatch.setattr(dcgan, "step", real_step)
    lines: list[str] = []
    B.run(
        B.Request(("dcgan",), protocol, req.out, "cpu", str(tiny_cifar), seeds=(0, 1, 2)), echo=lines.append
    )
    assert any(line.startswith("[1/3] dcgan seed 0: scored already") for line in lines), lines
    assert any("dcgan seed 1: resuming" in line and "at step 2" in line for line in lines), lines
    assert any("dcgan seed 2: training from step 0" in line for line in lines), lines

    states = [B.read_state(req.out, "dcgan", s) for s in (0, 1, 2)]
    recs = [json.loads(Path(st["record"]).read_text()) for st in states]
    assert [r["benchmark"]["seed"] for r in recs] == [0, 1, 2] and {
        r["benchmark"]["ref_seed"] for r in recs
    } == {0}
    assert len({r["reference"]["content_sha256"] for r in recs}) == 1  # one reference subset for every seed
    assert len({r["benchmark"]["recipe"]["sha256_12"] for r in recs}) == 1
    g = [checkpoint.load(st["checkpoint"])["G"] for st in states]
    assert not all(torch.equal(g[0][k], g[1][k]) for k in g[0])  # the training seed reached the trainer
    curve = json.loads(Path(states[0]["curve"]).read_text())  # seed 0 only: FID at its checkpoints 2 and 4
    assert [p["step"] for p in curve["points"]] == [2, 4] and curve["n"] == 10 and curve["seed"] == 0
    assert all(p["fid"] > 0 and p["train_minutes"] > 0 for p in curve["points"]) and "curve" not in states[1]
    assert (req.out / "results" / "curves" / "quality-vs-compute.png").is_file()
    table = (req.out / "results" / "benchmark.md").read_text()
    assert "![quality against compute](curves/quality-vs-compute.png)" in table
    assert re.search(r"^\| dcgan \| 3 \| [0-9.]+ ± [0-9.]+ \| ", table, re.M), table
    assert "- dcgan: seed 0: " in table and "; seed 2: " in table

    # the reference seed is part of the pinned protocol; the training seeds are not
    other = B.Request(("dcgan",), B.Protocol(**{**protocol.__dict__, "ref_seed": 5}), req.out, "cpu",
                      str(tiny_cifar))  # fmt: skip
    from ganbench.errors import UserError

    with pytest.raises(UserError, match="ref_seed 0 -> 5"):
        B.run(other, echo=lambda line: None)


def test_curve_checkpoints_are_the_nearest_to_evenly_spaced_steps(tmp_path):
    from trainers.benchmark.units import curve_checkpoints

    for step in range(2000, 14001, 2000):
        (tmp_path / f"ckpt-{step}.pt").touch()
    # targets 2,800 5,600 8,400 11,200 14,000; ties would go to the earlier step
    assert [p.name for p in curve_checkpoints(tmp_path, 14000)] == [
        "ckpt-2000.pt", "ckpt-6000.pt", "ckpt-8000.pt", "ckpt-12000.pt", "ckpt-14000.pt"]  # fmt: skip
    assert [p.name for p in curve_checkpoints(tmp_path, 4000, points=5)] == [
        "ckpt-2000.pt", "ckpt-4000.pt", "ckpt-6000.pt", "ckpt-8000.pt", "ckpt-10000.pt"]  # fmt: skip


def test_readme_budget_table_is_the_cpu_presets_and_the_reference_rates() -> None:
    """README's budget table (arch | real img/s | D updates per step | steps | real images) says what the cpu
    presets train and what the compute figure's calibration uses: a preset retuned without it fails here."""
    from trainers import settings
    from trainers.benchmark.protocol import REFERENCE_MACHINE
    from trainers.registry import BENCHMARK_ARCHS, arch_module

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in BENCHMARK_ARCHS and cells[2].isdigit():
            rows[cells[0]] = cells
    assert sorted(rows) == sorted(BENCHMARK_ARCHS)
    for name, (trainer, model) in BENCHMARK_ARCHS.items():
        cfg, s = settings.fresh(arch_module(trainer), "cpu", dict(model), {})
        n_dis = int(getattr(cfg, "n_dis", 1))
        ips, updates, steps, images = rows[name][1:]
        assert int(re.search(r"\d+", ips).group()) == REFERENCE_MACHINE["real_img_per_s"][name], name
        assert (int(updates), int(steps.split()[0].replace(",", ""))) == (n_dis, s.steps), name
        assert images.startswith(f"{s.steps * n_dis * s.batch_size / 1e6:.2f}M"), name
        assert s.ckpt_every * 5 == s.steps, f"{name}: the quality curve wants five evenly spaced checkpoints"
