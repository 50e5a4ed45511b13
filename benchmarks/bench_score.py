"""ganbench vs the tools a user would pick instead, on the same image folder against a cached reference.

    .venv/bin/python benchmarks/bench_score.py [--n 2000] [--ref-n 1000] [--tools ganbench,torch-fidelity,...]
    .venv/bin/python benchmarks/bench_score.py --memory-only --n 10000    # peak RSS of ganbench at 10k images

Each tool runs in its own process, after an untimed warm-up that caches the reference features (and exports
the ONNX model); wall time and peak RSS are that process's. Prints a table. Not a test: machines are noisy, so
compare the ratios within one run.

- ganbench:        `ganbench score SAMPLES --ref REF` (FID, KID, precision/recall, density/coverage; IS when
                   the weights carry the head), fresh feature cache for the samples.
- torch-fidelity:  calculate_metrics(fid, kid, prc) with its inception-v3-compat extractor on the same network
                   weights (converted to its layout; its canonical file is not downloadable here), input2 cached.
- clean-fid:       FID in `clean` mode: its folder reader, resize and FID code with the same network
                   (custom_feat_extractor, since its own TorchScript is not downloadable here), reference cached.
- bare forward:    the images already in memory, legacy-tf resize + onnxruntime forward, nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOADS: list[float] = []  # 1-minute load average around each child: other work on the machine skews timings

TORCH_FIDELITY = """
import json, sys, time, torch_fidelity
t = time.time()
m = torch_fidelity.calculate_metrics(input1=sys.argv[1], input2=sys.argv[2], cuda=False, fid=True, kid=True,
    prc=True, feature_extractor="inception-v3-compat", feature_extractor_weights_path=sys.argv[3],
    samples_find_deep=True, cache=True, cache_root=sys.argv[4], input2_cache_name="bench-ref",
    kid_subset_size=min(1000, int(sys.argv[5])), verbose=False)
print(json.dumps({"fid": m["frechet_inception_distance"], "seconds": time.time() - t}))
"""

CLEAN_FID = """
import json, sys, time, numpy as np, torch
from cleanfid import fid
from ganbench import weights as W
from ganbench.extractors.inception_net import FIDInceptionV3
net = FIDInceptionV3(with_logits=False)
net.load_state_dict(W.load_state_dict(W.resolve()))
net.eval()
def model(x):
    with torch.inference_mode():
        return net(x.float())[0]
t = time.time()
def stats(folder):
    feats = fid.get_folder_features(folder, model, num_workers=2, batch_size=64, device=torch.device("cpu"),
                                    mode="clean", verbose=False)
    return np.mean(feats, axis=0), np.cov(feats, rowvar=False)
ref_cache = sys.argv[3]
if sys.argv[4] == "warm":
    mu, sigma = stats(sys.argv[2]); np.savez(ref_cache, mu=mu, sigma=sigma); sys.exit(0)
r = np.load(ref_cache)
mu, sigma = stats(sys.argv[1])
print(json.dumps({"fid": float(fid.frechet_distance(mu, sigma, r["mu"], r["sigma"])), "seconds": time.time() - t}))
"""

BARE = """
import json, sys, time, numpy as np, torch
from ganbench import weights as W
from ganbench.extractors.inception import InceptionExtractor
from ganbench.extractors.resize import resize
images = np.load(sys.argv[1])["x"]
ext = InceptionExtractor(W.resolve(), backend="onnxruntime")
run = ext.runner()
t = time.time()
for i in range(0, len(images), 64):
    run(resize(torch.from_numpy(images[i:i + 64]), "legacy-tf"))
print(json.dumps({"seconds": time.time() - t}))
"""


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    # wait4 must reap the child itself to get its own rusage, so don't let communicate() reap it
    LOADS.append(os.getloadavg()[0])
    t = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.time() - t
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{err.read()[-3000:]}")
        LOADS.append(os.getloadavg()[0])
        return wall, usage.ru_maxrss / 1024, out.read()


def prepare(work: Path, n: int, ref_n: int) -> dict[str, Path]:
    """The samples (CIFAR-10 test) and reference (train) as PNG class folders + the samples as .npz."""
    import numpy as np

    sys.path.insert(0, str(REPO / "tests"))
    from conftest import write_class_folders

    from ganbench.inputs.datasets import load_cifar10

    paths = {"samples": work / "samples", "ref": work / "ref", "npz": work / "samples.npz"}
    if not paths["npz"].exists():
        test = load_cifar10("test", n=n, seed=1)
        write_class_folders(paths["samples"], test.images, test.labels)
        train = load_cifar10("train", n=ref_n, seed=2)
        write_class_folders(paths["ref"], train.images, train.labels)
        np.savez(paths["npz"], x=test.images)
    return paths


def fidelity_weights(work: Path) -> Path:
    """The resolved network in torch-fidelity's layout (a zero head: IS is not benchmarked)."""
    import torch

    from ganbench import weights as W

    path = work / "inception-fidelity-layout.pth"
    if not path.exists():
        sd = W.load_state_dict(W.resolve())
        sd.setdefault("fc.weight", torch.zeros(1008, 2048))
        sd.setdefault("fc.bias", torch.zeros(1008))
        torch.save(sd, path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="sample images (CIFAR-10 test, seeded)")
    ap.add_argument("--ref-n", type=int, default=1000, help="reference images (CIFAR-10 train, seeded)")
    ap.add_argument("--tools", default="ganbench,torch-fidelity,clean-fid,bare")
    ap.add_argument("--memory-only", action="store_true", help="only ganbench: wall time and peak RSS")
    ap.add_argument("--work", type=Path, default=None, help="keep prepared folders here (default: temp)")
    args = ap.parse_args()
    tools = ["ganbench"] if args.memory_only else args.tools.split(",")

    work = args.work or Path(tempfile.mkdtemp(prefix="ganbench-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    paths = prepare(work, args.n, args.ref_n)
    py = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable
    from ganbench import weights as W

    real_cache = W.cache_root()
    bench_cache = work / "cache"
    shutil.rmtree(bench_cache / "features", ignore_errors=True)
    for sub in ("weights", "onnx"):
        (real_cache / sub).mkdir(parents=True, exist_ok=True)
        if not (bench_cache / sub).exists():
            bench_cache.mkdir(parents=True, exist_ok=True)
            (bench_cache / sub).symlink_to(real_cache / sub)
    env = {
        **os.environ,
        "GANBENCH_CACHE": str(bench_cache),
        "OMP_NUM_THREADS": str(len(os.sched_getaffinity(0))),
    }
    s, r = str(paths["samples"]), str(paths["ref"])
    rows = []

    if "ganbench" in tools:
        gb = [py, "-m", "ganbench", "score", s, "--ref", r, "--no-store", "--json"]
        run_child([py, "-m", "ganbench", "score", r, "--ref", r, "--no-store"], env)  # warm: reference + ONNX
        wall, rss, out = run_child(gb, env)
        rec = json.loads(out)
        done = [k for k, v in rec["metrics"].items() if v is not None]
        rows.append(("ganbench", wall, rss, rec["metrics"]["fid"], ", ".join(done)))
    if "torch-fidelity" in tools:
        wpath, tf_cache = str(fidelity_weights(work)), str(work / "tf-cache")
        tf = [py, "-c", TORCH_FIDELITY, s, r, wpath, tf_cache, str(args.n)]
        tiny = work / "tiny"
        if not tiny.exists():
            tiny.mkdir()
            for p in sorted(paths["samples"].rglob("*.png"))[:20]:
                shutil.copy(p, tiny / p.name)
        run_child([py, "-c", TORCH_FIDELITY, str(tiny), r, wpath, tf_cache, "20"], env)  # warm: caches input2
        wall, rss, out = run_child(tf, env)
        rows.append(("torch-fidelity", wall, rss, json.loads(out)["fid"], "fid, kid, precision, recall"))
    if "clean-fid" in tools:
        ref_stats = str(work / "cleanfid-ref.npz")
        run_child([py, "-c", CLEAN_FID, s, r, ref_stats, "warm"], env)
        wall, rss, out = run_child([py, "-c", CLEAN_FID, s, r, ref_stats, "run"], env)
        rows.append(("clean-fid (clean)", wall, rss, json.loads(out)["fid"], "fid"))
    if "bare" in tools:
        wall, rss, out = run_child([py, "-c", BARE, str(paths["npz"])], env)
        rows.append(("bare onnxruntime forward", wall, rss, float("nan"), "none (forward pass only)"))

    base = rows[0][1]
    print(f"\n{args.n} samples (CIFAR-10 test, PNG) vs {args.ref_n} cached reference images; "
          f"{len(os.sched_getaffinity(0))} CPU cores; weights {W.resolve().spec.filename}")  # fmt: skip
    print(
        f"{'tool':<26} {'wall s':>8} {'img/s':>7} {'peak RSS MB':>12} {'÷ ganbench':>11} {'FID':>9}  metrics"
    )
    for name, wall, rss, fid, metrics in rows:
        print(
            f"{name:<26} {wall:8.1f} {args.n / wall:7.1f} {rss:12.0f} {wall / base:11.2f} {fid:9.3f}  {metrics}"
        )
    print(f"1-min load average around the runs: {min(LOADS):.1f}..{max(LOADS):.1f} "
          f"({len(os.sched_getaffinity(0))} cores; above that, other work competed)")  # fmt: skip
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
