"""Keep secrets out of everything the lifecycle writes or says.

Adapters already keep tokens out of their messages, but a remote system may
echo a header back in an error body. Every string bound for the audit log, a
result, or an error message passes through ``Redactor.scrub`` first, which
replaces the value of each secret the config names (``*_env`` fields).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from oncall_tui.errors import OncallError

MASK = "****"
_MIN_SECRET = 4  # shorter values would mask ordinary words


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    @classmethod
    def from_sections(
        cls, sections: Iterable[Mapping[str, Mapping[str, Any]]], environ: Mapping[str, str]
    ) -> Redactor:
        """Every value named by an ``*_env`` option of the given adapter sections."""
        values: list[str] = []
        for section in sections:
            for entry in section.values():
                for key, name in entry.items():
                    if key.endswith("_env") and isinstance(name, str) and environ.get(name):
                        values.append(environ[name])
        return cls(values)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def error(self, exc: OncallError) -> OncallError:
        """The same error with its message and hint scrubbed (in place)."""
        exc.message = self.text(exc.message)
        if exc.hint is not None:
            exc.hint = self.text(exc.hint)
        exc.args = (exc.message,)
        return exc
