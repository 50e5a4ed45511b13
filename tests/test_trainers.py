"""End-to-end tests of `ganbench train` / `ganbench sample` on a tiny fake CIFAR-10 folder (CPU, seconds)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner, Result
from PIL import Image
from torch import nn

from ganbench.errors import UserError
from trainers import checkpoint
from trainers.cli import sample_command, train_command
from trainers.data import CIFAR10_CLASSES, BatchSampler, load_training_set
from trainers.diffaug import diff_augment
from trainers.registry import ARCHS
from trainers.sample import generate, load_generator


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models train faster on one thread; restore the count so later modules keep both cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CONDITIONAL = {"cgan", "acgan", "biggan"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR/{train,test}/<class>/NNNN.jpg: 4 random 32x32 images per class, the layout of the real copy."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in CIFAR10_CLASSES:
            (root / split / name).mkdir(parents=True)
            for i in range(4):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i:04d}.jpg")
    return root


def invoke(command, args: list[str]) -> Result:
    return CliRunner().invoke(command, [str(a) for a in args])


def train(data_dir: Path, out: Path, arch: str, *extra: object) -> Path:
    """A smoke run that must succeed; returns its run folder."""
    result = invoke(train_command, [arch, "--preset", "smoke", "--data", data_dir, "--out", out, *extra])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return newest(out)


def newest(out: Path) -> Path:
    """The run folder with the highest number."""
    return max(out.iterdir(), key=lambda p: p.name)


def user_error(result: Result) -> str:
    """The one-line UserError message a failed command raised."""
    assert isinstance(result.exception, UserError), f"{result.output}\n{result.exception!r}"
    message = str(result.exception)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def smoke_runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    return {arch: train(data_dir, out, arch) for arch in ARCHS}


# --- every arch: a 2-step smoke run leaves a complete run folder ------------------------------------------


@pytest.mark.parametrize("arch", list(ARCHS))
def test_smoke_run_writes_a_complete_run_folder(smoke_runs: dict[str, Path], arch: str) -> None:
    run = smoke_runs[arch]
    assert re.fullmatch(rf"\d{{5}}-{arch}", run.name)

    config = json.loads((run / "config.json").read_text())
    assert config["arch"] == arch and config["train_args"]["seed"] == 0
    assert config["train_args"]["preset"] == "smoke" and config["train_args"]["steps"] == 2

    with open(run / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2]
    assert {"epoch", "loss_D", "loss_G", "D_x", "D_G_z", "lr_G", "lr_D", "img_per_s"} <= set(rows[0])
    assert all(np.isfinite(float(r["loss_D"])) for r in rows)
    if arch == "acgan":
        assert "acc_real" in rows[0]

    ckpt = torch.load(run / "ckpt-2.pt", weights_only=True)
    assert ckpt["arch"] == arch and ckpt["step"] == 2
    assert {"G", "D", "opt_G", "opt_D", "rng", "model_args", "train_args"} <= set(ckpt)
    assert (ckpt["G_ema"] is not None) == (arch == "biggan")

    samples = run / "samples" / "2"
    if arch in CONDITIONAL:
        assert sorted(p.name for p in samples.iterdir()) == sorted(CIFAR10_CLASSES)
        assert all(len(list((samples / c).glob("*.png"))) == 100 for c in CIFAR10_CLASSES)
        one = samples / "cat" / "00099.png"
    else:
        assert [p.name for p in samples.iterdir()] == ["all"]
        assert len(list((samples / "all").glob("*.png"))) == 1000
        one = samples / "all" / "00999.png"
    with Image.open(one) as im:
        assert im.size == (32, 32) and im.mode == "RGB"
    with Image.open(run / "grid-2.png") as im:
        assert im.size == (10 * 34 + 2, 10 * 34 + 2)
    assert (run / "progress.gif").stat().st_size > 0 and (run / "curves.png").stat().st_size > 0
    assert not list(run.rglob(".*.tmp"))


# --- resume continues bit for bit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arch, extra",
    [
        ("cgan", []),
        # every cgan option: spectral norm's power-iteration vectors are state too; EMA active from step 2
        (
            "cgan",
            ["--set", "d_cond=projection", "--set", "d_norm=spectral", "--set", "loss=hinge"]
            + ["--set", "ema_start=2", "--set", "ema_decay=0.5", "--set", "d_mbstd=4", "--set", "g_cond=cbn"]
            + ["--set", "d_mismatch=0.5", "--set", "d_class_std=true"],
        ),
        # the label plane's options: DiffAugment draws from the RNG, also for the mismatch term
        (
            "cgan",
            ["--diffaug", "--set", "d_plane_std=0.02", "--set", "g_embed_std=0.1"]
            + ["--set", "d_mismatch=0.5", "--set", "d_mbstd=2"],
        ),
        # every acgan option: the DCGAN nets, spectral norm, hinge, minibatch std, a class weight, EMA from step 2
        (
            "acgan",
            ["--set", "g_arch=dcgan", "--set", "d_arch=dcgan", "--set", "d_norm=spectral"]
            + ["--set", "loss=hinge", "--set", "d_mbstd=4", "--set", "cls_weight=0.5"]
            + ["--set", "ema_start=2", "--set", "ema_decay=0.5"],
        ),
        (
            "acgan",
            ["--set", "dropout=0.2", "--set", "d_mbstd=2", "--set", "d_cls_fake=false"],
        ),  # paper D + mbstd
        # EMA active from step 2 with a visible decay; AC head and DiffAugment exercise more RNG use.
        ("biggan", ["--set", "ema_start=2", "--set", "ema_decay=0.5", "--aux", "--diffaug"]),
    ],
)
def test_resume_equals_a_straight_run(data_dir: Path, tmp_path: Path, arch: str, extra: list[str]) -> None:
    straight = train(data_dir, tmp_path / "a", arch, "--steps", 4, *extra)
    half = train(data_dir, tmp_path / "b", arch, "--steps", 2, *extra)
    result = invoke(train_command, [arch, "--resume", half, "--steps", 4, *extra])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"

    a = torch.load(straight / "ckpt-4.pt", weights_only=True)
    b = torch.load(half / "ckpt-4.pt", weights_only=True)
    for net in ("G", "D", "G_ema"):
        if a[net] is None:
            continue
        assert a[net].keys() == b[net].keys()
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs after resume"
    assert a["batches_drawn"] == b["batches_drawn"]

    def losses(run: Path) -> list[tuple[str, str]]:
        with open(run / "log.csv", newline="") as f:
            return [(r["step"], r["loss_D"], r["loss_G"]) for r in csv.DictReader(f)]

    assert losses(straight) == losses(half) and len(losses(half)) == 4


# --- sampling from a checkpoint alone --------------------------------------------------------------------


def test_sample_command_writes_class_folders(smoke_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = invoke(sample_command, [smoke_runs["cgan"] / "ckpt-2.pt", "--n", 3, "--per-class", "--out", out])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert sorted(p.name for p in out.iterdir()) == sorted(CIFAR10_CLASSES)
    assert sorted(p.name for p in (out / "dog").iterdir()) == ["00000.png", "00001.png", "00002.png"]

    flat = tmp_path / "u"  # unconditional, from the run folder (-> its latest checkpoint)
    result = invoke(sample_command, [smoke_runs["dcgan"], "--n", 7, "--out", flat, "--batch-size", 3])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert len(list(flat.glob("*.png"))) == 7

    again = invoke(sample_command, [smoke_runs["dcgan"], "--n", 7, "--out", flat])
    assert "not empty" in user_error(again)
    no_classes = invoke(sample_command, [smoke_runs["dcgan"], "--per-class", "--out", tmp_path / "x"])
    assert "unconditional" in user_error(no_classes)


def test_generate_is_seeded_and_uses_ema_weights(smoke_runs: dict[str, Path], tmp_path: Path) -> None:
    ckpt = smoke_runs["biggan"] / "ckpt-2.pt"
    images, labels = generate(ckpt, 4, per_class=True, seed=3, batch_size=7)
    assert images.shape == (40, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [c for c in range(10) for _ in range(4)]
    again, _ = generate(ckpt, 4, per_class=True, seed=3, batch_size=40)
    assert np.abs(images.astype(int) - again.astype(int)).max() <= 1  # batch size does not matter
    other, _ = generate(ckpt, 4, per_class=True, seed=4)
    assert not np.array_equal(images, other)

    state = torch.load(ckpt, weights_only=True)  # make the EMA weights differ from G's
    state["G_ema"] = {k: v + 0.5 if v.is_floating_point() else v for k, v in state["G_ema"].items()}
    torch.save(state, tmp_path / "ckpt-2.pt")
    G, _ = load_generator(tmp_path / "ckpt-2.pt", device="cpu")
    assert all(torch.equal(v, state["G_ema"][k]) for k, v in G.state_dict().items())

    flat, none = generate(smoke_runs["wgan-gp"], 5, seed=0)
    assert flat.shape == (5, 3, 32, 32) and none is None


# --- bad input -------------------------------------------------------------------------------------------


def test_unknown_arch_lists_the_valid_ones(data_dir: Path) -> None:
    result = invoke(train_command, ["stylegan9", "--data", data_dir])
    assert result.exit_code == 2
    assert all(name in result.output for name in ARCHS)


def test_unknown_option_is_an_error(data_dir: Path) -> None:
    result = invoke(train_command, ["dcgan", "--data", data_dir, "--learning-rate", "1"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_bad_settings_are_user_errors(data_dir: Path, tmp_path: Path) -> None:
    base = ["--preset", "smoke", "--data", data_dir, "--out", tmp_path]
    assert "biggan only" in user_error(invoke(train_command, ["dcgan", *base, "--aux"]))
    assert "cgan, biggan only" in user_error(invoke(train_command, ["acgan", *base, "--diffaug"]))
    assert "g_embed_std must be" in user_error(
        invoke(train_command, ["cgan", *base, "--set", "g_embed_std=-1"])
    )
    message = user_error(invoke(train_command, ["dcgan", *base, "--set", "width=3"]))
    assert "g_ch" in message and "z_dim" in message
    assert "not a valid int" in user_error(invoke(train_command, ["dcgan", *base, "--set", "g_ch=wide"]))
    assert "divisible" in user_error(invoke(train_command, ["biggan", *base, "--set", "z_dim=81"]))
    assert "d_cond must be" in user_error(invoke(train_command, ["cgan", *base, "--set", "d_cond=concat"]))
    assert "d_norm must be" in user_error(invoke(train_command, ["cgan", *base, "--set", "d_norm=layer"]))
    assert "d_mismatch must be" in user_error(invoke(train_command, ["cgan", *base, "--set", "d_mismatch=2"]))
    assert "loss must be one of" in user_error(
        invoke(train_command, ["cgan", *base, "--set", "loss=wasserstein"])
    )
    assert "--steps" in user_error(invoke(train_command, ["dcgan", *base, "--steps", "0"]))
    assert not list(tmp_path.iterdir())  # nothing started


def test_data_folder_with_the_wrong_layout(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(flat / "0.png")
    message = user_error(invoke(train_command, ["dcgan", "--preset", "smoke", "--data", flat]))
    assert str(flat) in message and "train/<class>/" in message and "airplane" in message
    message = user_error(invoke(train_command, ["dcgan", "--preset", "smoke", "--data", tmp_path / "nope"]))
    assert "nope" in message


def test_resume_rejects_another_arch_and_missing_checkpoints(
    smoke_runs: dict[str, Path], tmp_path: Path
) -> None:
    message = user_error(invoke(train_command, ["cgan", "--resume", smoke_runs["dcgan"] / "ckpt-2.pt"]))
    assert "dcgan checkpoint" in message and "cgan" in message
    assert "does not exist" in user_error(invoke(train_command, ["cgan", "--resume", tmp_path / "ckpt-9.pt"]))
    assert "no ckpt-" in user_error(invoke(train_command, ["cgan", "--resume", tmp_path]))
    assert "--steps" in user_error(invoke(train_command, ["cgan", "--resume", smoke_runs["cgan"]]))
    garbage = tmp_path / "ckpt-1.pt"
    for junk in (b"not a checkpoint", b"\x85"):  # b"\x85": the unpickler's IndexError, not UnpicklingError
        garbage.write_bytes(junk)
        assert "not a readable checkpoint" in user_error(
            invoke(sample_command, [garbage, "--out", tmp_path / "o"])
        )


def test_interrupted_checkpoint_save_keeps_the_previous_one(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save
    calls = []

    def failing_save(obj, f, *args, **kwargs):  # the 2nd checkpoint dies half-way through writing
        calls.append(1)
        if len(calls) == 2:
            f.write(b"half a checkpoint")
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", failing_save)
    args = ["dcgan", "--preset", "smoke", "--data", data_dir, "--out", tmp_path, "--ckpt-every", 1]
    result = invoke(train_command, args)
    assert isinstance(result.exception, OSError)
    run = newest(tmp_path)
    assert sorted(p.name for p in run.glob("*.pt*")) == ["ckpt-1.pt"]
    assert not list(run.glob(".*"))  # no temp file left behind
    assert checkpoint.load(run)["step"] == 1  # the run folder resolves to the last complete checkpoint


# --- pieces ----------------------------------------------------------------------------------------------


def test_concat_test_adds_the_test_split(data_dir: Path) -> None:
    images, labels = load_training_set(str(data_dir), concat_test=True)
    assert images.shape == (80, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.tolist() == [c for c in range(10) for _ in range(4)] * 2


def test_batch_sampler_state_is_the_number_of_batches_drawn() -> None:
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(10)
    a = BatchSampler(images, labels, batch_size=4, seed=1)
    seen = [a() for _ in range(5)]  # crosses epochs (2 batches per epoch)
    b = BatchSampler(images, labels, batch_size=4, seed=1, drawn=3)
    x, y = b()
    assert torch.equal(x, seen[3][0]) and torch.equal(y, seen[3][1])
    assert x.min() >= -1 and x.max() <= 1 and a.epoch == 2.5
    assert len(set(seen[0][1].tolist()) | set(seen[1][1].tolist())) == 8  # no repeats within an epoch


def test_diff_augment_keeps_shape_and_gradients() -> None:
    x = torch.randn(6, 3, 32, 32, requires_grad=True)
    y = diff_augment(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_cgan_spectral_discriminator_is_normalised_after_its_init() -> None:
    from torch.nn.utils import parametrize

    from trainers import cgan

    torch.manual_seed(0)
    D = cgan.Discriminator(cgan.Config(d_ch=8, d_norm="spectral"))
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(parametrize.is_parametrized(m, "weight") for m in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    # DCGAN's N(0, 0.02) init reached the raw weights (it would be lost if SN were added first)
    raw = convs[1].parametrizations.weight.original
    assert abs(raw.std().item() - 0.02) < 0.003
    x, y = torch.randn(4, 3, 32, 32), torch.arange(4)
    with torch.no_grad():
        for _ in range(30):  # power iterations run in training-mode forwards
            D(x, y)
    D.eval()
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("d_cond, in_ch", [("input", 4), ("projection", 3), ("both", 4)])
def test_cgan_discriminator_conditioning(d_cond: str, in_ch: int) -> None:
    from trainers import cgan

    torch.manual_seed(0)
    D = cgan.Discriminator(cgan.Config(d_ch=8, d_cond=d_cond)).eval()
    assert D.features[0].in_channels == in_ch  # the label plane is an input channel only when asked for
    x = torch.randn(1, 3, 32, 32).expand(3, -1, -1, -1)
    y = torch.tensor([0, 1, 2])
    with torch.no_grad():
        out = D(x, y)
        assert out.shape == (3,) and len(set(out.tolist())) == 3  # same image, three labels, three logits
        if d_cond == "projection":
            # the label enters only through the projection: logit differences are <E(a) - E(b), phi(x)>
            phi = D.features(x[:1]).mean(dim=(2, 3))[0]
            assert out[1] - out[0] == pytest.approx(
                ((D.project.weight[1] - D.project.weight[0]) * phi).sum().item(), abs=1e-5
            )


def test_minibatch_std_feature() -> None:
    from trainers.layers import MinibatchStd

    # 4 one-pixel samples, groups of 2: sample i is in group i % 2, so {0, 4} (std 2) and {1, 4} (std 1.5)
    h = torch.tensor([0.0, 1.0, 4.0, 4.0]).view(4, 1, 1, 1)
    out = MinibatchStd(2)(h)
    assert out.shape == (4, 2, 1, 1) and torch.equal(out[:, :1], h)
    assert out[:, 1].flatten().tolist() == pytest.approx([2.0, 1.5, 2.0, 1.5], abs=1e-6)
    # identical samples (a collapsed batch) give ~0; a batch of 6 with groups of 4 falls back to groups of 3
    same = MinibatchStd(4)(torch.ones(6, 3, 2, 2))
    assert same.shape == (6, 4, 2, 2) and same[:, 3].max().item() < 1e-3


def test_class_std_feature() -> None:
    from trainers.layers import ClassStd

    # one-pixel samples: label 0 holds {0, 4} (std 2), label 1 holds {1, 2, 3} (std sqrt(2/3)), label 2 one
    # sample (0: nothing to compare), label 3 none
    h = torch.tensor([0.0, 1.0, 4.0, 2.0, 3.0, 9.0]).view(6, 1, 1, 1)
    y = torch.tensor([0, 1, 0, 1, 1, 2])
    out = ClassStd(4)(h, y)
    assert out.shape == (6, 1, 1, 1)
    assert out.flatten().tolist() == pytest.approx([2.0, (2 / 3) ** 0.5, 2.0, (2 / 3) ** 0.5, (2 / 3) ** 0.5, 0.0],
                                                   abs=1e-4)  # fmt: skip
    # a generator that draws its label's class: small spread within a label; one that ignores it: large
    torch.manual_seed(0)
    centres = torch.randn(10, 8, 4, 4) * 3
    y = torch.arange(64) % 10
    faithful = centres[y] + 0.1 * torch.randn(64, 8, 4, 4)
    ignoring = centres[torch.randint(0, 10, (64,))] + 0.1 * torch.randn(64, 8, 4, 4)
    assert ClassStd(10)(faithful, y).mean() * 5 < ClassStd(10)(ignoring, y).mean()


def test_cgan_minibatch_std_discriminator_sees_the_batch() -> None:
    from trainers import cgan

    torch.manual_seed(0)
    D = cgan.Discriminator(cgan.Config(d_ch=8, d_mbstd=4)).eval()
    assert D.head.in_channels == 8 * 4 + 1
    x, y = torch.randn(8, 3, 32, 32), torch.zeros(8, dtype=torch.long)
    with torch.no_grad():  # the first image's logit depends on the other images in its group
        alone = D(x, y)[0]
        changed = x.clone()
        changed[2] = 0  # sample 2 shares sample 0's group (i % 2)
        assert D(changed, y)[0] != alone
    with pytest.raises(ValueError, match="d_mbstd"):
        cgan.Config(d_mbstd=-1)


@pytest.mark.parametrize("g_arch, d_arch", [("paper", "paper"), ("dcgan", "dcgan"), ("paper", "dcgan")])
@pytest.mark.parametrize("d_mbstd", [0, 4])
def test_acgan_nets_shapes(g_arch: str, d_arch: str, d_mbstd: int) -> None:
    from trainers import acgan

    torch.manual_seed(0)
    cfg = acgan.Config(g_ch=8, d_ch=8, g_arch=g_arch, d_arch=d_arch, d_mbstd=d_mbstd)
    G, D = acgan.Generator(cfg), acgan.Discriminator(cfg)
    x = G(torch.randn(8, cfg.z_dim), torch.arange(8))
    assert x.shape == (8, 3, 32, 32) and x.abs().max() <= 1
    source, classes = D(x)
    assert source.shape == (8,) and classes.shape == (8, 10)  # D keeps both heads whatever the backbone
    n_convs = sum(isinstance(m, nn.Conv2d) for m in D.features.modules())
    assert n_convs == (3 if d_arch == "dcgan" else 6)
    if d_arch == "dcgan":
        assert D.source.in_channels == 8 * 4 + (d_mbstd > 0) and D.classes.in_features == 8 * 4 * 4 * 4
        assert not any(isinstance(m, nn.Dropout) for m in D.modules())


def test_acgan_minibatch_std_feeds_the_source_head_only() -> None:
    from trainers import acgan

    torch.manual_seed(0)
    D = acgan.Discriminator(acgan.Config(d_ch=8, d_arch="dcgan", d_mbstd=4)).eval()
    x = torch.randn(8, 3, 32, 32)
    changed = x.clone()
    changed[2] = 0  # sample 2 shares sample 0's group (i % 2)
    with torch.no_grad():
        (s, c), (s2, c2) = D(x), D(changed)
    assert s2[0] != s[0]  # the source logit of image 0 depends on its group
    assert torch.equal(c2[0], c[0])  # its class logits do not


@pytest.mark.parametrize("d_cls_fake", [True, False])
def test_acgan_d_class_loss_on_fakes_is_an_option(d_cls_fake: bool) -> None:
    from trainers import acgan
    from trainers.gan import make_nets

    torch.manual_seed(0)
    cfg = acgan.Config(
        g_ch=8, d_ch=8, g_arch="dcgan", d_arch="dcgan", lr_g=0.0, lr_d=0.0, d_cls_fake=d_cls_fake
    )
    nets = make_nets(acgan, cfg, torch.device("cpu"))  # learning rates 0: the nets stay as they are
    x, y = torch.rand(8, 3, 32, 32) * 2 - 1, torch.arange(8) % 10
    logged = acgan.step(nets, cfg, lambda: (x, y), 0)
    real_only = F.cross_entropy(nets.D(x)[1], y).item()  # train-mode BN: the same batch, the same logits
    if d_cls_fake:
        assert logged["loss_cls"] > real_only + 0.1  # plus the fakes' cross-entropy (about log 10)
    else:
        assert logged["loss_cls"] == pytest.approx(real_only, rel=1e-5)


def test_dcgan_minibatch_std_discriminator_sees_the_batch() -> None:
    from trainers import dcgan

    torch.manual_seed(0)
    D = dcgan.Discriminator(dcgan.Config(d_ch=8, d_mbstd=4)).eval()
    assert D.head.in_channels == 8 * 4 + 1
    x = torch.randn(8, 3, 32, 32)
    changed = x.clone()
    changed[2] = 0  # sample 2 shares sample 0's group (i % 2)
    with torch.no_grad():
        assert D(changed)[0] != D(x)[0]
    with pytest.raises(ValueError, match="d_mbstd"):
        dcgan.Config(d_mbstd=-1)


def test_acgan_spectral_discriminator_has_no_batch_norm() -> None:
    from torch.nn.utils import parametrize

    from trainers import acgan

    for d_arch in ("paper", "dcgan"):
        D = acgan.Discriminator(acgan.Config(d_ch=8, d_arch=d_arch, d_norm="spectral"))
        layers = [m for m in D.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        assert all(parametrize.is_parametrized(m, "weight") for m in layers)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_acgan_defaults_are_the_paper_nets() -> None:
    from trainers import acgan

    cfg = acgan.Config()
    assert (cfg.g_arch, cfg.d_arch, cfg.d_norm, cfg.loss, cfg.cls_weight, cfg.d_mbstd, cfg.ema_decay) == (
        "paper", "paper", "batch", "bce", 1.0, 0, 0.0
    )  # fmt: skip
    D = acgan.Discriminator(cfg)
    assert isinstance(D.source, nn.Linear) and D.source.in_features == 512 * 4 * 4
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in D.modules()) == 6


@pytest.mark.parametrize(
    "setting, match",
    [
        (dict(d_arch="resnet"), "d_arch"),
        (dict(g_arch="x"), "g_arch"),
        (dict(d_norm="layer"), "d_norm"),
        (dict(loss="wgan"), "loss"),
        (dict(d_mbstd=-1), "d_mbstd"),
        (dict(dropout=1.0), "dropout"),
        (dict(cls_weight=-0.1), "cls_weight"),
    ],
)
def test_acgan_bad_settings(setting: dict, match: str) -> None:
    from trainers import acgan

    with pytest.raises(ValueError, match=match):
        acgan.Config(**setting)


def test_acgan_bad_setting_is_a_user_error(data_dir: Path, tmp_path: Path) -> None:
    args = ["acgan", "--preset", "smoke", "--data", data_dir, "--out", tmp_path, "--set", "d_arch=resnet"]
    assert "d_arch" in user_error(invoke(train_command, args))
