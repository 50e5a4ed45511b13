"""The fixed cost of a small run: a fully cached score imports no torch, weights are hashed once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np

from ganbench import weights as W


def test_file_hashes_are_remembered_until_the_file_changes(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"first")
    want = (hashlib.sha256(b"first").hexdigest(), hashlib.sha1(b"first").hexdigest())
    assert W.file_hashes(path) == want
    memo_path = W._hash_memo_path()
    memo = json.loads(memo_path.read_text())
    key = W._stat_key(path)
    assert memo[key] == list(want)
    memo[key] = ["remembered", "value"]  # a second call must read the memo, not the file
    memo_path.write_text(json.dumps(memo))
    assert W.file_hashes(path) == ("remembered", "value")
    path.write_bytes(b"other")  # rewritten: a new mtime (and size), so it is hashed afresh
    os.utime(path, ns=(1, 1))
    assert W.file_hashes(path) == (hashlib.sha256(b"other").hexdigest(), hashlib.sha1(b"other").hexdigest())


def test_a_damaged_hash_memo_is_ignored(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"x")
    W._hash_memo_path().parent.mkdir(parents=True, exist_ok=True)
    W._hash_memo_path().write_text("{not json")
    assert W.file_hashes(path)[0] == hashlib.sha256(b"x").hexdigest()


CHECK = """
import sys
from ganbench.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
finally:
    heavy = sorted(m for m in ("torch", "onnxruntime", "scipy", "sklearn") if m in sys.modules)
    print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def test_a_fully_cached_score_imports_no_torch(tmp_path, resolved_weights):
    """Features stored in the cache under the keys a run computes: the run needs no network, so it must
    not pay for importing torch (most of a small run's start-up)."""
    from ganbench import cache
    from ganbench.extractors.inception import InceptionExtractor
    from ganbench.inputs.sources import load_source

    rng = np.random.default_rng(0)
    identity = InceptionExtractor(resolved_weights, backend="onnxruntime").identity()
    paths = {}
    for name, n in (("samples", 30), ("ref", 40)):
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], x=rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8))
        images = load_source(str(paths[name]))
        key = cache.make_key(images.content_hash(), identity)
        cache.put(key, {"pool3": rng.normal(size=(n, 2048)).astype(np.float32)}, {"source": name})
    args = [str(paths["samples"]), "--ref", str(paths["ref"]), "--classifier", "none", "--no-store", "--json"]
    out = subprocess.run([sys.executable, "-c", CHECK, "score", *args], capture_output=True, text=True,
                         env=os.environ | {"GANBENCH_OFFLINE": "1"})  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads(out.stdout[out.stdout.index("{") :])
    assert record["cache"] == {"samples_hit": True, "reference_hit": True}
    assert record["metrics"]["fid"] is not None
    assert out.stderr.rsplit("HEAVY=", 1)[1].strip() == "", out.stderr[-500:]  # imported none of them
