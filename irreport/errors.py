"""The exceptions irreport raises; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class IrreportError(Exception):
    """Root of every error that irreport reports to the user instead of a traceback."""

    exit_code = 2


class ConfigurationError(IrreportError):
    """A setting, option or configuration file value is invalid or missing."""


class ParameterError(ConfigurationError):
    """A query parameter value cannot be bound as a KQL literal."""


class QueryPackError(IrreportError):
    """A query file is malformed; carries the file and line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class SourceError(IrreportError):
    """A data source failed: cannot be opened, read or queried."""

    def __init__(self, message: str, source: str | None = None, query_id: str | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.source = source
        self.query_id = query_id
        self.status = status


class AuthenticationError(SourceError):
    """Sign-in to Microsoft Entra ID failed or a token was rejected."""


class UnsupportedQueryError(SourceError):
    """The offline engine cannot run a query; the message names the construct."""


class RenderError(IrreportError):
    """The dossier could not be rendered or written."""
