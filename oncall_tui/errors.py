"""The project's one exception hierarchy.

Every layer raises these, so the CLI and the TUI show one kind of message and a
script sees one set of exit codes. Adapters translate httpx/websockets errors at
the boundary with ``raise ... from exc``::

    OncallError                     exit 1 unless a subclass says otherwise
    ├── UsageError                  exit 2: bad arguments
    ├── ConfigError                 exit 2: config file missing, unreadable or invalid
    │   └── MissingSecretError      a token_env names an unset variable
    ├── PluginError                 exit 2: a plugin is unknown or failed to load
    ├── DataError                   exit 2: input we cannot read (trace file, runbook)
    │   └── TraceFormatError        a trace file in no format we know, or broken
    ├── SourceError                 exit 3: an outside system failed us
    │   ├── UnreachableError        connect/read timeout, refused, DNS
    │   ├── AuthError               401/403 from the system
    │   ├── NotFoundError           404 for a named object (trace, route, flag)
    │   └── RemoteError             any other non-2xx, with status and body excerpt
    ├── UnsupportedError            exit 2: the adapter lacks this capability
    └── ActionError                 exit 4: an action was refused or did not verify
        ├── ReadOnlyError           exit 2: the environment is read-only
        └── VerificationError       applied, but the read-back never matched

Messages are one line, name what and where, and never contain a secret: the
userinfo of any URL in a message or hint (``http://user:secret@host``) is
masked here, whoever built it; configured secret values are masked where
outside text enters (``sources/http.py``) with the project's one redactor.
"""

from __future__ import annotations

from typing import ClassVar

from oncall_tui.redact import strip_userinfo


class OncallError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = strip_userinfo(message)
        super().__init__(message)
        self.message = message
        self.hint = None if hint is None else strip_userinfo(hint)

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class UsageError(OncallError):
    exit_code = 2


class ConfigError(OncallError):
    exit_code = 2


class MissingSecretError(ConfigError):
    pass


class PluginError(OncallError):
    exit_code = 2


class DataError(OncallError):
    exit_code = 2


class TraceFormatError(DataError):
    pass


class SourceError(OncallError):
    exit_code = 3


class UnreachableError(SourceError):
    pass


class AuthError(SourceError):
    pass


class NotFoundError(SourceError):
    pass


class RemoteError(SourceError):
    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class UnsupportedError(OncallError):
    exit_code = 2


class ActionError(OncallError):
    exit_code = 4


class ReadOnlyError(ActionError):
    exit_code = 2  # a usage matter: this environment offers no actions at all


class VerificationError(ActionError):
    pass
