"""irreport: incident dossiers from Microsoft Defender for Endpoint telemetry."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("irreport")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
