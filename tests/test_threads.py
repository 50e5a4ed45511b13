"""CPU threads: idle threads sleep (onnxruntime's pool at once; OpenMP's soon, under the CLI), and the count follows
OMP_NUM_THREADS or --threads. What this buys beside a running trainer is timed by
benchmarks/bench_contention.py, not here."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ganbench import cli as cli_module
from ganbench.extractors import backends


@pytest.fixture
def session_options(monkeypatch: pytest.MonkeyPatch) -> list:
    """The SessionOptions each OrtRunner builds its session with (no model is loaded)."""
    import onnxruntime as ort

    seen = []

    class Session:
        def __init__(self, path, opts, providers):
            seen.append(opts)

        def get_inputs(self):
            return [type("Input", (), {"name": "images"})()]

    monkeypatch.setattr(ort, "InferenceSession", Session)
    return seen


def test_onnxruntime_threads_sleep_when_idle(session_options):
    backends.OrtRunner("unused.onnx")
    (opts,) = session_options
    for pool in ("intra_op", "inter_op"):
        assert opts.get_session_config_entry(f"session.{pool}.allow_spinning") == "0"


def test_onnxruntime_threads_follow_omp_num_threads(session_options, monkeypatch):
    n = len(os.sched_getaffinity(0)) + 1  # not the default, on any machine
    monkeypatch.setenv("OMP_NUM_THREADS", str(n))
    backends.OrtRunner("unused.onnx")
    backends.OrtRunner("unused.onnx", threads=1)  # an explicit count wins
    assert [o.intra_op_num_threads for o in session_options] == [n, 1]


def test_score_threads_sets_torch_and_onnxruntime_threads(tmp_path, monkeypatch):
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # restored after the test
    before = torch.get_num_threads()
    try:
        args = ["score", str(tmp_path / "missing"), "--threads", "3"]
        result = CliRunner().invoke(cli_module.cli, args)
        assert result.exit_code == 2  # parsed (the threads set), then the missing folder is a user error
        assert os.environ["OMP_NUM_THREADS"] == "3" and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert CliRunner().invoke(cli_module.cli, ["score", "x", "--threads", "0"]).exit_code == 2


@pytest.mark.parametrize(
    ("given", "seen"),
    [({}, "10000"), ({"OMP_WAIT_POLICY": "ACTIVE"}, None), ({"GOMP_SPINCOUNT": "5"}, "5")],
    ids=["unset", "a wait policy", "a spin count"],
)
def test_the_cli_lets_idle_openmp_threads_sleep_soon_unless_told_otherwise(monkeypatch, given, seen):
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    spins = []
    monkeypatch.setattr(cli_module, "cli", lambda **kw: spins.append(os.environ.get("GOMP_SPINCOUNT")))
    cli_module.main()
    assert spins == [seen]


def test_the_cli_loads_no_openmp_before_main():
    """OpenMP reads OMP_WAIT_POLICY once, when torch loads it: importing the CLI must not load torch."""
    code = "import sys, ganbench.cli; print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
