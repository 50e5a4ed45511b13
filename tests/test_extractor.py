"""The FID Inception extractor: weights mapping, resize policies, backends and batch sizes agree."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from ganbench.extractors.inception import InceptionExtractor
from ganbench.extractors.inception_net import FIDInceptionV3
from ganbench.extractors.resize import resize
from ganbench.metrics import feature_stats, fid_from_stats


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(6, 3, 32, 32), dtype=np.uint8)


def test_nvidia_layout_maps_exactly(resolved_weights):
    """Our module with the renamed TorchScript parameters computes what the TorchScript computes."""
    from ganbench import weights as W

    if resolved_weights.spec.fmt != "torchscript-nvidia":
        pytest.skip("the cached weights are not the TorchScript port")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ts = torch.jit.load(str(resolved_weights.path)).eval()
    net = FIDInceptionV3(with_logits=False)
    net.load_state_dict(W.load_state_dict(resolved_weights), strict=True)
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 255
    with torch.inference_mode():
        want, (got,) = ts((x - 128) / 128), net.eval()(x)
    assert rel_err(got.numpy(), want.numpy()) < 1e-5


def test_legacy_tf_resize_is_bit_exact_with_torch_fidelity(images):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = torch.from_numpy(images)
    want = interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(299, 299), align_corners=False)
    assert torch.equal(resize(x, "legacy-tf"), want)


def test_clean_resize_matches_clean_fid(images):
    from cleanfid.resize import build_resizer

    fn = build_resizer("clean")
    want = np.stack([fn(img.transpose(1, 2, 0)).transpose(2, 0, 1) for img in images])
    np.testing.assert_array_equal(resize(torch.from_numpy(images), "clean").numpy(), want)


def test_backends_and_batch_sizes_agree(images, resolved_weights, ort_extractor, torch_extractor):
    """Features and the FID built on them do not depend on backend or batch size beyond 1e-4 relative."""
    ort6 = ort_extractor(images)["pool3"]
    ort4 = InceptionExtractor(resolved_weights, backend="onnxruntime", batch_size=4)(images)["pool3"]
    tor6 = torch_extractor(images)["pool3"]
    tor1 = InceptionExtractor(resolved_weights, backend="torch", device="cpu", batch_size=1)(images[:2])[
        "pool3"
    ]
    assert rel_err(ort4, ort6) < 1e-4
    assert rel_err(tor6, ort6) < 1e-4
    assert rel_err(tor1, tor6[:2]) < 1e-4
    shifted = np.clip(images.astype(int) + 40, 0, 255).astype(np.uint8)
    ref = feature_stats(ort_extractor(shifted)["pool3"])
    fids = [fid_from_stats(*feature_stats(f), *ref)["fid"] for f in (ort6, ort4, tor6)]
    assert max(fids) - min(fids) <= 1e-4 * max(fids)


def test_head_matches_torch_fidelity_extractor(images, head_weights):
    """With a 1008-way head, pool3 and the unbiased logits equal torch-fidelity's extractor on the same file."""
    from torch_fidelity import FeatureExtractorInceptionV3

    theirs = FeatureExtractorInceptionV3(
        "inception-v3-compat",
        ["2048", "logits_unbiased"],
        feature_extractor_weights_path=str(head_weights.path),
    )
    with torch.inference_mode():
        pool3, logits = (t.numpy() for t in theirs(torch.from_numpy(images[:3])))
    ours = InceptionExtractor(head_weights, backend="onnxruntime")(images[:3])
    assert set(ours) == {"pool3", "logits"}
    assert rel_err(ours["pool3"], pool3) < 1e-4
    assert rel_err(ours["logits"], logits) < 1e-4


def test_extractor_rejects_bad_input(ort_extractor):
    with pytest.raises(ValueError, match="uint8"):
        ort_extractor(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="resize policy"):
        InceptionExtractor(ort_extractor.weights, resize_policy="bilinear")
