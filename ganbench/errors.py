"""Errors a user can cause. The CLI turns them into one line on stderr and exit code 2."""


class UserError(Exception):
    """Bad input: a missing path, a corrupt image, weights missing offline...

    The message is one line that names the thing and the fix.
    """


def warn(message: str) -> None:
    """Print a one-line warning to stderr (kept in one place so tests can capture it)."""
    import sys

    print(f"warning: {message}", file=sys.stderr)
