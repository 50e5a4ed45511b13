"""Data-parallel training: 2 gloo processes on the CPU, as `torchrun --nproc_per_node=2 -m ganbench train`."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tests.conftest import write_fake_cifar
from trainers import checkpoint
from trainers.data import BatchSampler
from trainers.sample import generate

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, jobs: list[list[str]], out: Path) -> None:
    """One rank: run each `ganbench train` job in one gloo group, save this rank's G after each.

    The group is made here, once: torchrun starts one training per process, and re-making a group on the
    same port within a process is not reliable. (test_torchrun_module_entry_point covers the env:// path.)
    """
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    import torch.distributed as td

    import trainers.loop as loop
    from trainers.cli import train_command

    made = []
    real_make_nets = loop.make_nets

    def recording_make_nets(*args, **kwargs):  # the bare G that DDP wraps: its weights after training
        made.append(real_make_nets(*args, **kwargs))
        return made[-1]

    loop.make_nets = recording_make_nets
    td.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        for i, args in enumerate(jobs):
            train_command.main(args, standalone_mode=False)
            torch.save(made[-1].G.state_dict(), out / f"job{i}-rank{rank}.pt")
    finally:
        td.destroy_process_group()


def test_two_gloo_processes_train_in_sync_and_resume(tmp_path: Path) -> None:
    data = write_fake_cifar(tmp_path / "cifar")
    runs, weights = tmp_path / "runs", tmp_path / "weights"
    weights.mkdir()
    base = ["--preset", "smoke", "--data", str(data), "--out", str(runs)]
    biggan = ["biggan", "--aux", "--diffaug", "--set", "ema_start=1", "--set", "ema_decay=0.5"]
    jobs = [
        [*biggan, *base, "--steps", "2"],
        [*biggan, "--resume", str(runs / "00000-biggan"), "--steps", "3"],
        ["wgan-gp", *base],  # the gradient penalty's double backward through DDP
    ]
    mp.spawn(_worker, args=(2, _free_port(), jobs, weights), nprocs=2, join=True)

    assert sorted(p.name for p in runs.iterdir()) == ["00000-biggan", "00001-wgan-gp"]  # one folder per run
    run = runs / "00000-biggan"
    for job in range(3):  # DDP averaged the gradients: both ranks hold the same G
        a, b = (torch.load(weights / f"job{job}-rank{r}.pt", weights_only=True) for r in (0, 1))
        assert a.keys() == b.keys()
        params = [k for k in a if "running" not in k and "num_batches" not in k]  # BN statistics are local
        assert all(torch.equal(a[k], b[k]) for k in params), f"job {job}: ranks diverged"
    ckpt = checkpoint.load(run)
    assert ckpt["step"] == 3 and ckpt["world_size"] == 2 and len(ckpt["rng_ranks"]) == 2
    assert not torch.equal(ckpt["rng_ranks"][0]["torch"], ckpt["rng_ranks"][1]["torch"])  # own latents
    final = torch.load(weights / "job1-rank0.pt", weights_only=True)
    assert all(torch.equal(v, ckpt["G"][k]) for k, v in final.items())  # rank 0 saved what it trained
    with open(run / "log.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3]  # one writer, resume kept rows
    assert sorted(p.name for p in run.glob("ckpt-*.pt")) == ["ckpt-2.pt", "ckpt-3.pt"]
    images, labels = generate(run, 2, per_class=True, device="cpu")
    assert images.shape == (20, 3, 32, 32) and labels is not None


@pytest.mark.skipif(
    shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="no torchrun"
)
def test_torchrun_module_entry_point(tmp_path: Path) -> None:
    """The documented command line, end to end: `torchrun --nproc_per_node=2 -m ganbench train ...`."""
    data = write_fake_cifar(tmp_path / "cifar")
    torchrun = str(Path(sys.executable).parent / "torchrun")
    cmd = [torchrun, "--nproc_per_node=2", f"--master_port={_free_port()}", "-m", "ganbench", "train", "cgan",
           "--preset", "smoke", "--data", str(data), "--out", str(tmp_path / "runs"), "--threads", "1"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("run folder") == 1  # rank 0 alone speaks
    (run,) = (tmp_path / "runs").iterdir()
    assert checkpoint.load(run)["world_size"] == 2
    assert len(list((run / "samples" / "2").rglob("*.png"))) == 1000


def test_ranks_take_distinct_slices_of_the_single_process_batch() -> None:
    images = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(20)
    single = BatchSampler(images, labels, batch_size=6, seed=3)
    ranks = [BatchSampler(images, labels, batch_size=3, seed=3, rank=r, world=2) for r in (0, 1)]
    for _ in range(7):  # crosses epochs: 3 global batches of 6 per epoch
        x, y = single()
        (x0, y0), (x1, y1) = ranks[0](), ranks[1]()
        assert torch.equal(torch.cat([x0, x1]), x) and torch.equal(torch.cat([y0, y1]), y)
        assert not set(y0.tolist()) & set(y1.tolist())
    assert ranks[1].epoch == single.epoch


SCORE_EVERY_SCRIPT = """
import trainers.loop as loop
from ganbench.cli import main

loop.N_FIXED, loop.GRID = 20, 2  # 20 samples per sample step, not 1,000: the network runs ~10 images/s here
main()
"""


def test_score_every_under_two_processes_scores_the_whole_folder(tmp_path: Path, resolved_weights) -> None:
    """The issue's command (`torchrun --nproc_per_node=2 -m ganbench train ... --score-every 2`), which hung:
    rank 0 scored inside the group's collectives while rank 1 trained on."""
    from tests.test_parallel import run_or_fail

    data = write_fake_cifar(tmp_path / "cifar")
    script = tmp_path / "ganbench_small_samples.py"
    script.write_text(SCORE_EVERY_SCRIPT)
    results, runs = tmp_path / "results", tmp_path / "runs"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           "train", "dcgan", "--preset", "smoke", "--data", str(data), "--out", str(runs), "--threads", "1",
           "--steps", "4", "--sample-every", "2", "--score-every", "2", "--score-ref-n", "30",
           "--no-score-classifier", "--results", str(results)]  # fmt: skip
    proc = run_or_fail(cmd, dict(os.environ, OMP_NUM_THREADS="1"), 300, "--score-every under torchrun")
    scored = [line for line in proc.stderr.splitlines() if line.startswith(("step 2: FID", "step 4: FID"))]
    assert len(scored) == 2, proc.stderr[-3000:]  # rank 0 alone scored and printed
    (run,) = runs.iterdir()
    with open(run / "log.csv", newline="") as f:
        fids = {int(r["step"]): r["fid"] for r in csv.DictReader(f)}
    records = sorted(
        (json.loads(p.read_text()) for p in results.glob("*.json")), key=lambda r: r["run"]["step"]
    )
    assert [r["run"]["step"] for r in records] == [2, 4]
    for r in records:
        step = r["run"]["step"]
        assert float(fids[step]) == r["metrics"]["fid"] and r["metrics"]["fid"] > 0
        # the whole folder, scored by one process (not rank 0's shard of it)
        assert r["samples"]["n"] == 20 and r["world_size"] == 1 and r["reference"]["n"] == 30
        assert r["samples"]["source"] == str(run / "samples" / str(step))


def test_force_ddp_takes_the_wrapped_path_with_one_process(tmp_path: Path, monkeypatch) -> None:
    """GANBENCH_FORCE_DDP=1 `ganbench train`: one process, yet a process group and G, D in DDP (what a GPU
    check uses to run the NCCL path on one device)."""
    import torch.distributed as td
    from click.testing import CliRunner
    from torch.nn.parallel import DistributedDataParallel

    from tests.test_trainers import user_error
    from trainers import distributed
    from trainers.cli import train_command

    seen = []
    real_wrap = distributed.wrap

    def recording_wrap(nets, d):
        seen.append((real_wrap(nets, d), d, td.get_backend() if td.is_initialized() else None))
        return seen[-1][0]

    monkeypatch.setattr(distributed, "wrap", recording_wrap)
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):  # not under torchrun
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GANBENCH_FORCE_DDP", "1")
    data, runs = write_fake_cifar(tmp_path / "cifar"), tmp_path / "runs"
    args = ["cgan", "--preset", "smoke", "--data", str(data), "--out", str(runs), "--device", "cpu"]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    ((nets, d, backend),) = seen
    assert isinstance(nets.G, DistributedDataParallel) and isinstance(nets.D, DistributedDataParallel)
    assert (d.world, d.ddp, backend) == (1, True, "gloo")
    assert "(DDP, forced by GANBENCH_FORCE_DDP)" in result.output
    assert not td.is_initialized()  # the group it made is gone
    (run,) = runs.iterdir()
    assert checkpoint.load(run)["world_size"] == 1
    assert all(k in dict(nets.G.module.state_dict()) for k in checkpoint.load(run)["G"])  # saved unwrapped

    monkeypatch.setenv("GANBENCH_FORCE_DDP", "maybe")
    assert "GANBENCH_FORCE_DDP='maybe'" in user_error(CliRunner().invoke(train_command, args))
