"""Scoring across processes: torchrun with 2 gloo processes on the CPU gives the single process's numbers, and
only rank 0 writes (one record, one cache entry per feature set)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    import numpy as np

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
