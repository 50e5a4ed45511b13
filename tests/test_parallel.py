"""Scoring across processes: torchrun with 2 gloo processes on the CPU gives the single process's numbers, and
only rank 0 writes (one record, one cache entry per feature set)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REL = 1e-6
GENERATOR_SCRIPT = """
import json, os, sys
import torch
import ganbench
from ganbench import parallel

parallel.init_from_env()  # what a DDP script has done before it calls ganbench
torch.manual_seed(0)
G = torch.nn.Sequential(torch.nn.Linear(8, 3 * 32 * 32), torch.nn.Tanh(), torch.nn.Unflatten(1, (3, 32, 32)))
result = ganbench.score(lambda z, y: G(z), sys.argv[1], z_dim=8, n=48, num_classes=10, value_range=(-1, 1),
                        batch_size=8, calibration_n=0)
saved = result.save(sys.argv[2])
if parallel.is_main():
    print(json.dumps(result.record))
"""


def fresh_cache(root: Path, name: str) -> dict[str, str]:
    """Environment with an empty feature cache of its own (weights and ONNX exports shared) and 1 thread."""
    cache = root / name
    cache.mkdir()
    shared = Path(os.environ["GANBENCH_CACHE"])
    for sub in ("weights", "onnx"):
        (cache / sub).symlink_to((shared / sub).resolve(), target_is_directory=True)
    env = dict(os.environ, GANBENCH_CACHE=str(cache), OMP_NUM_THREADS="1")
    env.pop("GANBENCH_RESULTS", None)
    return env


def run(args: list[str], env: dict[str, str], procs: int = 1) -> dict:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
    cmd = (launcher if procs > 1 else [sys.executable]) + args
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count('"ganbench_version"') == 1, out.stdout[-2000:]  # one rank printed
    return json.loads(out.stdout[out.stdout.index("{") :])


def close(a: dict, b: dict) -> None:
    assert a["metrics"].keys() == b["metrics"].keys()
    for key, x in a["metrics"].items():
        y = b["metrics"][key]
        assert (x is None) == (y is None), key
        if x is not None:
            assert abs(x - y) <= REL * max(abs(x), abs(y), 1e-12), (key, x, y)
    assert a["unavailable"] == b["unavailable"]


@pytest.mark.parametrize("kind", ["folder", "generator"])
def test_two_gloo_processes_give_one_process_numbers(kind: str, small_sets, tmp_path: Path) -> None:
    ref = str(small_sets["ref"])
    if kind == "folder":
        args = [
            "-m",
            "ganbench",
            "score",
            str(small_sets["samples"]),
            "--ref",
            ref,
            "--calibration-n",
            "0",
            "--json",
        ]
    else:
        script = tmp_path / "score_generator.py"
        script.write_text(GENERATOR_SCRIPT)
        args = [str(script), ref]
    stores = {n: tmp_path / f"store{n}" for n in (1, 2)}
    records = {}
    for n in (1, 2):
        extra = ["--results", str(stores[n])] if kind == "folder" else [str(stores[n])]
        records[n] = run(args + extra, fresh_cache(tmp_path, f"cache{n}"), procs=n)
    one, two = records[1], records[2]
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert not two["cache"]["samples_hit"] and not two["cache"]["reference_hit"]  # both passes were sharded
    assert one["samples"]["content_sha256"] == two["samples"]["content_sha256"]
    close(one, two)
    # rank 0 alone wrote: one record, and each feature set once in the 2-process cache
    assert len(list(stores[2].glob("*.json"))) == 1
    features = sorted(p.name for p in (tmp_path / "cache2" / "features").rglob("*.npz"))
    assert features == sorted(p.name for p in (tmp_path / "cache1" / "features").rglob("*.npz"))


def test_reference_build_under_torchrun_writes_one_entry_with_one_process_features(small_sets, tmp_path):
    ref = str(small_sets["ref"])
    feats = {}
    for n in (1, 2):
        env = fresh_cache(tmp_path, f"cache{n}")
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}"]
        cmd = (launcher if n > 1 else [sys.executable]) + ["-m", "ganbench", "reference", "build", ref]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        assert out.stdout.count("built and cached") == 1, out.stdout  # rank 0 alone printed
        entries = list((tmp_path / f"cache{n}" / "features").rglob("*.npz"))
        assert len(entries) == 1
        feats[n] = np.load(entries[0])["pool3"]
    assert feats[1].shape == feats[2].shape == (60, 2048)
    assert np.allclose(feats[1], feats[2], rtol=1e-6, atol=1e-6)


# --- a generator's shards: a rank with no batch, a DDP-wrapped generator ------------------------------------

SHARDS_SCRIPT = """
import sys
import numpy as np
import torch
from torch import nn
from ganbench import parallel
from ganbench.inputs.arrays import from_generator

out, kind, n, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
parallel.init_from_env()
torch.manual_seed(0)
G = nn.Sequential(nn.Linear(8, 3 * 32 * 32), nn.BatchNorm1d(3 * 32 * 32), nn.Tanh(), nn.Unflatten(1, (3, 32, 32)))
if kind == "ddp":  # as a DDP training script holds its G: each forward of the wrapper broadcasts BN buffers
    G = nn.parallel.DistributedDataParallel(G)
images = from_generator(G, z_dim=8, n=n, value_range=(-1, 1), batch_size=batch)
if parallel.is_main():
    np.save(out, images.images)
"""


def run_or_fail(
    cmd: list[str], env: dict[str, str], timeout: float, what: str
) -> subprocess.CompletedProcess:
    """Run cmd (torchrun or python); a hang fails the test after `timeout` s and leaves no process behind:
    torchrun's workers run in sessions of their own, so torchrun is asked to stop them (SIGTERM) first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        pytest.fail(f"{what}: still running after {timeout:g} s (a hang)")
    assert proc.returncode == 0, f"{what}: {err[-3000:]}"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_shards(script: Path, out: Path, kind: str, n: int, batch: int, procs: int) -> np.ndarray:
    """The script's images (rank 0's) under `procs` processes."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
    cmd = (launcher if procs > 1 else [sys.executable]) + [str(script), str(out), kind, str(n), str(batch)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run_or_fail(cmd, env, 120, f"{kind}, n={n}, batch {batch}, {procs} processes")
    return np.load(out)


@pytest.mark.parametrize(
    "kind,n,batch",
    [
        ("plain", 48, 64),  # one batch for two ranks: rank 1 has none
        ("ddp", 48, 64),  # the wrapper broadcasts its buffers at its first forward, which rank 1 never runs
    ],
)
def test_generator_shards_under_two_processes_give_one_process_images(kind, n, batch, tmp_path: Path) -> None:
    script = tmp_path / "shards.py"
    script.write_text(SHARDS_SCRIPT)
    one = run_shards(script, tmp_path / "one.npy", "plain", n, batch, procs=1)
    two = run_shards(script, tmp_path / "two.npy", kind, n, batch, procs=2)
    assert one.shape == (n, 3, 32, 32) and one.dtype == np.uint8
    assert np.array_equal(one, two)


LEAVE_SCRIPT = """
import atexit
import os
import time
import numpy as np
import torch.distributed as td
from ganbench import parallel

# registered first, so it runs last of the exit handlers: after ganbench's own
atexit.register(lambda: print(f"rank {os.environ['RANK']} in the group at exit: {td.is_initialized()}, "
                              f"left at {time.time():.3f}", flush=True))
parallel.init_from_env()
assert parallel.gather_rows(np.zeros((1, 2))).shape == (2, 2)
if parallel.is_main():  # rank 0's own last work (writing the record) after the last collective
    time.sleep(2)
    print(f"rank 0 done at {time.time():.3f}", flush=True)
"""


def test_a_rank_leaves_the_group_before_the_interpreter_exits(tmp_path: Path) -> None:
    """A gloo rank still in its process group at interpreter exit can abort (exit -6: "terminate called
    without an active exception") after its work is done, failing the torchrun command now and then; the
    group joined by init_from_env is left at a normal exit, by all ranks together: rank 1, with nothing left
    to do, waits for rank 0's last writes before it shuts the group down."""
    script = tmp_path / "leave.py"
    script.write_text(LEAVE_SCRIPT)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = run_or_fail(launcher + [str(script)], dict(os.environ, OMP_NUM_THREADS="1"), 120, "leave.py")
    said = done.stdout + done.stderr[-2000:]
    assert done.stdout.count("in the group at exit: False") == 2, said
    rank0_done = float(done.stdout.split("rank 0 done at ")[1].split()[0])
    rank1_left = float(done.stdout.split("rank 1 in the group at exit: False, left at ")[1].split()[0])
    assert rank1_left >= rank0_done, said


# --- which CUDA device a rank uses (no GPU needed: torch.cuda's answers are faked) --------------------------


class FakeGroup:
    def __init__(self, backend: str) -> None:
        self.backend = backend

    def get_backend(self) -> str:
        return self.backend


@pytest.mark.parametrize(
    "group,local_rank,current,count,expected",
    [
        (True, "1", 0, 2, "cuda:1"),  # the caller never called set_device: LOCAL_RANK's device, not cuda:0
        (True, "0", 0, 2, "cuda"),
        (True, "1", 1, 2, "cuda"),  # the caller chose (set_device): the current device
        (True, "1", 0, 1, "cuda"),  # one visible device per process (CUDA_VISIBLE_DEVICES): it
        (True, None, 0, 2, "cuda"),  # not under torchrun
        (False, "1", 0, 2, "cuda"),  # no process group: one process, the current device
    ],
)
def test_cuda_device_of_a_rank(monkeypatch, group, local_rank, current, count, expected) -> None:
    import torch

    from ganbench import parallel
    from ganbench.extractors import backends

    monkeypatch.setattr(
        parallel, "_dist", lambda: FakeGroup("nccl") if group and not parallel._alone else None
    )
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(backends, "cuda_available", lambda: True)
    if local_rank is None:
        monkeypatch.delenv("LOCAL_RANK", raising=False)
    else:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    assert parallel.cuda_device() == expected
    assert backends.default_device() == expected  # where the extractors run by default
    if group:  # where the collectives' tensors go under NCCL
        assert parallel._device() == torch.device(expected)
    with parallel.alone():  # one rank scoring on its own: its current device, no group
        assert parallel.cuda_device() == "cuda" and parallel.world() == (0, 1) and parallel.is_main()
