"""A `ganbench score` beside a running `ganbench train` on the same cores: how much of its alone throughput
each keeps (issue target: >= 0.4 each, a fair share being about 0.5 on 2 cores).

    python benchmarks/bench_contention.py [--n 200] [--alone-s 20] [--arch acgan] [--data DIR]
                                          [--tree [NAME=]DIR ...]

For each checkout (this one, then each --tree, e.g. a `git worktree` of an older commit), in this order:
1. the scorer alone: `ganbench score <n cifar10-test images> --ref cifar10-train --ref-n n --calibration-n 0
   --no-store`, its sample features cold (images no earlier run scored) and its reference warm (one untimed
   warm-up run per benchmark fills it; every run shares one fresh GANBENCH_CACHE in a temp folder);
2. the trainer alone: `ganbench train ARCH --preset cpu --log-every 1` for --alone-s seconds after a short
   warm-up (img/s from the arrival times of its per-step progress lines);
3. both side by side: the same score on other cold images, started while the trainer runs; the trainer's
   img/s over the score's lifetime, and the score's images per second of wall time;
4. the trainer alone again for half of --alone-s (its alone figure averages both alone spells, so a drifting
   machine shows).
Every run inherits this environment (OMP_NUM_THREADS, OMP_WAIT_POLICY, GOMP_SPINCOUNT: printed) and gets no
thread option: the point is what each command does by default. Not a test: a timing needs the machine to
itself (other jobs disturb it by far more than the effects measured; the load average before and after is
printed), so rerun it on an idle machine before quoting a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def ganbench(tree: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    # cwd outside any checkout (see the callers), so PYTHONPATH, not the current folder, decides the code
    return [sys.executable, "-m", "ganbench"], env | {"PYTHONPATH": str(tree)}


def sample_folder(data: Path, dest: Path, block: int, n: int) -> Path:
    """n cifar10-test images in class folders, block `block` of each class: each run gets images of its own,
    so its sample features are cold."""
    per_class = -(-n // len(CLASSES))
    for c in CLASSES:
        files = sorted((data / "test" / c).iterdir())[block * per_class : (block + 1) * per_class]
        if len(files) < per_class:
            sys.exit(f"not enough cifar10-test images in {data / 'test' / c} for --n {n} and these runs")
        (dest / c).mkdir(parents=True)
        for f in files:
            shutil.copyfile(f, dest / c / f.name)
    return dest


def score(tree: Path, env: dict[str, str], samples: Path, n: int) -> tuple[float, float, float, dict]:
    """One `ganbench score` -> (start, end, img/s of wall time, the record's stage_seconds)."""
    cmd, env = ganbench(tree, env)
    args = ["score", str(samples), "--ref", "cifar10-train", "--ref-n", str(n), "--calibration-n", "0",
            "--json", "--no-store"]  # fmt: skip
    t0 = time.monotonic()
    out = subprocess.run(cmd + args, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    t1 = time.monotonic()
    if out.returncode:
        sys.exit(f"ganbench score failed ({out.returncode}): {out.stderr[-2000:]}")
    record = json.loads(out.stdout[out.stdout.index("{") :])
    return t0, t1, record["samples"]["n"] / (t1 - t0), record.get("stage_seconds", {})


class Trainer:
    """`ganbench train` in the background; (arrival time, step) of each progress line it prints."""

    def __init__(self, tree: Path, env: dict[str, str], arch: str, data: Path, out: Path) -> None:
        cmd, env = ganbench(tree, env)
        args = ["train", arch, "--preset", "cpu", "--data", str(data), "--out", str(out), "--steps", "1000000",
                "--minutes", "60", "--log-every", "1", "--sample-every", "1000000", "--ckpt-every", "1000000"]  # fmt: skip
        self.out = out
        self.ticks: list[tuple[float, int]] = []
        self.proc = subprocess.Popen(cmd + args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env=env, cwd=tempfile.gettempdir())  # fmt: skip
        self.tail: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.startswith("step "):
                self.ticks.append((time.monotonic(), int(line.split()[1].split("/")[0])))
            else:
                self.tail = (self.tail + [line.rstrip()])[-20:]

    def wait_steps(self, steps: int, timeout: float = 600) -> None:
        end = time.monotonic() + timeout
        while not self.ticks or self.ticks[-1][1] < steps:
            if self.proc.poll() is not None or time.monotonic() > end:
                sys.exit("ganbench train stopped or stalled:\n" + "\n".join(self.tail))
            time.sleep(0.1)

    def images_per_step(self) -> int:
        config = json.loads(next(self.out.glob("*/config.json")).read_text())
        return config["train_args"]["batch_size"] * config["model_args"].get("n_dis", 1)

    def rate(self, t0: float, t1: float) -> float:
        """Real images per second over [t0, t1], the step count interpolated between progress lines."""

        def steps_at(t: float) -> float:
            for (ta, sa), (tb, sb) in zip(self.ticks, self.ticks[1:], strict=False):
                if ta <= t <= tb:
                    return sa + (sb - sa) * (t - ta) / max(tb - ta, 1e-9)
            raise ValueError(f"no progress line around t={t:.1f}")

        return (steps_at(t1) - steps_at(t0)) * self.images_per_step() / (t1 - t0)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.reader.join()


def measure(name: str, tree: Path, a: argparse.Namespace, env: dict[str, str], tmp: Path, run: int) -> dict:
    n = a.n
    scorer_alone = score(tree, env, sample_folder(a.data, tmp / f"s{run}a", 1 + 2 * run, n), n)
    trainer = Trainer(tree, env, a.arch, a.data, tmp / f"runs-{run}")
    try:
        trainer.wait_steps(5)  # warm: data loaded, first steps' allocations done
        t0 = trainer.ticks[-1][0]
        time.sleep(a.alone_s)
        before = (t0, time.monotonic())
        beside = score(tree, env, sample_folder(a.data, tmp / f"s{run}b", 2 + 2 * run, n), n)
        time.sleep(a.alone_s / 2)
        after = (beside[1], time.monotonic())
        trainer.wait_steps(trainer.ticks[-1][1] + 1)  # a progress line past the end of the window
        spells = [(trainer.rate(*w), w[1] - w[0]) for w in (before, after)]
        train_alone = sum(r * s for r, s in spells) / sum(s for _, s in spells)
        train_beside = trainer.rate(beside[0], beside[1])
    finally:
        trainer.stop()
    return {
        "code": name,
        "train_alone": train_alone,
        "train_alone_spells": [round(r, 1) for r, _ in spells],
        "train_beside": train_beside,
        "score_alone": scorer_alone[2],
        "score_beside": beside[2],
        "score_s": (scorer_alone[1] - scorer_alone[0], beside[1] - beside[0]),
        "score_stages": (scorer_alone[3], beside[3]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="images per score (and reference images)")
    ap.add_argument(
        "--alone-s", type=float, default=20.0, help="seconds of the trainer alone before the score"
    )
    ap.add_argument("--arch", default="acgan")
    ap.add_argument("--data", type=Path, default=os.environ.get("GANBENCH_DATA"),
                    help="CIFAR-10 folder (train/ and test/ class folders) [default: $GANBENCH_DATA]")  # fmt: skip
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                    help="also measure the code of another checkout (repeatable; DIR alone: named by it)")  # fmt: skip
    a = ap.parse_args()
    if a.data is None:
        sys.exit("give --data DIR or set GANBENCH_DATA (a CIFAR-10 folder)")
    a.data = a.data.resolve()
    trees = [("this", REPO)] + [
        (t.split("=", 1)[0], Path(t.split("=", 1)[1])) if "=" in t else (Path(t).name, Path(t))
        for t in a.tree
    ]
    real_cache = Path(os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench")
    with tempfile.TemporaryDirectory(prefix="bench-contention-") as d:
        tmp = Path(d)
        cache = tmp / "cache"
        cache.mkdir()
        for keep in ("weights", "onnx"):  # the networks stay; only features are cold
            (real_cache / keep).mkdir(parents=True, exist_ok=True)
            (cache / keep).symlink_to(real_cache / keep)
        env = dict(os.environ, GANBENCH_CACHE=str(cache), GANBENCH_DATA=str(a.data))
        threads = " ".join(f"{k}={os.environ.get(k, 'unset')}" for k in THREAD_ENV)
        print(f"load average before: {os.getloadavg()[0]:.2f}; cores {len(os.sched_getaffinity(0))}; {threads}",
              flush=True)  # fmt: skip
        t = time.monotonic()
        score(
            trees[0][1], env, sample_folder(a.data, tmp / "warm", 0, a.n), a.n
        )  # the reference, the ONNX file
        print(f"warm-up score (reference features, untimed): {time.monotonic() - t:.0f} s", flush=True)
        rows = []
        for run, (name, tree) in enumerate(trees):
            rows.append(measure(name, tree.resolve(), a, env, tmp, run))
            print(f"{name}: done ({json.dumps(rows[-1], default=str)})", flush=True)
    print(f"\n{a.arch} cpu preset trainer beside a {a.n}-image cold score; img/s")
    print(f"{'code':<10} {'train alone':>11} {'beside':>8} {'ratio':>6} {'score alone':>11} {'beside':>8} "
          f"{'ratio':>6}  score wall s (alone, beside)")  # fmt: skip
    for r in rows:
        tr, sr = r["train_beside"] / r["train_alone"], r["score_beside"] / r["score_alone"]
        print(f"{r['code']:<10} {r['train_alone']:>11.1f} {r['train_beside']:>8.1f} {tr:>6.2f} "
              f"{r['score_alone']:>11.2f} {r['score_beside']:>8.2f} {sr:>6.2f}  "
              f"{r['score_s'][0]:.1f}, {r['score_s'][1]:.1f}   (trainer alone spells {r['train_alone_spells']})")  # fmt: skip
    print(f"target: both ratios >= 0.4; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
