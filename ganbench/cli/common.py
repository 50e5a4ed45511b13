"""What the `ganbench` command modules share: the error-to-exit-code group and the extractor options."""

from __future__ import annotations

import errno

import click

from ganbench.atomic import refused
from ganbench.errors import UserError
from ganbench.extractors import RESIZE_POLICIES
from ganbench.threads import set_threads


class Group(click.Group):
    """Turns a UserError anywhere below into one line on stderr and exit code 2; so too a full (or read-only)
    file system at a write that did not name its place (every write site should)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)
        except OSError as e:
            err = None if e.errno == errno.EACCES else refused(e, e.filename or "to disk")
            if err is None:  # EACCES may be a read's: left as it is
                raise
            click.echo(f"error: {err}", err=True)
            ctx.exit(2)


def extractor_options(f):
    opts = [
        click.option("--backend", type=click.Choice(["auto", "torch", "onnxruntime"]), default="auto",
                     show_default=True, help="auto: CUDA torch if present, else onnxruntime on CPU."),
        click.option("--resize", "resize", type=click.Choice(RESIZE_POLICIES), default="legacy-tf",
                     show_default=True, help="legacy-tf: TF1 bilinear (torch-fidelity); clean: PIL bicubic "
                     "(clean-fid); torch-bilinear: F.interpolate (pytorch-fid, clean-fid legacy_pytorch); "
                     "pil-bilinear: PIL bilinear on uint8 (torchvision Resize)."),
        click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True),
        click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
                     help="FID Inception weights file (else GANBENCH_INCEPTION_WEIGHTS, the cache, download)."),
        click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
                     help="CIFAR-10 location for cifar10-train/-test (else GANBENCH_DATA, else torchvision)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --n/--ref-n subsets."),
        click.option("--strict", is_flag=True, help="Non-image files among images are an error, not skipped."),
        click.option("--threads", type=click.IntRange(1), default=None, expose_value=False, is_eager=True,
                     callback=lambda ctx, param, n: n and set_threads(n),
                     help="CPU threads of the networks [default: OMP_NUM_THREADS, else every core]; e.g. 1 "
                     "beside a training run on 2 cores."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def make_extractor(backend: str, resize: str, batch_size: int, inception_weights: str | None):
    from ganbench import weights
    from ganbench.extractors.inception import InceptionExtractor

    return InceptionExtractor(weights.resolve(inception_weights), backend=backend, resize_policy=resize,
                              batch_size=batch_size)  # fmt: skip
