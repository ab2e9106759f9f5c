"""Keep secrets out of everything the tool writes or says.

One redactor for the whole project. A remote system may echo a header back in
an error body (proxies often do), and a URL in the config may carry
``user:password@``. ``Redactor.text`` replaces the value of each secret it
knows and the userinfo of every URL; it is applied where outside text enters
(``sources/http.py``'s error translation), to every error message
(``errors.py`` strips URL userinfo), to what the action lifecycle records
(``actions/``) and to incident timelines (``runbook/session.py``).

Secrets come from the config: a field ending in ``_env`` names an environment
variable; the password of a URL option and a value under a key that looks like
a secret (pasted into the file by mistake) count too. At the network boundary
the request itself says what was sent: its credential headers.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from oncall_tui.errors import OncallError

MASK = "****"
_MIN_SECRET = 4  # shorter values would mask ordinary words

# scheme://userinfo@ -> scheme://****@ ; userinfo stops at the first / ? # @ or space.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@'\"<>]+@")

SECRET_WORDS = ("token", "secret", "password", "passwd", "api_key", "apikey")
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization")


def strip_userinfo(text: str) -> str:
    """``http://user:secret@host`` -> ``http://****@host``, anywhere in ``text``."""
    if "@" not in text:
        return text
    return _USERINFO.sub(rf"\g<1>{MASK}@", text)


def looks_secret(key: str) -> bool:
    low = key.lower()
    return any(word in low for word in SECRET_WORDS)


def _url_password(value: str) -> list[str]:
    if "://" not in value or "@" not in value:
        return []
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return []
    return [p for p in (parts.password, unquote(parts.password or "")) if p]


def _credential_forms(value: str) -> list[str]:
    """What a server might echo of a header value: the credential after the
    scheme word (``Bearer ****`` stays readable), or the whole value if it has
    none, and a Basic credential decoded."""
    scheme, _, cred = value.strip().partition(" ")
    forms = [cred.strip()] if cred.strip() else [value]
    if cred and scheme.lower() == "basic":
        try:
            plain = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            plain = ""
        if plain:
            forms.append(plain)
            forms.append(plain.partition(":")[2])
    return forms


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    @classmethod
    def from_sections(
        cls, sections: Iterable[Mapping[str, Mapping[str, Any]]], environ: Mapping[str, str]
    ) -> Redactor:
        """Every secret the given adapter sections configure: the value of each
        ``*_env`` variable, URL passwords, and values under secret-looking keys."""
        values: list[str] = []
        for section in sections:
            for entry in section.values():
                for key, value in entry.items():
                    if not isinstance(value, str):
                        continue
                    if key.endswith("_env"):
                        if environ.get(value):
                            values.append(environ[value])
                    elif looks_secret(key):
                        values.append(value)
                    else:
                        values.extend(_url_password(value))
        return cls(values)

    @classmethod
    def for_request(cls, headers: Iterable[tuple[str, str]], url: str) -> Redactor:
        """What a request sent that a server could echo: credential headers
        (and any header named like a key or token) and the URL's password.
        Plain data in, so this module stays free of httpx (core imports errors)."""
        values: list[str] = []
        for name, value in headers:
            low = name.lower()
            if low == "cookie":
                values.extend(c.partition("=")[2] for c in value.split(";"))
            elif low in _CREDENTIAL_HEADERS or looks_secret(low) or low.endswith("-key"):
                values.extend(_credential_forms(value))
        values.extend(_url_password(url))
        return cls(values)

    def merged(self, other: Redactor) -> Redactor:
        return Redactor([*self.secrets, *other.secrets])

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return strip_userinfo(value)

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
