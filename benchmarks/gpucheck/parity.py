"""Stage 3: the same images scored with torch on the device and with onnxruntime on the CPU, each side in its
own process with a fresh feature cache: the largest feature differences, the metric differences and the
classifier's top-1 agreement, against the README's 1e-4 (relative to the largest feature)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from gpucheck.jobs import Job, Record, run_jobs, write_json
from gpucheck.plan import Ctx, part_cmd

TOL = 1e-4  # README: "Backends and batch sizes agree to 1e-4 relative"
MIN_AGREEMENT = 0.999  # classifier top-1: a near-tie may flip on 1e-6 noise; more than 1 in 1,000 is not that
SIDES = ("torch", "onnxruntime")
METRIC_GATE = ("fid", "kid_mean")  # continuous metrics held to TOL; neighbour counts may move by 1/n


def generator_images(ctx: Ctx, dest: Path) -> dict[str, Any]:
    """Images of a generator trained in stage 1 (a conditional one when there is one), drawn on the CPU once,
    so both sides score the same pixels. -> what was drawn (or why nothing was)."""
    from trainers import checkpoint
    from trainers.sample import generate

    root = ctx.work_dir / "train"
    for name in ("cgan", "acgan", "biggan", "biggan-aux", "dcgan", "wgan-gp"):
        runs = sorted((root / name).glob("[0-9]*-*")) if (root / name).is_dir() else []
        for run in reversed(runs):
            kept = run / "before-resume.pt"
            ckpt = kept if kept.is_file() else checkpoint.latest(run)
            if ckpt is None:
                continue
            x, y = generate(ckpt, ctx.plan.gen_n, device="cpu")
            np.savez(dest, x=x, **({} if y is None else {"y": y}))
            return {"checkpoint": str(ckpt), "arch": name, "n": len(x), "labels": y is not None}
    return {"skipped": "no checkpoint from stage 1"}


def part_parity_side(ctx: Ctx, backend: str, prefix: Path) -> None:
    """One side: features and the record of cifar10-test vs cifar10-train (and the generator's images)."""
    from ganbench import scoring
    from ganbench.inputs import arrays
    from ganbench.inputs.sources import load_source

    p = ctx.plan
    device = ctx.device if backend == "torch" else "cpu"
    cfg = scoring.ScoreConfig(samples="cifar10-test", ref="cifar10-train", n=p.parity_n, ref_n=p.parity_ref_n,
                              data_dir=ctx.data, backend=backend, calibration_n=0,
                              classifier="resnet56" if ctx.classifier else "none")  # fmt: skip
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    run = scoring.setup(cfg, device=device)
    run.extractor.runner()  # the network now (and the ONNX export), timed apart from the passes
    seconds["networks"] = time.perf_counter() - t
    t = time.perf_counter()
    ref = run.load_reference()
    seconds["reference"] = time.perf_counter() - t
    samples = load_source("cifar10-test", data_dir=ctx.data, n=p.parity_n, seed=0)
    t = time.perf_counter()
    record = scoring.score_images(run, samples)  # caches the samples' features (a fresh cache per side)
    seconds["score"] = time.perf_counter() - t
    feats = {"samples_pool3": scoring.features_for(samples, run.extractor, "samples")[0]["pool3"],
             "ref_pool3": ref.features}  # fmt: skip
    if run.classifier is not None:
        feats["samples_probs"] = scoring.features_for(samples, run.classifier, "classifier")[0]["probs"]
    out: dict[str, Any] = {"backend": backend, "device": device, "metrics": record["metrics"],
                           "extractor": record["extractor"], "stage_seconds": record["stage_seconds"]}  # fmt: skip
    gen_file = ctx.work_dir / "parity" / "generator.npz"
    if gen_file.is_file():
        g = np.load(gen_file)
        images = arrays.from_array(g["x"], labels=g["y"] if "y" in g else None, source="stage-1 generator")
        gen_record = scoring.score_images(run, images, cache_samples=True)
        feats["gen_pool3"] = scoring.features_for(images, run.extractor, "generator")[0]["pool3"]
        if run.classifier is not None:
            feats["gen_probs"] = scoring.features_for(images, run.classifier, "classifier")[0]["probs"]
        out["gen_metrics"] = gen_record["metrics"]
    out["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    out["samples_img_per_s"] = round(
        p.parity_n / max(record["stage_seconds"].get("sample_features", 0), 1e-9), 1
    )
    out["flags"] = _flags()
    np.savez(f"{prefix}.npz", **feats)
    write_json(Path(f"{prefix}.json"), out)


def _flags() -> dict[str, Any]:
    """TF32 and cuDNN settings at the end of scoring (they decide whether CUDA features can match)."""
    import torch

    return {"matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "cudnn_benchmark": torch.backends.cudnn.benchmark}  # fmt: skip


def diff(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Largest absolute difference, and that over the largest |b| (the README's relative measure)."""
    worst = float(np.abs(a.astype(np.float64) - b).max()) if a.size else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    return {"max_abs": worst, "max_rel": worst / scale if scale else worst}


def metric_diffs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if isinstance(x, int | float) and isinstance(y, int | float):
            d = abs(x - y)
            out[k] = {"torch": x, "onnxruntime": y, "abs_diff": d, "rel_diff": d / max(abs(x), abs(y), 1e-12)}
    return out


def stage_parity(ctx: Ctx, rec: Record, until: float) -> None:
    root = ctx.work_dir / "parity"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        rec.set("generator", generator_images(ctx, root / "generator.npz"))
    except Exception as e:  # the images from the folder are still compared
        rec.set("generator", {"skipped": f"{type(e).__name__}: {e}"})
    shared_onnx = Path(ctx.env.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench") / "onnx"
    shared_onnx.mkdir(parents=True, exist_ok=True)
    jobs = []
    for side in SIDES:
        cache = root / f"cache-{side}"  # fresh: no feature of the other side (or an earlier run) is served
        cache.mkdir()
        # the ONNX export is shared: it is the network, not a feature
        (cache / "onnx").symlink_to(shared_onnx.resolve(), target_is_directory=True)
        env = ctx.child_env(GANBENCH_CACHE=str(cache))
        jobs.append(
            Job(
                f"parity {side}",
                part_cmd(ctx, "parity-side", side, str(root / side)),
                until - time.time(),
                env,
            )
        )
    done = run_jobs(jobs, ctx.jobs, until - 5)
    sides = {}
    for side in SIDES:
        d = done[f"parity {side}"]
        rec.check(f"{side} side ran", d.ok, d.error())
        if d.ok:
            sides[side] = (json.loads((root / f"{side}.json").read_text()), np.load(root / f"{side}.npz"))
    if len(sides) < 2:
        return
    compare(rec, ctx, sides)


def compare(rec: Record, ctx: Ctx, sides: dict[str, tuple[dict, Any]]) -> None:
    (jt, ft), (jo, fo) = sides["torch"], sides["onnxruntime"]
    rec.set("torch_device", jt["device"])
    rec.set(
        "n", {"samples": ctx.plan.parity_n, "reference": ctx.plan.parity_ref_n, "generator": ctx.plan.gen_n}
    )
    rec.set("img_per_s", {"torch": jt["samples_img_per_s"], "onnxruntime": jo["samples_img_per_s"]})
    rec.set("side_seconds", {"torch": jt["seconds"], "onnxruntime": jo["seconds"]})
    rec.set("flags_after_scoring", jt["flags"])
    features = {k: diff(ft[k], fo[k]) for k in ft.files if k in fo.files and not k.endswith("_probs")}
    rec.set("features", features)
    worst = max(features.values(), key=lambda d: d["max_rel"])
    rec.check(
        "features within 1e-4", worst["max_rel"] <= TOL, f"largest relative difference {worst['max_rel']:.2e}"
    )
    for label, key in (("samples", "metrics"), ("generator", "gen_metrics")):
        if key not in jt or key not in jo:
            continue
        m = rec.set(f"metrics_{label}", metric_diffs(jt[key], jo[key]))
        for name in METRIC_GATE:
            if name in m:
                rel = m[name]["rel_diff"]
                rec.check(f"{label} {name} within 1e-4", rel <= TOL, f"relative difference {rel:.2e}")
    agreement = {}
    for part in ("samples", "gen"):
        k = f"{part}_probs"
        if k in ft.files and k in fo.files:
            agreement[part] = float(np.mean(ft[k].argmax(1) == fo[k].argmax(1)))
            agreement[f"{part}_max_prob_diff"] = float(np.abs(ft[k] - fo[k]).max())
    rec.set("classifier_top1_agreement", agreement)
    if agreement:
        low = min(v for k, v in agreement.items() if "diff" not in k)
        rec.check("classifier top-1 agreement", low >= MIN_AGREEMENT, f"{low:.4f}")
    else:
        rec.check("classifier top-1 agreement", None, "no classifier weights")
