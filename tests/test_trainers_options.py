"""`ganbench train` options beyond the loop itself: --score-every, --tensorboard, --threads, --keep-ckpts, and
`ganbench score` given a trainer checkpoint. Scoring is faked except in one small end-to-end test."""

from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganbench.errors import UserError
from ganbench.threads import cpu_threads
from trainers import checkpoint
from trainers.cli import train_command
from trainers.data import CIFAR10_CLASSES
from trainers.runlog import CsvLog

from .test_trainers import _one_thread, invoke, newest, user_error  # noqa: F401 (_one_thread: autouse fixture)


@pytest.fixture(scope="module")
def fake_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR/train/<class>/N.png: 4 random 32x32 images per class (training data and a tiny reference)."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        (root / "train" / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "train" / name / f"{i}.png")
    return root


def run_train(*args: object) -> Path:
    result = invoke(train_command, list(args))
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return newest(Path(str(args[args.index("--out") + 1])))


def read_log(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


# --- --score-every, with the scoring core faked ----------------------------------------------------------


@pytest.fixture
def fake_scoring(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace Inception, the classifier and score() with stand-ins; returns the ScoreConfigs score() got.

    The fake score() draws from the global RNGs on purpose: the hook must not let that shift training.
    """
    import ganbench.classaware
    import ganbench.extractors.inception
    import ganbench.scoring
    import ganbench.weights

    calls: list = []

    def fake_score(cfg, extractor=None, classifier=None):
        calls.append((cfg, classifier))
        torch.rand(3), np.random.rand(3)
        step = int(Path(cfg.samples).name)
        return {
            "samples": {"source": cfg.samples, "content_sha256": "ab" * 32, "n": 1000},
            "metrics": {"fid": 100.0 + step},
        }

    monkeypatch.setattr(ganbench.weights, "resolve", lambda *a, **k: "weights")
    monkeypatch.setattr(ganbench.extractors.inception, "InceptionExtractor", lambda *a, **k: "inception")
    monkeypatch.setattr(ganbench.classaware, "make_classifier", lambda *a, **k: "classifier")
    monkeypatch.setattr(ganbench.scoring, "score", fake_score)
    return calls


def test_score_every_fills_the_fid_column_and_stores_records(
    fake_cifar: Path, tmp_path: Path, fake_scoring: list
) -> None:
    results = tmp_path / "results"
    base = ["dcgan", "--preset", "smoke", "--data", fake_cifar, "--steps", 4, "--sample-every", 2]
    run = run_train(
        *base, "--out", tmp_path / "a", "--log-every", 3, "--score-every", 2, "--results", results
    )

    rows = read_log(run)  # step 2 is no log step, but a scored step gets a row for its FID
    assert [(r["step"], r["fid"]) for r in rows] == [("2", "102.0"), ("3", ""), ("4", "104.0")]
    assert list(rows[0])[-1] == "fid" and rows[1]["loss_D"]  # in the header from the start
    import pandas as pd

    frame = pd.read_csv(run / "log.csv")  # what the report's learning-curve plot reads
    assert frame["fid"].isna().tolist() == [False, True, False]

    (cfg, classifier), _ = fake_scoring
    assert cfg.samples == str(run / "samples" / "2") and cfg.ref == "cifar10-train" and cfg.ref_n == 1000
    assert cfg.data_dir == str(fake_cifar) and cfg.classifier == "resnet56" and classifier == "classifier"
    run_id = json.loads((run / "config.json").read_text())["run_id"]
    records = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    assert sorted(r["run"]["step"] for r in records) == [2, 4]
    assert records[0]["run"] | {"step": 0} == {
        "name": run.name,
        "run_dir": str(run.resolve()),
        "arch": "dcgan",
        "step": 0,
        "run_id": run_id,
    }

    # the fake scorer drew random numbers, yet training went on exactly as without --score-every
    plain = run_train(*base, "--out", tmp_path / "b", "--log-every", 3)
    a, b = (torch.load(r / "ckpt-4.pt", weights_only=True) for r in (run, plain))
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert "fid" not in read_log(plain)[0]


def test_checkpoints_keep_the_steps_own_seconds_apart_from_scoring(
    fake_cifar: Path, tmp_path: Path, fake_scoring: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/screen.py's minutes column compares options by step_seconds: --score-every's scoring (here
    a fake that takes 0.5 s) is in the wall clock, train_seconds, and not in it; a resume adds to both."""
    import ganbench.scoring

    fake = ganbench.scoring.score

    def slow_score(cfg, extractor=None, classifier=None):
        import time

        time.sleep(0.5)
        return fake(cfg, extractor, classifier)

    monkeypatch.setattr(ganbench.scoring, "score", slow_score)
    base = ["dcgan", "--preset", "smoke", "--data", fake_cifar, "--sample-every", 1, "--ckpt-every", 1]
    run = run_train(
        *base, "--steps", 2, "--out", tmp_path / "runs", "--score-every", 1, "--results", tmp_path / "r"
    )
    first, second = (checkpoint.load(run / f"ckpt-{i}.pt") for i in (1, 2))
    assert 0 < first["step_seconds"] < second["step_seconds"]
    # step 1's scoring ran after its checkpoint, so only one 0.5 s is inside step 2's wall clock
    assert second["train_seconds"] - second["step_seconds"] >= 0.5
    result = invoke(train_command, ["dcgan", "--resume", run, "--steps", 3, "--score-every", 0])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    third = checkpoint.load(run / "ckpt-3.pt")
    assert third["step_seconds"] > second["step_seconds"] and third["train_seconds"] > second["train_seconds"]
    assert third["train_seconds"] - third["step_seconds"] >= second["train_seconds"] - second["step_seconds"]


def test_score_every_on_resume_adds_the_column(fake_cifar: Path, tmp_path: Path, fake_scoring: list) -> None:
    base = ["cgan", "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path, "--steps", 2]
    run = run_train(*base, "--sample-every", 1)
    result = invoke(train_command, ["cgan", "--resume", run, "--steps", 4, "--score-every", 2,
                                    "--no-score-classifier", "--results", tmp_path / "r"])  # fmt: skip
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    rows = read_log(run)
    assert [(r["step"], r["fid"]) for r in rows] == [("1", ""), ("2", ""), ("3", ""), ("4", "104.0")]
    assert [c.classifier for c, _ in fake_scoring] == ["none"]


def test_score_every_0_turns_it_off_on_resume(fake_cifar: Path, tmp_path: Path, fake_scoring: list) -> None:
    base = ["cgan", "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path / "runs", "--steps", 2]
    run = run_train(*base, "--sample-every", 1, "--score-every", 1, "--no-score-classifier",
                    "--results", tmp_path / "r")  # fmt: skip
    assert len(fake_scoring) == 2
    result = invoke(train_command, ["cgan", "--resume", run, "--steps", 4, "--score-every", 0])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert len(fake_scoring) == 2  # steps 3 and 4 were sampled but not scored
    assert [(r["step"], r["fid"]) for r in read_log(run)] == [
        ("1", "101.0"),
        ("2", "102.0"),
        ("3", ""),
        ("4", ""),
    ]
    assert json.loads((run / "config.json").read_text())["train_args"]["score_every"] is None  # and stays off


def test_score_every_without_inception_weights_trains_on(
    fake_cifar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ganbench.weights

    def offline(*args, **kwargs):
        raise UserError("no FID Inception weights in the cache and GANBENCH_OFFLINE is set")

    monkeypatch.setattr(ganbench.weights, "resolve", offline)
    args = [
        "dcgan",
        "--preset",
        "smoke",
        "--data",
        fake_cifar,
        "--out",
        tmp_path / "runs",
        "--score-every",
        2,
    ]
    result = CliRunner().invoke(train_command, [str(a) for a in [*args, "--results", tmp_path / "res"]])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "warning: --score-every: no FID Inception weights" in result.stderr
    run = newest(tmp_path / "runs")
    assert [r["fid"] for r in read_log(run)] == ["", ""] and (run / "ckpt-2.pt").is_file()
    assert not (tmp_path / "res").exists()


def test_csv_log_set_last_keeps_a_valid_file(tmp_path: Path) -> None:
    log = CsvLog(tmp_path / "log.csv", extra_fields=("fid",))
    log.append({"step": 1, "loss": 0.5})
    log.append({"step": 2, "loss": 0.25})
    log.set_last("fid", 7.5)
    assert (tmp_path / "log.csv").read_bytes() == b"step,loss,fid\r\n1,0.5,\r\n2,0.25,7.5\r\n"
    again = CsvLog(tmp_path / "log.csv", keep_until=1, extra_fields=("fid",))
    assert again.rows == [{"step": 1.0, "loss": 0.5}]
    assert (tmp_path / "log.csv").read_bytes() == b"step,loss,fid\r\n1,0.5,\r\n"


# --- --tensorboard ---------------------------------------------------------------------------------------


def test_tensorboard_missing_is_a_one_line_error(
    fake_cifar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were not installed
    args = ["dcgan", "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path, "--tensorboard"]
    message = user_error(invoke(train_command, args))
    assert "pip install tensorboard" in message
    assert not list(tmp_path.iterdir())  # nothing started


def test_tensorboard_gets_the_log_scalars(
    fake_cifar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers: list = []

    class Writer:  # torch's SummaryWriter interface, recording instead of writing event files
        def __init__(self, log_dir: str, purge_step: int | None = None) -> None:
            self.log_dir, self.purge_step, self.scalars, self.closed = log_dir, purge_step, [], False
            writers.append(self)

        def add_scalar(self, tag: str, value: float, step: int) -> None:
            self.scalars.append((tag, step, value))

        def close(self) -> None:
            self.closed = True

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=Writer))
    run = run_train("cgan", "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path, "--tensorboard")
    result = invoke(train_command, ["cgan", "--resume", run, "--steps", 3])  # --tensorboard kept from the run
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"

    first, resumed = writers
    assert first.log_dir == str(run / "tb") and first.closed and resumed.purge_step == 3
    rows = read_log(run)
    for writer, wanted in ((first, rows[:2]), (resumed, rows[2:])):
        got = {(tag, step): value for tag, step, value in writer.scalars}
        assert {(k, int(r["step"])) for r in wanted for k in r if k != "step"} == set(got)
        assert all(float(r["loss_D"]) == got[("loss_D", int(r["step"]))] for r in wanted)


# --- --threads, --keep-ckpts, bad values ------------------------------------------------------------------


def test_threads_and_checkpoint_retention(
    fake_cifar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # --threads sets it in this process; restored after
    args = ["dcgan", "--preset", "smoke", "--data", fake_cifar, "--steps", 4, "--ckpt-every", 1]
    run = run_train(*args, "--out", tmp_path / "a", "--threads", 1, "--keep-ckpts", 2)
    assert threads == [1] and cpu_threads() == 1  # torch's and the --score-every network's
    assert sorted(p.name for p in run.glob("ckpt-*")) == ["ckpt-3.pt", "ckpt-4.pt"]
    run = run_train(*args, "--out", tmp_path / "b")  # default: all kept, threads left alone
    assert len(list(run.glob("ckpt-*.pt"))) == 4 and threads == [1]


def test_minutes_stops_at_the_budget_and_writes_a_last_step(
    fake_cifar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainers import loop

    ticks = iter(range(0, 10**6, 20))  # each look at the clock: 20 s later
    monkeypatch.setattr(loop, "_clock", lambda: next(ticks))
    args = ["cgan", "--preset", "smoke", "--data", fake_cifar, "--steps", 50, "--sample-every", 1000]
    run = run_train(*args, "--ckpt-every", 1000, "--minutes", 1, "--out", tmp_path)
    # the deadline is 60 s after the start: the checks after steps 1 and 2 see 20 and 40 s, step 3 sees 60 s
    assert [p.name for p in run.glob("ckpt-*.pt")] == ["ckpt-3.pt"]
    assert [p.name for p in (run / "samples").iterdir()] == ["3"]
    assert sum(1 for _ in (run / "samples" / "3").rglob("*.png")) == 1000
    assert read_log(run)[-1]["step"] == "3" and checkpoint.load(run / "ckpt-3.pt")["step"] == 3


def test_lr_decay_is_linear_and_a_resumed_run_follows_it(fake_cifar: Path, tmp_path: Path) -> None:
    args = ["dcgan", "--preset", "smoke", "--data", fake_cifar, "--steps", 4, "--log-every", 1]
    run = run_train(*args, "--lr-decay-from", 1, "--out", tmp_path / "a")
    # steps 1..4 train with the step indices 0..3: full rate, then 3/3, 2/3, 1/3 of dcgan's 2e-4
    expected = [2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3]
    rows = read_log(run)
    assert [float(r["lr_G"]) for r in rows] == pytest.approx(expected, rel=1e-4)
    assert [float(r["lr_D"]) for r in rows] == pytest.approx(expected, rel=1e-4)

    # resumed from the step-2 checkpoint of the same run: the schedule (and so the weights) go on unchanged
    resumed = tmp_path / "b" / run.name
    resumed.mkdir(parents=True)
    for name in ("config.json", "log.csv", "ckpt-2.pt"):
        (resumed / name).write_bytes((run / name).read_bytes())
    result = invoke(train_command, ["dcgan", "--resume", resumed / "ckpt-2.pt"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    a, b = checkpoint.load(run / "ckpt-4.pt"), checkpoint.load(resumed / "ckpt-4.pt")
    for net in ("G", "D"):
        assert all(torch.equal(v, b[net][k]) for k, v in a[net].items()), net
    assert [float(r["lr_G"]) for r in read_log(resumed)] == pytest.approx(expected, rel=1e-4)

    plain = read_log(run_train(*args, "--out", tmp_path / "c"))  # no decay: constant
    assert {float(r["lr_G"]) for r in plain} == {2e-4}


def test_wgan_gp_ema_is_off_as_the_paper_and_averages_g_when_set(fake_cifar: Path, tmp_path: Path) -> None:
    """The EMA generator a recipe screen can turn on: samples come from it, and it lags G after ema_start."""
    args = ["wgan-gp", "--preset", "smoke", "--data", fake_cifar, "--steps", 3]
    plain = checkpoint.load(run_train(*args, "--out", tmp_path / "a") / "ckpt-3.pt")
    assert plain["G_ema"] is None
    ema = checkpoint.load(
        run_train(*args, "--set", "ema_decay=0.5", "--set", "ema_start=1", "--out", tmp_path / "b")
        / "ckpt-3.pt"
    )
    assert ema["model_args"]["ema_decay"] == 0.5 and ema["G_ema"] is not None
    floats = [k for k, v in ema["G"].items() if v.is_floating_point() and "running" not in k]
    assert any(not torch.equal(ema["G"][k], ema["G_ema"][k]) for k in floats)


def test_prune_keeps_the_newest_and_later_ones(tmp_path: Path) -> None:
    for step in range(1, 7):
        (tmp_path / f"ckpt-{step}.pt").write_bytes(b"x")
    (tmp_path / "ckpt-x.pt").write_bytes(b"not ours")
    deleted = checkpoint.prune(tmp_path, keep=2, step=4)  # 5 and 6 are from before a resume at 4
    assert sorted(p.name for p in deleted) == ["ckpt-1.pt", "ckpt-2.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-3.pt",
        "ckpt-4.pt",
        "ckpt-5.pt",
        "ckpt-6.pt",
        "ckpt-x.pt",
    ]


def test_failed_save_with_retention_keeps_the_last_good_checkpoint(
    fake_cifar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save, calls = torch.save, []

    def failing_save(obj, f, *args, **kwargs):  # the 2nd checkpoint dies half-way through writing
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", failing_save)
    args = [
        "dcgan",
        "--preset",
        "smoke",
        "--data",
        fake_cifar,
        "--out",
        tmp_path,
        "--ckpt-every",
        1,
        "--keep-ckpts",
        1,
    ]
    assert isinstance(invoke(train_command, args).exception, OSError)
    assert [p.name for p in newest(tmp_path).glob("*.pt*")] == ["ckpt-1.pt"]


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--threads", 0, "--threads must be at least 1"),
        ("--score-every", -1, "--score-every must be 0 (off) or at least 1"),
        ("--keep-ckpts", -1, "--keep-ckpts must be 0"),
        ("--score-ref-n", 1, "--score-ref-n must be at least 2"),
        ("--minutes", 0, "--minutes must be above 0"),
        ("--lr-decay-from", 2, "--lr-decay-from must be from 0 to below --steps 2"),
        ("--lr-decay-from", -1, "--lr-decay-from must be from 0 to below --steps 2"),
    ],
)
def test_bad_option_values(fake_cifar: Path, tmp_path: Path, option: str, value: int, expected: str) -> None:
    args = ["dcgan", "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path, option, value]
    assert expected in user_error(invoke(train_command, args))
    assert not list(tmp_path.iterdir())


# --- a checkpoint as an image source (`ganbench score CKPT --n N`) ---------------------------------------


def test_a_checkpoint_is_an_image_source(fake_cifar: Path, tmp_path: Path) -> None:
    from ganbench.inputs.sources import load_source

    run = run_train("cgan", "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path)
    a = load_source(str(run / "ckpt-2.pt"), n=25, seed=1)
    assert a.kind == "checkpoint" and a.images.shape == (25, 3, 32, 32) and a.images.dtype == np.uint8
    assert a.labels.tolist() == [i % 10 for i in range(25)]
    assert a.origin["step"] == "2" and a.origin["path"] == str((run / "ckpt-2.pt").resolve())
    assert a.origin["arch"] == "cgan" and a.origin["latent_seed"] == "1"
    assert load_source(str(run / "ckpt-2.pt"), n=25, seed=1).content_hash() == a.content_hash()
    assert load_source(str(run / "ckpt-2.pt"), n=25, seed=2).content_hash() != a.content_hash()
    assert len(load_source(str(run / "ckpt-2.pt"), image_size=16, n=4)) == 4

    junk = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, junk)
    with pytest.raises(UserError, match="not a ganbench trainer checkpoint"):
        load_source(str(junk))


# --- one real end-to-end run: Inception on 20 samples against 30 reference images -------------------------


def test_score_every_and_score_checkpoint_end_to_end(
    fake_cifar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resolved_weights
) -> None:
    import trainers.loop as loop
    from ganbench.cli import cli

    monkeypatch.setattr(loop, "N_FIXED", 20)  # 20 samples, not 1,000: the network runs ~10 images/s here
    monkeypatch.setattr(loop, "GRID", 2)
    results = tmp_path / "results"
    run = run_train("dcgan", "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path / "runs",
                    "--score-every", 2, "--score-ref-n", 30, "--no-score-classifier", "--results", results)  # fmt: skip
    fid = float(read_log(run)[-1]["fid"])
    (stored,) = results.glob("*.json")
    record = json.loads(stored.read_text())
    assert record["metrics"]["fid"] == fid and np.isfinite(fid) and fid > 0
    assert record["samples"]["n"] == 20 and record["reference"]["n"] == 30
    assert record["run"]["step"] == 2 and record["run"]["arch"] == "dcgan"

    # what `ganbench score samples/2 --ref-n 30` would score: the same pixels, reference and network setup
    from ganbench.inputs.sources import load_source

    assert record["samples"]["content_sha256"] == load_source(str(run / "samples" / "2")).content_hash()
    assert record["config"]["ref"] == "cifar10-train" and record["config"]["seed"] == 0
    assert record["extractor"]["resize"] == "legacy-tf"

    # `ganbench score CKPT --n 20`: generated, through the real network, into a record. The FID itself is
    # stubbed: each costs two 2048 x 2048 eigendecompositions (~20 s apiece on a busy 2-core machine).
    import ganbench.scoring

    monkeypatch.setattr(ganbench.scoring, "compute_metrics", lambda *a, **k: ({"fid": 1.5}, {}))
    common = ["--ref-n", "30", "--data", str(fake_cifar), "--classifier", "none", "--no-store", "--json"]
    direct = CliRunner().invoke(cli, ["score", str(run / "ckpt-2.pt"), "--n", "20", *common])
    assert direct.exit_code == 0, direct.output
    scored = json.loads(direct.stdout)
    assert scored["samples"]["kind"] == "checkpoint" and scored["samples"]["n"] == 20
    assert scored["samples"]["origin"]["step"] == "2" and scored["samples"]["origin"]["generator"] == "G"
    assert (
        not scored["cache"]["samples_hit"] and scored["cache"]["reference_hit"]
    )  # new pixels, same reference


def test_d_mismatch_shows_d_real_images_with_wrong_labels_as_fakes() -> None:
    from trainers import cgan
    from trainers.gan import make_nets

    torch.manual_seed(0)
    x, y = torch.rand(8, 3, 32, 32) * 2 - 1, torch.arange(8) % 10
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def run(d_mismatch: float) -> float:
        cfg = cgan.Config(g_ch=4, d_ch=4, d_mismatch=d_mismatch)
        nets = make_nets(cgan, cfg, torch.device("cpu"))
        forward = nets.D.forward
        nets.D.forward = lambda xs, ys: calls.append((xs, ys)) or forward(xs, ys)  # type: ignore[method-assign]
        calls.clear()
        return cgan.step(nets, cfg, lambda: (x, y), 0)["loss_D"]

    run(0.0)
    assert len(calls) == 3  # D on reals, on fakes, and on G's batch: no extra pass when off
    run(0.5)
    wrong = [ys for xs, ys in calls if xs is x and not torch.equal(ys, y)]
    assert len(calls) == 4 and len(wrong) == 1 and bool((wrong[0] != y).all())  # every label is wrong
    with pytest.raises(ValueError, match="d_mismatch must be between 0 and 1"):
        cgan.Config(d_mismatch=1.5)
