"""--score-every K: score a step's sample folder with ganbench's scoring core while training.

This is the one place where the trainers call into ganbench's scoring (lazily: nothing is imported without
--score-every). The link is still the sample folder: what is scored is samples/<step>/, exactly what
`ganbench score runs/<run>/samples/<step>` would read, so the FID here and the FID of the CLI agree.

Per scored step: FID goes into log.csv's `fid` column (and TensorBoard), and the full result record goes to
the results store with a "run" section (name, run_dir, arch, step, run_id) that the leaderboard reads.
Missing Inception weights (offline) turn scoring off with a warning; missing classifier weights turn the
class-aware part off. Training never stops for scoring: a UserError at one step is a warning.

Under torchrun the hook exists on rank 0 only, and the loop calls it through distributed.main_alone: the
whole folder is scored as one process (ganbench.parallel.alone, no collective of the trainers' group) while
the other ranks wait.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganbench.errors import UserError, warn
from trainers import checkpoint
from trainers.settings import TrainSettings

SEED = 0  # seed of the reference subset: the same for every run, so records compare and the features cache
CALIBRATION_N = 1_000  # cifar10-test images for the classifier's recorded accuracy: seconds, not minutes


class ScoreHook:
    """Built once per run on rank 0; call it with a step whose samples/<step>/ folder is complete (under
    torchrun inside ganbench.parallel.alone(), as distributed.main_alone does)."""

    def __init__(
        self, s: TrainSettings, run_dir: Path, arch: str, run_id: str, echo: Callable[[str], None]
    ) -> None:
        self.s, self.run_dir, self.arch, self.run_id, self.echo = s, Path(run_dir), arch, run_id, echo
        self.extractor: Any = None  # the Inception network, built at the first scored step and kept
        self.classifier: Any = None
        self.weights: Any = None
        if s.score_every is not None and s.score_every % s.sample_every:
            warn(
                f"--score-every {s.score_every} is not a multiple of --sample-every {s.sample_every}: only "
                "steps that are multiples of both have a sample folder to score"
            )
        from ganbench import weights

        try:
            self.weights = weights.resolve()
        except UserError as e:
            warn(
                f"--score-every: no FID Inception weights, so no scoring in this run; training goes on ({e})"
            )
            return
        if s.score_classifier:
            from ganbench.classaware import make_classifier

            try:
                self.classifier = make_classifier("resnet56", None)
            except UserError as e:
                warn(f"--score-every: no surrogate classifier, so FID etc. without class-aware metrics ({e})")

    @property
    def enabled(self) -> bool:
        return self.weights is not None

    def __call__(self, step: int) -> float | None:
        """Score samples/<step>/, store the record; -> FID, or None (scoring off or failed with a warning)."""
        if not self.enabled:
            return None
        rng = checkpoint.capture_rng()  # scoring must not shift the training RNG: resume stays bit for bit
        try:
            return self._score(step)
        except UserError as e:
            warn(f"--score-every: step {step} not scored ({e}); training goes on")
            return None
        finally:
            checkpoint.restore_rng(rng)

    def _score(self, step: int) -> float | None:
        from ganbench.extractors.inception import InceptionExtractor
        from ganbench.results import store_dir, write_record
        from ganbench.scoring import ScoreConfig, score

        folder = self.run_dir / "samples" / str(step)
        if not folder.is_dir():
            warn(f"--score-every: {folder} does not exist; step {step} not scored")
            return None
        cfg = ScoreConfig(
            samples=str(folder),
            ref=self.s.score_ref,
            ref_n=self.s.score_ref_n,
            seed=SEED,
            data_dir=self.s.data,
            classifier="resnet56" if self.classifier is not None else "none",
            calibration_n=CALIBRATION_N,
        )
        if self.extractor is None:
            self.extractor = InceptionExtractor(self.weights, backend=cfg.backend, resize_policy=cfg.resize,
                                                batch_size=cfg.batch_size)  # fmt: skip
        self.echo(f"step {step}: scoring {folder} against {cfg.ref} (--score-every {self.s.score_every})")
        record = score(cfg, self.extractor, self.classifier)
        record["run"] = {
            "name": self.run_dir.name,
            "run_dir": str(self.run_dir.resolve()),
            "arch": self.arch,
            "step": step,
            "run_id": self.run_id,
        }
        stored = write_record(record, store_dir(self.s.results))
        fid = record["metrics"].get("fid")
        shown = "n/a" if fid is None else f"{fid:.2f}"
        self.echo(f"step {step}: FID {shown} ({record['samples']['n']} samples) -> {stored}")
        return fid
