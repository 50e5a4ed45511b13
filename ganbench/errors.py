"""Errors a user can cause. The CLI turns them into one line on stderr and exit code 2."""

import os
import sys


def _quiet() -> bool:
    """Ranks > 0 under torchrun print nothing: rank 0 speaks for the run."""
    return os.environ.get("RANK", "0") != "0"


class UserError(ValueError):
    """Bad input: a missing path, a corrupt image, weights missing offline... (a ValueError, so that API
    callers who catch ValueError catch it too)

    The message is one line that names the thing and the fix.
    """


def warn(message: str) -> None:
    """Print a one-line warning to stderr (kept in one place so tests can capture it)."""
    if _quiet():
        return
    print(f"warning: {message}", file=sys.stderr)


def note(message: str) -> None:
    """Print a one-line progress note to stderr ("fetched ...", "wrote ..."): never to stdout, which
    carries the command's result (a path, JSON)."""
    if _quiet():
        return
    print(message, file=sys.stderr)
