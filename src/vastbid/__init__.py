"""vastbid: an unattended daemon that buys GPU capacity on the Vast.ai marketplace."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vastbid")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
