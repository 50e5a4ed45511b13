"""The resize policies that reproduce other tools' protocols, array-equal to those tools on the same input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.extractors.resize import POLICIES, SIZE, resize


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    x[0, :, :16] = 255  # hard edges and saturated runs, where interpolation schemes differ most
    x[1, 0] = 0
    return x


def test_torch_bilinear_equals_clean_fid_legacy_pytorch(images):
    from cleanfid.resize import build_resizer

    theirs = build_resizer("legacy_pytorch")
    ours = resize(torch.from_numpy(images), "torch-bilinear").numpy()
    for i, img in enumerate(images):
        expected = theirs(img.transpose(1, 2, 0))  # HWC uint8 in, HWC float32 in 0..255 out
        np.testing.assert_array_equal(ours[i], expected.transpose(2, 0, 1))


def test_pil_bilinear_equals_torchvision_resize_of_a_pil_image(images):
    from torchvision import transforms

    tv = transforms.Compose([transforms.Resize(SIZE), transforms.PILToTensor()])
    ours = resize(torch.from_numpy(images), "pil-bilinear").numpy()
    for i, img in enumerate(images):
        expected = tv(Image.fromarray(img.transpose(1, 2, 0))).numpy().astype(np.float32)
        np.testing.assert_array_equal(ours[i], expected)


def test_every_offered_policy_is_implemented_and_they_differ(images):
    x = torch.from_numpy(images)
    outs = {p: resize(x, p) for p in POLICIES}
    assert all(o.shape == (3, 3, SIZE, SIZE) and o.dtype == torch.float32 for o in outs.values())
    for a in POLICIES:
        for b in POLICIES:
            if a < b:
                assert not torch.equal(outs[a], outs[b]), (a, b)
