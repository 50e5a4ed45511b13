"""Errors a user can cause. The CLI turns them into one line on stderr and exit code 2."""

import sys


class UserError(ValueError):
    """Bad input: a missing path, a corrupt image, weights missing offline... (a ValueError, so that API
    callers who catch ValueError catch it too)

    The message is one line that names the thing and the fix.
    """


def warn(message: str) -> None:
    """Print a one-line warning to stderr (kept in one place so tests can capture it)."""
    print(f"warning: {message}", file=sys.stderr)


def note(message: str) -> None:
    """Print a one-line progress note to stderr ("fetched ...", "wrote ..."): never to stdout, which
    carries the command's result (a path, JSON)."""
    print(message, file=sys.stderr)
