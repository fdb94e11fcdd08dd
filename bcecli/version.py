"""The one place the version is written: pyproject.toml reads it from here (setuptools' dynamic
version), and reports and ``bce --version`` print it without an importlib.metadata look-up,
which costs about 8 ms of start-up."""

__version__ = "0.1.0"
