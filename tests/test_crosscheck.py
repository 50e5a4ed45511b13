"""End-to-end agreement with torch-fidelity and clean-fid on identical image folders and the same weights.

torch-fidelity's canonical weights cannot be downloaded here, so it is given a file in its own layout holding
the same network (converted from the package-index TorchScript) plus a random 1008-way head; that exercises
IS end to end. The tolerance reached is stated in each test.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from ganbench.scoring import ScoreConfig, score


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.fixture(scope="module")
def fidelity_metrics(small_sets, head_weights) -> dict:
    import torch_fidelity

    return torch_fidelity.calculate_metrics(
        input1=str(small_sets["samples"]), input2=str(small_sets["ref"]), cuda=False, isc=True, fid=True,
        kid=True, prc=True, kid_subset_size=40, samples_find_deep=True, verbose=False, cache=False, save_cpu_ram=True,  # save_cpu_ram: no worker processes
        # one extractor for all metrics: torch-fidelity's PRC defaults to VGG16, ours is in pool3 space
        feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(head_weights.path),
    )  # fmt: skip


def test_matches_torch_fidelity(small_sets, head_weights, fidelity_metrics):
    """FID, KID, IS within 1e-4 relative; precision and recall count the same neighbours."""
    from ganbench.extractors.inception import InceptionExtractor

    cfg = ScoreConfig(samples=str(small_sets["samples"]), ref=str(small_sets["ref"]), kid_subset_size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = score(cfg, InceptionExtractor(head_weights, backend="torch", device="cpu"))["metrics"]
    t = fidelity_metrics
    assert rel(m["fid"], t["frechet_inception_distance"]) < 1e-4
    assert rel(m["kid_mean"], t["kernel_inception_distance_mean"]) < 1e-4
    assert rel(m["kid_std"], t["kernel_inception_distance_std"]) < 1e-4
    assert rel(m["is_mean"], t["inception_score_mean"]) < 1e-4
    assert rel(m["is_std"], t["inception_score_std"]) < 1e-4
    # the same neighbour counts; torch-fidelity returns the fractions as float32
    assert m["precision"] == pytest.approx(t["precision"], abs=1e-6)
    assert m["recall"] == pytest.approx(t["recall"], abs=1e-6)


def test_matches_clean_fid(small_sets, resolved_weights, ort_extractor):
    """clean-fid's `clean` mode (its own resize and FID code) vs ours on the same folders: FID within 1e-4."""
    from cleanfid import fid as cleanfid

    from ganbench import weights as W
    from ganbench.extractors.inception import InceptionExtractor
    from ganbench.extractors.inception_net import FIDInceptionV3

    net = FIDInceptionV3(with_logits=False)
    net.load_state_dict(W.load_state_dict(resolved_weights))
    net.eval()

    def extractor(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return net(batch.float())[0]

    theirs = cleanfid.compute_fid(
        str(small_sets["samples"]), str(small_sets["ref"]), mode="clean", custom_feat_extractor=extractor,
        device=torch.device("cpu"), num_workers=0, batch_size=25, verbose=False,
    )  # fmt: skip
    cfg = ScoreConfig(samples=str(small_sets["samples"]), ref=str(small_sets["ref"]), resize="clean")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = score(cfg, InceptionExtractor(resolved_weights, backend="onnxruntime", resize_policy="clean"))
    assert rel(ours["metrics"]["fid"], float(theirs)) < 1e-4
