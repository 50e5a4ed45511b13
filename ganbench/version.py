"""The version, in a module of its own so that every module can read it without importing the package
facade (ganbench/__init__.py, which exposes the API on top of everything else)."""

__version__ = "0.1.0"
