"""benchmarks/gpu_check.py: the whole check on a CPU (--quick, a tiny CIFAR-10 folder, and the float16 weights
route the GPU run takes, through benchmarks/gpu_pack.py), the CUDA commands it builds (parsed by the CLI, not
run), and what a GPU run relies on: a job past its timeout dies with its whole process tree, and the float16
copy is accepted only where the check registers it."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from gpucheck import plan as P  # noqa: E402
from gpucheck.jobs import Job, run_jobs  # noqa: E402

SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10"


@pytest.fixture(scope="module")
def mini_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/<class>/ 6 and test/<class>/ 4 images: real ones from GANBENCH_DATA when there, else random."""
    from ganbench.inputs.imageset import CIFAR10_CLASSES

    root = tmp_path_factory.mktemp("mini-cifar")
    real = Path(os.environ.get("GANBENCH_DATA") or SHARED_CIFAR)
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("test", 4)):
        for name in CIFAR10_CLASSES:
            dest = root / split / name
            dest.mkdir(parents=True)
            src = real / split / name
            files = sorted(src.iterdir())[:count] if src.is_dir() else []
            for f in files:
                shutil.copy(f, dest / f.name)
            for i in range(count - len(files)):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(dest / f"{i}.png")
    return root


def test_quick_check_on_cpu_runs_every_stage_and_reports_its_figures(
    mini_cifar: Path, tmp_path: Path
) -> None:
    """What a device run does, smoke-sized: pack, then check with the packed data, float16 weights and
    classifier. Two archs (unconditional dcgan; biggan with DiffAugment and EMA) and two commands at a time keep it
    to ~2 minutes on 2 cores (some 25 processes, each importing torch)."""
    env = dict(os.environ)
    pack = tmp_path / "pack"
    packed = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_pack.py"), str(pack), "--data",
                             str(mini_cifar), "--train-n", "60", "--test-n", "40"],
                            capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert packed.returncode == 0, packed.stderr[-3000:]
    assert "run there: python benchmarks/gpu_check.py" in packed.stdout
    out = tmp_path / "out"
    cmd = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), str(out), "--device", "cpu", "--quick",
           "--data", str(pack / "cifar10"), "--inception-weights", str(pack / "inception-float16.pt"),
           "--classifier-weights", str(pack / "resnet56-4bfd9763.th"), "--archs", "dcgan,biggan",
           "--jobs", "2", "--work", str(tmp_path / "work")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    log = (out / "gpu_check.log").read_text() if (out / "gpu_check.log").is_file() else ""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:] + log[-4000:]
    report = json.loads((out / "gpu_check.json").read_text())
    stages = report["stages"]
    assert list(stages) == list(P.STAGES)
    for name, s in stages.items():
        assert s["ok"] is True and s["error"] is None and s["seconds"] > 0, (name, s.get("error"))
    assert report["device"] == "cpu" and report["gpu"] is None and report["finished"]
    w = report["weights"]["inception"]
    assert w["kind"] == "float16 copy" and len(w["sha256"]) == 64 and len(w["expanded"]["sha256"]) == 64
    assert report["weights"]["classifier"]["file"] == "resnet56-4bfd9763.th"
    assert report["data"]["train"] == 60 and report["data"]["test"] == 40

    train = stages["train"]
    for arch in ("dcgan", "biggan"):
        a = train["archs"][arch]
        assert a["losses_finite"] and a["steps"] == 2 and a["samples"] == {"2": 20}
        assert a["resume"]["bitwise"] and a["sample_cpu"]["images"] == 10
    assert "skipped with --quick" in train["skipped"]["compile biggan"]

    ddp = stages["ddp"]
    assert ddp["collectives"]["backend"] == "gloo" and all(
        c["ok"] for c in ddp["collectives"]["checks"].values()
    )
    fids = list(ddp["collectives"]["generator_fid"].values())
    assert len(fids) >= 3 and max(fids) == min(fids)
    if "ddp biggan" in ddp["skipped"]:  # a tree that cannot force DDP with one process says so
        assert "GANBENCH_FORCE_DDP" in ddp["skipped"]["ddp biggan"]
    else:
        assert ddp["archs"]["biggan"]["ddp_wrapped"]

    parity = stages["parity"]
    assert max(f["max_rel"] for f in parity["features"].values()) <= 1e-4
    assert set(parity["features"]) == {"samples_pool3", "ref_pool3", "gen_pool3"}
    fid = parity["metrics_samples"]["fid"]
    assert fid["rel_diff"] <= 1e-4 and math.isfinite(fid["torch"])
    assert parity["classifier_top1_agreement"]["samples"] >= 0.999 and parity["generator"]["arch"] == "biggan"

    speed = stages["throughput"]
    assert {a: r["real_img_per_s"] > 0 for a, r in speed["train_batch64"].items()} == {
        "dcgan": True,
        "biggan": True,
    }
    assert set(speed["inception"]["img_per_s"]) == {"4", "8"}
    assert speed["torch_fidelity"].get("torch_fidelity_img_per_s", 0) > 0 or "not installed" in str(
        speed["skipped"]
    )

    bench = stages["benchmark"]
    assert math.isfinite(bench["result"]["fid"]) and bench["result"]["steps"] == 2
    from trainers.sample import generate, load_generator

    returned = out / bench["generator"]["file"]  # the generator alone, as `ganbench score` reads it at home
    _, ckpt = load_generator(returned, device="cpu")
    assert ckpt["arch"] == "biggan" and "D" not in ckpt and ckpt["G_ema"] is not None
    assert generate(returned, 3, device="cpu")[0].shape == (3, 3, 32, 32)
    assert len(list(out.iterdir())) <= 8  # what comes back from the device
    assert all(name in proc.stdout for name in P.STAGES) and "notes" in proc.stdout


def _ctx(tmp_path: Path) -> P.Ctx:
    return P.Ctx(out=str(tmp_path / "out"), work=str(tmp_path / "work"), device="cuda", quick=False,
                 data=str(tmp_path / "cifar"), plan=P.make_plan("cuda", quick=False), archs=tuple(P.TRAIN_ARCHS),
                 jobs=6, threads=2, budget_s=480.0, deadline=0.0, python="python")  # fmt: skip


def test_cuda_commands_are_what_the_cli_takes(tmp_path: Path) -> None:
    from trainers.cli import benchmark_command, sample_command, train_command

    ctx = _ctx(tmp_path)
    ctx.save(tmp_path / "ctx.json")
    assert P.Ctx.load(tmp_path / "ctx.json") == ctx  # what the stage processes read back
    biggan = P.train_args(ctx, "biggan", tmp_path / "b")
    assert biggan[:2] == ["train", "biggan"] and "--diffaug" in biggan
    flags = {f: biggan[biggan.index(f) + 1] for f in ("--preset", "--device", "--steps", "--ckpt-every")}
    # the paper recipe on the GPU, and a checkpoint in the middle for the resume to start from
    assert flags == {"--preset": "paper", "--device": "cuda", "--steps": "200", "--ckpt-every": "100"}
    assert P.train_args(ctx, "biggan-aux", tmp_path / "a")[:3] == ["train", "biggan", "--aux"]
    assert P.train_args(ctx, "wgan-gp", tmp_path / "w", steps=40, compile_=True)[-1] == "--compile"
    bench = P.benchmark_args(ctx, tmp_path / "bench", 2.5)
    assert bench[bench.index("--device") + 1] == "cuda" and bench[bench.index("--minutes") + 1] == "2.50"
    assert bench[bench.index("--archs") + 1] == "biggan" and bench[bench.index("--preset") + 1] == "paper"
    commands = {train_command: [P.train_args(ctx, n, tmp_path / n) for n in P.TRAIN_ARCHS],
                benchmark_command: [bench],
                sample_command: [P.sample_args(tmp_path / "ckpt.pt", tmp_path / "s", 100)]}  # fmt: skip
    commands[train_command].append(P.resume_args(ctx, "cgan", tmp_path / "ckpt-100.pt"))
    for command, arg_lists in commands.items():
        for args in arg_lists:
            command.make_context(args[0], args[1:])  # every option exists and takes its value
    torchrun = P.torchrun_cmd(ctx, "--ganbench", *P.train_args(ctx, "cgan", tmp_path / "c"))
    assert torchrun[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    assert torchrun[5] == str(P.SCRIPT) and torchrun[6] == "--ganbench"
    worker = P.bench_train_cmd(ctx, "dcgan")
    assert worker[worker.index("--device") + 1] == "cuda" and worker[worker.index("--batch-size") + 1] == "64"
    assert P.make_plan("cuda", False).inception_batches == (64, 256)
    assert sum(P.SHARES.values()) < 0.8  # the benchmark always keeps a fifth of the budget or more


def test_a_job_past_its_timeout_dies_with_its_whole_process_tree(tmp_path: Path) -> None:
    """torchrun's workers run in sessions of their own: killing the job's process group would miss them."""
    pid_file = tmp_path / "pid"
    script = ("import subprocess, sys, time; "
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True); "
              f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)")  # fmt: skip
    jobs = [Job("hangs", [sys.executable, "-c", script], timeout=3),
            Job("fails", [sys.executable, "-c", "raise SystemExit('bad input, in one line')"], timeout=30),
            Job("works", [sys.executable, "-c", "print('fine')"], timeout=30)]  # fmt: skip
    with open(tmp_path / "log", "w") as log:
        done = run_jobs(jobs, parallel=3, log=log)
    assert done["hangs"].timed_out and done["hangs"].rc is None and "timed out" in done["hangs"].error()
    assert done["fails"].error() == "exit 1: bad input, in one line" and done["works"].ok
    grandchild = int(pid_file.read_text())
    time.sleep(0.5)
    stat = Path(f"/proc/{grandchild}/stat")
    assert not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z"
    assert "----- hangs: timed out" in (tmp_path / "log").read_text()


def test_float16_copy_is_accepted_only_where_registered(tmp_path: Path, monkeypatch) -> None:
    import torch
    from gpucheck import weights as F

    from ganbench import weights as W
    from ganbench.errors import UserError

    monkeypatch.setattr(W, "KNOWN", W.KNOWN)  # register() below extends it for this test only
    source = {"file": "default_1.pt", "sha256": "ab" * 32}
    blob = {"format": F.FORMAT, "source": source, "has_logits": False,
            "state_dict": {"w": torch.randn(4, 3).half(), "n": torch.tensor(7)}}  # fmt: skip
    copy = tmp_path / "inception-float16.pt"
    torch.save(blob, copy)
    torch.save({"w": torch.randn(2)}, tmp_path / "other.pt")
    assert F.read_fp16(tmp_path / "other.pt") is None and F.read_fp16(copy)["source"] == source
    path, info, spec = F.resolve_for_check(str(copy), tmp_path / "work")
    assert info["kind"] == "float16 copy" and info["made_from"] == source and spec is not None
    sd = torch.load(path, weights_only=True)
    assert sd["w"].dtype == torch.float32 and torch.equal(sd["w"], blob["state_dict"]["w"].float())
    with pytest.raises(UserError, match="matches no known FID Inception file"):
        W.identify(Path(path))
    F.register(spec)
    F.register(spec)
    assert sum(s.key == "float16-copy" for s in W.KNOWN) == 1
    resolved = W.identify(Path(path))
    assert resolved.spec.key == "float16-copy" and not resolved.spec.has_logits
    assert "float16 copy of default_1.pt" in resolved.identity()["source"]


def test_a_log_too_large_to_come_back_keeps_its_start_and_end(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_check import shorten

    log = tmp_path / "gpu_check.log"
    log.write_bytes(b"S" * 300 + b"m" * 1000 + b"E" * 300)
    shorten(log, limit=800, head=200)
    data = log.read_bytes()
    assert len(data) == 800 and data.startswith(b"S" * 200) and data.endswith(b"E" * 300)
    assert b"bytes cut by gpu_check" in data
    shorten(log, limit=800, head=200)
    assert log.read_bytes() == data  # under the limit: left alone


def _fake_run(out: Path, img_per_s: float, loss: str = "0.5") -> None:
    run = out / "00000-biggan"
    (run / "samples" / "40").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(run / "samples" / "40" / "0.png")
    (run / "log.csv").write_text(
        f"step,epoch,loss_D,loss_G,lr_G,lr_D,img_per_s\n40,0.1,{loss},0.7,1,1,{img_per_s}\n"
    )
    (run / "config.json").write_text(json.dumps({"train_args": {"sample_every": 40, "precision": "bf16"}}))


def test_compile_outcomes_are_recorded_as_data(tmp_path: Path) -> None:
    """--compile may run, be refused in one line (exit 2), crash or give NaN: each is a check, none a crash."""
    from gpucheck.jobs import Done, Record
    from gpucheck.training import _compile_result

    rec = Record(tmp_path / "train.json")
    banner = "biggan (paper preset) on cuda: steps 0 -> 40, run folder X\n"
    _fake_run(tmp_path / "ok", 300.0)
    res = _compile_result(
        Done("compile biggan", [], 0, 50.0, False, banner), tmp_path / "ok", {"img_per_s": 200.0}, rec
    )
    assert (
        res["ok"] and res["speedup_vs_eager"] == 1.5 and res["precision"] == {"train_args.precision": "bf16"}
    )
    refused = Done("compile wgan-gp", [], 2, 3.0, False, "Error: --compile cannot double-backward D\n")
    assert _compile_result(refused, tmp_path / "none", None, rec)["refused"].startswith(
        "exit 2: Error: --compile"
    )
    _fake_run(tmp_path / "nan", 300.0, loss="nan")
    assert not _compile_result(Done("compile cgan", [], 0, 9.0, False, banner), tmp_path / "nan", None, rec)[
        "ok"
    ]
    crash = Done("compile dcgan", [], 1, 9.0, False, "Traceback ...\ntorch._dynamo.exc.Unsupported: x\n")
    assert not _compile_result(crash, tmp_path / "crash", None, rec)["ok"]
    checks = json.loads((tmp_path / "train.json").read_text())["checks"]
    assert [checks[f"compile {a}"]["ok"] for a in ("biggan", "wgan-gp", "cgan", "dcgan")] == [
        True,
        True,
        False,
        False,
    ]
    assert (
        "not finite" in checks["compile cgan"]["detail"]
        and "Unsupported" in checks["compile dcgan"]["detail"]
    )


def test_checkpoints_are_read_where_ganbench_is_not_installed(monkeypatch) -> None:
    """The device runs the tree from PYTHONPATH, without the entry point that teaches ganbench `.pt`."""
    from importlib import metadata

    from gpu_check import checkpoint_loader

    from ganbench.inputs import generators

    monkeypatch.setattr(generators, "_registered", {})
    monkeypatch.setattr(metadata, "entry_points", lambda group=None: [])
    assert generators.path_loader("G.pt") is None
    assert checkpoint_loader()
    assert generators.path_loader("G.pt") is not None
