"""bce: a loss doctor for classifier outputs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bcecli")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
