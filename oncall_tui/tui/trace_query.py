"""The traces screen's search line: a few words, parsed into what to do.

    all                                  every recent trace (clears the search)
    route:NAME                           traces of one route
    errors                               traces with an error span
    finding:KIND                         traces whose analysis has a finding of that kind
                                         (any part of the kind, any case: ``cycle``)
    id:HEX  or a bare 16-32 digit HEX    open that trace
    file:PATH                            open a trace file (its biggest trace)

``route:``, ``errors`` and ``finding:`` combine (``route:support-chat errors
finding:reentrancy_cycle``); ``id:`` and ``file:`` open one thing and stand
alone. Words may be quoted (``file:"my trace.json"``); a backslash is just a
character. A word that is none of
these raises ``QueryError`` naming it. Pure: the traces screen calls
``parse`` and does the searching; the unit tests call it without a UI.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

HEX = frozenset("0123456789abcdefABCDEF")
KEYS = ("route:", "errors", "finding:", "id:", "file:", "all")


class QueryError(ValueError):
    """A query we cannot read; ``token`` is the word at fault (None: the whole line)."""

    def __init__(self, message: str, token: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.token = token


@dataclass(frozen=True)
class Search:
    """Filters for the list of recent traces; all unset is every trace."""

    route: str | None = None
    errors_only: bool = False
    finding: str | None = None

    def text(self) -> str:
        """The query that gives this search back (shown in the title, prefilled in the line)."""
        words = []
        if self.route is not None:
            words.append(f"route:{_quoted(self.route)}")
        if self.errors_only:
            words.append("errors")
        if self.finding is not None:
            words.append(f"finding:{_quoted(self.finding)}")
        return " ".join(words) or "all"


@dataclass(frozen=True)
class OpenTrace:
    trace_id: str

    def text(self) -> str:
        return f"id:{self.trace_id}"


@dataclass(frozen=True)
class OpenFile:
    path: str

    def text(self) -> str:
        return f"file:{_quoted(self.path)}"


Query = Search | OpenTrace | OpenFile


def _quoted(value: str) -> str:
    return shlex.quote(value) if value else "''"


def _words(text: str) -> list[str]:
    # shlex.split, but a backslash is an ordinary character: a pasted "\x1b"
    # or a Windows path keeps it. Quotes still group words.
    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.escape = ""
    lex.commenters = ""
    return list(lex)


def is_trace_id(word: str, *, bare: bool = False) -> bool:
    # A bare word must look like a whole trace id (64 or 128 bits), so a typo
    # such as "cafe" is an error, not a lookup; after id: any length will do.
    low = 16 if bare else 1
    return low <= len(word) <= 32 and all(c in HEX for c in word)


_ONE_EACH = {"route": "route", "finding": "finding kind"}


def parse(text: str) -> Query:
    """``text`` as typed -> a ``Search`` or an open; ``QueryError`` names the bad word."""
    try:
        words = _words(text)
    except ValueError as exc:  # an unclosed quote
        raise QueryError(f"cannot read the query: {exc}") from None
    if not words:
        return Search()
    single: dict[str, str] = {}  # route:, finding: (one of each)
    errors_only = False
    opens: list[tuple[str, OpenTrace | OpenFile]] = []
    filters: list[str] = []
    for word in words:
        key, colon, value = word.partition(":")
        key = key.lower()
        if not colon and key == "all":
            if len(words) > 1:
                raise QueryError("'all' clears the search; it stands alone", word)
            return Search()
        if not colon and key == "errors":
            errors_only = True
            filters.append(word)
        elif not colon and is_trace_id(word, bare=True):
            opens.append((word, OpenTrace(word.lower())))
        elif colon and key == "id":
            if not is_trace_id(value):
                raise QueryError(f"'{word}': a trace id is 1 to 32 hex digits", word)
            opens.append((word, OpenTrace(value.lower())))
        elif colon and key == "file":
            if not value:
                raise QueryError(f"'{word}': name the file after file:", word)
            opens.append((word, OpenFile(value)))
        elif colon and key in _ONE_EACH:
            noun = _ONE_EACH[key]
            if not value:
                raise QueryError(f"'{word}': name the {noun} after {key}:", word)
            if single.get(key, value) != value:
                raise QueryError(
                    f"'{word}': one {noun} at a time (already {key}:{single[key]})", word
                )
            single[key] = value
            filters.append(word)
        else:
            raise QueryError(f"unknown word '{word}' (try {', '.join(KEYS)})", word)
    if opens:
        word, target = opens[0]
        if len(opens) > 1 or filters:
            extra = opens[1][0] if len(opens) > 1 else filters[0]
            raise QueryError(f"'{word}' opens one trace; '{extra}' cannot go with it", extra)
        return target
    return Search(route=single.get("route"), errors_only=errors_only, finding=single.get("finding"))
