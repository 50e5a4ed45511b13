"""ganbench: one-pass GAN evaluation for CIFAR-10.

    inputs/ (anything -> ImageSet) -> extractors/ (one network pass, cached) -> metrics/ (registered pure
    functions) -> scoring.py (one record) -> results store -> report/ (site) and check.py (the gate)

cli/ is the composition root: the only module that imports the trainers, which depend on ganbench and
never the reverse. api.py is the Python API (ganbench.score, Evaluator, Result) over the same pipeline.
"""

from typing import Any

from ganbench.errors import UserError
from ganbench.version import __version__

__all__ = ["Evaluator", "Result", "UserError", "score", "__version__"]
_API = ("Evaluator", "Result", "score")


def __getattr__(name: str) -> Any:
    # the API pulls in numpy and torch: imported on first use, so `ganbench --help` stays fast
    if name in _API:
        from ganbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")
