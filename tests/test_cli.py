"""`ganbench score` end to end on tiny folders: the record, the cache, stats references, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganbench import cache
from ganbench.cli import cli
from ganbench.extractors import backends


def noise_folder(root: Path, n: int, seed: int, size: int = 32) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {"samples": noise_folder(root / "samples", 8, 0), "ref": noise_folder(root / "ref", 10, 1)}


def run(args: list[str], **env: str):
    result = CliRunner().invoke(cli, args, env=env or None, catch_exceptions=False)
    return result


def score_args(samples: Path, ref: Path, results: Path, *extra: str) -> list[str]:
    return ["score", str(samples), "--ref", str(ref), "--results", str(results), *extra]


def records(store: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))]


def no_temp_files(*roots: Path) -> bool:
    return not [p for root in roots if root.exists() for p in root.rglob("*") if ".tmp" in p.name]


def test_score_table_record_and_cache(tiny, tmp_path):
    store = tmp_path / "results"
    before = backends.CALLS["forward"]
    first = run(score_args(tiny["samples"], tiny["ref"], store))
    assert first.exit_code == 0, first.stderr
    assert backends.CALLS["forward"] > before
    assert "FID" in first.stdout and "Precision" in first.stdout
    (rec,) = records(store)
    assert rec["samples"]["n"] == 8 and rec["reference"]["n"] == 10 and rec["samples"]["labels"] is False
    assert rec["extractor"]["weights"]["sha256"] and rec["extractor"]["resize"] == "legacy-tf"
    assert rec["extractor"]["backend"] in ("onnxruntime", "torch") and rec["ganbench_version"]
    assert len(rec["samples"]["content_sha256"]) == 64 and rec["seed"] == 0 and rec["wall_seconds"] > 0
    assert rec["metrics"]["fid"] > 0 and 0 <= rec["metrics"]["precision"] <= 1
    if not rec["extractor"]["weights"]["has_is_head"]:
        # IS is reported unavailable with the reason, never as a number
        assert rec["metrics"]["is_mean"] is None and "1008-way head" in rec["unavailable"]["is_mean"]
        assert "n/a — " in first.stdout
    # unchanged folders: no network call, same numbers, cache hits recorded
    calls = backends.CALLS["forward"]
    second = run(score_args(tiny["samples"], tiny["ref"], store, "--json"))
    assert second.exit_code == 0
    assert backends.CALLS["forward"] == calls
    rec2 = json.loads(second.stdout)
    assert rec2["cache"] == {"samples_hit": True, "reference_hit": True}
    assert rec2["metrics"] == rec["metrics"]
    assert len(records(store)) == 2


def test_two_processes_on_the_same_folder(tmp_path):
    """Both succeed; each cache key holds one valid entry; both records are kept."""
    samples, ref = noise_folder(tmp_path / "s", 4, 5), noise_folder(tmp_path / "r", 6, 6)
    store = tmp_path / "results"
    cmd = [sys.executable, "-m", "ganbench", *score_args(samples, ref, store)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    fids = {round(rec["metrics"]["fid"], 6) for rec in records(store)}
    assert len(records(store)) == 2 and len(fids) == 1
    # Inception features only: the surrogate classifier caches its probabilities under its own identity
    entries = [e for e in cache.info()["entries"] if e.get("extractor") == "inception-v3-fid"]
    for name, n in (("s", 4), ("r", 6)):
        mine = [e for e in entries if e.get("source", "").endswith(f"/{name}")]
        assert len(mine) == 1 and mine[0]["n"] == n
    assert no_temp_files(cache.features_dir(), store)


def test_stats_reference_roundtrip(tiny, tmp_path):
    stats = tmp_path / "ref-stats.npz"
    exported = run(["reference", "export", str(tiny["ref"]), str(stats)])
    assert exported.exit_code == 0, exported.stderr
    with np.load(stats) as z:
        assert z["mu"].shape == (2048,) and z["sigma"].shape == (2048, 2048)
    assert run(["reference", "import", str(stats), "--name", "tinyref"]).exit_code == 0
    assert "tinyref" in run(["reference", "list"]).stdout
    by_name = run(score_args(tiny["samples"], Path("tinyref"), tmp_path / "a", "--json"))
    by_images = run(score_args(tiny["samples"], tiny["ref"], tmp_path / "b", "--json"))
    a, b = json.loads(by_name.stdout), json.loads(by_images.stdout)
    # Two routes to one number: the imported 2048 x 2048 covariance (rank-deficient here) through eigenvalue
    # square roots vs the images' features through the exact n x m SVD; they part at ~1e-9 relative, BLAS-dependent.
    assert a["metrics"]["fid"] == pytest.approx(b["metrics"]["fid"], rel=1e-7)
    assert a["reference"]["kind"] == "statistics"
    for key in ("kid_mean", "precision", "density"):
        assert a["metrics"][key] is None and "statistics only" in a["unavailable"][key]


def test_cache_info_and_clear(tiny, tmp_path):
    run(score_args(tiny["samples"], tiny["ref"], tmp_path / "r"))
    assert "feature entries" in run(["cache", "info"]).stdout
    assert run(["cache", "clear"]).exit_code == 0
    assert cache.info()["feature_entries"] == 0


def test_weights_list_and_verify():
    listed = run(["weights", "list"]).stdout
    assert "default_1.pt" in listed and "resnet56-4bfd9763.th" in listed and "resnet20-12fca82f.th" in listed
    assert run(["weights", "verify"]).stdout.startswith("ok: ")


def test_weights_fetch_and_verify_the_classifier(tmp_path, resolved_weights):
    from tests.conftest import SHARED_WEIGHTS

    if not (SHARED_WEIGHTS / "resnet20-12fca82f.th").is_file():
        pytest.fail(f"no classifier weights in {SHARED_WEIGHTS}; tests need ../shared/weights")
    cache = {
        "GANBENCH_CACHE": str(tmp_path / "fresh"),
        "GANBENCH_INCEPTION_WEIGHTS": str(resolved_weights.path),
    }
    both = run(
        ["weights", "fetch", "--classifier", "all"], GANBENCH_CLASSIFIER_WEIGHTS=str(SHARED_WEIGHTS), **cache
    )
    assert both.exit_code == 0
    assert "classifier: resnet20" in both.stdout and "classifier: resnet56" in both.stdout
    # copied into the cache, verified: from a bare shell (no GANBENCH_CLASSIFIER_WEIGHTS) it is found there
    cached = tmp_path / "fresh" / "weights" / "resnet56-4bfd9763.th"
    assert f"{cached}  sha256 4bfd9763" in both.stdout
    bare = run(["weights", "fetch"], GANBENCH_CLASSIFIER_WEIGHTS="", GANBENCH_OFFLINE="1", **cache)
    assert bare.exit_code == 0 and f"{cached}  sha256 4bfd9763" in bare.stdout, bare.stderr
    ok = run(["weights", "verify", str(SHARED_WEIGHTS / "resnet20-12fca82f.th")])
    assert ok.exit_code == 0 and "is the resnet20 classifier (akamaster" in ok.stdout
    # offline with no classifier anywhere: by default a warning (setup still works), by name an error
    env = {"GANBENCH_CLASSIFIER_WEIGHTS": "", "GANBENCH_OFFLINE": "1", "GANBENCH_CACHE": str(tmp_path / "c"),
           "GANBENCH_INCEPTION_WEIGHTS": str(resolved_weights.path)}  # fmt: skip
    soft = run(["weights", "fetch"], **env)
    assert soft.exit_code == 0 and "surrogate classifier unavailable" in soft.stderr
    hard = run(["weights", "fetch", "--classifier", "resnet20"], **env)
    assert hard.exit_code == 2 and "resnet20-12fca82f.th" in hard.stderr and "GANBENCH_OFFLINE" in hard.stderr
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(256))
    bad = run(["weights", "verify", str(junk)])
    assert bad.exit_code == 2 and "matches no known weights file" in bad.stderr and "resnet56" in bad.stderr


# --- bad input: one line naming the thing, exit 2, nothing stored -------------------------------------------


def corrupt(root: Path) -> Path:
    noise_folder(root, 3, 0)
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def truncated(root: Path) -> Path:
    noise_folder(root, 3, 0)
    data = (root / "000.png").read_bytes()
    (root / "000.png").write_bytes(data[: len(data) // 2])
    return root


def evil_zip(root: Path, member: str) -> Path:
    root.mkdir(parents=True)
    path = root / "samples.zip"
    buf = noise_folder(root / "src", 3, 0)
    with zipfile.ZipFile(path, "w") as z:
        for p in sorted(buf.iterdir()):
            z.write(p, p.name)
        z.writestr(member, (buf / "000.png").read_bytes())
    return path


def npz(root: Path, x: np.ndarray) -> Path:
    root.mkdir(parents=True)
    np.savez(root / "s.npz", x=x)
    return root / "s.npz"


def one_image(root: Path) -> Path:
    return noise_folder(root, 1, 0)


BAD_SOURCES = {
    "missing path": (lambda r: r / "nope", "nope"),
    "empty folder": (lambda r: (r / "empty").mkdir() or r / "empty", "empty"),
    "one image": (lambda r: one_image(r / "one"), "one"),
    "corrupt image": (lambda r: corrupt(r / "c"), "bad.png"),
    "truncated image": (lambda r: truncated(r / "t"), "000.png"),
    "zip absolute path": (lambda r: evil_zip(r / "z1", "/etc/evil.png"), "/etc/evil.png"),
    "zip parent path": (lambda r: evil_zip(r / "z2", "../evil.png"), "../evil.png"),
    "npz wrong dtype": (lambda r: npz(r / "n1", np.zeros((4, 32, 32, 3), np.float32)), "s.npz"),
    "npz wrong shape": (lambda r: npz(r / "n2", np.zeros((4, 32, 32), np.uint8)), "s.npz"),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_bad_sources_exit_2(case, tiny, tmp_path):
    make, needle = BAD_SOURCES[case]
    store = tmp_path / "results"
    result = run(score_args(make(tmp_path), tiny["ref"], store))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and needle in lines[-1], result.stderr
    assert "Traceback" not in result.stderr
    assert not store.exists() and no_temp_files(cache.features_dir())


def test_non_image_skipped_or_strict(tiny, tmp_path):
    folder = noise_folder(tmp_path / "s", 4, 3)
    (folder / "notes.txt").write_text("hello")
    ok = run(score_args(folder, tiny["ref"], tmp_path / "r1", "--json"))
    assert ok.exit_code == 0 and json.loads(ok.stdout)["samples"]["notes"] == {"skipped_non_image": 1}
    strict = run(score_args(folder, tiny["ref"], tmp_path / "r2", "--strict"))
    assert strict.exit_code == 2 and "notes.txt" in strict.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "r2").exists()


CONVERSIONS = {
    "grayscale": (lambda a: Image.fromarray(a[..., 0]), "converted_grayscale"),
    "palette": (lambda a: Image.fromarray(a).convert("P"), "converted_palette"),
    "rgba": (lambda a: Image.fromarray(np.dstack([a, a[..., :1]])), "converted_rgba"),
    "16-bit": (lambda a: Image.fromarray(a[..., 0].astype(np.uint16) * 257), "converted_16bit"),
    "other size": (lambda a: Image.fromarray(a).resize((64, 64)), "resized"),
}


@pytest.mark.parametrize("case", list(CONVERSIONS))
def test_conversions_counted_in_record(case, tiny, tmp_path):
    make, key = CONVERSIONS[case]
    folder = noise_folder(tmp_path / "s", 3, 4)
    make(np.random.default_rng(9).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / "odd.png")
    result = run(score_args(folder, tiny["ref"], tmp_path / "r", "--json"))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["samples"]["notes"].get(key) == 1
    if case == "other size":
        assert "64x64" in result.stderr


def test_mixed_sizes_resized_with_warning(tiny, tmp_path):
    folder = tmp_path / "mixed"
    noise_folder(folder, 2, 1, size=48)
    noise_folder(folder / "more", 2, 2, size=28)
    result = run(score_args(folder, tiny["ref"], tmp_path / "r", "--json"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["samples"]["notes"]["resized"] == 4
    assert "48x48" in result.stderr and "28x28" in result.stderr


def test_weights_missing_offline(tiny, tmp_path):
    empty_cache = tmp_path / "cache"
    result = run(score_args(tiny["samples"], tiny["ref"], tmp_path / "r"), GANBENCH_CACHE=str(empty_cache),
                 GANBENCH_OFFLINE="1", GANBENCH_INCEPTION_WEIGHTS="")  # fmt: skip
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "GANBENCH_OFFLINE" in line and "--inception-weights" in line
    assert not (tmp_path / "r").exists() and not (empty_cache / "features").exists()


def test_weights_wrong_hash(tiny, tmp_path):
    fake = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    fake.write_bytes(os.urandom(1024))
    result = run(score_args(tiny["samples"], tiny["ref"], tmp_path / "r", "--inception-weights", str(fake)))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(fake) in line and "sha256" in line
    assert not (tmp_path / "r").exists()


def test_unknown_option_and_reference_name(tiny, tmp_path):
    assert run(["score", str(tiny["samples"]), "--frobnicate"]).exit_code == 2
    result = run(score_args(tiny["samples"], Path("cifar10-val"), tmp_path / "r"))
    assert result.exit_code == 2 and "cifar10-val" in result.stderr


def test_fid_bootstrap_interval_in_record(tiny, tmp_path):
    result = run(score_args(tiny["samples"], tiny["ref"], tmp_path / "r", "--json", "--fid-ci", "4",
                            "--classifier", "none"))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    m = json.loads(result.stdout)["metrics"]
    assert m["fid_boot_n"] == 4 and m["fid_ci_low"] <= m["fid"] <= m["fid_ci_high"]
    assert m["fid_ci_high"] > m["fid_ci_low"]
