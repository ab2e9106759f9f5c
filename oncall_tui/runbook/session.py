"""Incident sessions: an append-only timeline that IS the state.

One JSON object per line, written and fsynced before the engine goes on, so a
crash at any point leaves a timeline that says exactly how far the run got.
The first event (``opened``) carries the whole runbook as it was, so a session
resumes with the runbook it started with even if the file changed since.
Resuming replays the events; a torn last line (killed mid-write) is dropped
and noted, never allowed to lose the lines before it.

Event types: opened, step_started, manual, answer, check, check_attempt,
decision, action_started, action, note, diagnosis, mitigated, advanced, closed.
Every event has ``seq``, ``at`` (UTC, RFC 3339) and ``type``; ``advanced``
says which step comes next (``None``: the runbook is finished).

Secrets never reach the timeline: every event passes the session's redactor
(the config's secrets and URL userinfo) before it is written, and events read
back pass it again, so a file written by an older version exports clean too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from oncall_tui.errors import DataError, NotFoundError, UsageError
from oncall_tui.redact import Redactor
from oncall_tui.runbook.format import Runbook


class Event(msgspec.Struct, frozen=True, omit_defaults=True):
    seq: int
    at: str
    type: str
    step: str | None = None
    data: dict[str, Any] = {}


_encoder = msgspec.json.Encoder(order="deterministic")
_decoder = msgspec.json.Decoder(Event)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(now: datetime) -> str:
    return f"inc-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def parse_at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Session:
    """An incident's timeline on disk. Append-only; ``events`` is what is on disk."""

    def __init__(
        self,
        path: Path,
        events: list[Event],
        *,
        torn: str | None = None,
        redactor: Redactor | None = None,
    ):
        self.path = path
        self.redactor = redactor or Redactor()  # even empty, it masks URL userinfo
        self.events = [self._clean(e) for e in events]
        self.torn = torn  # what was dropped from a torn last line, if anything
        self.clock: Callable[[], datetime] = utcnow

    def _clean(self, event: Event) -> Event:
        data = self.redactor.scrub(event.data)
        return event if data == event.data else msgspec.structs.replace(event, data=data)

    @property
    def id(self) -> str:
        return self.path.stem

    @classmethod
    def create(
        cls,
        directory: Path,
        runbook: Runbook,
        inputs: dict[str, Any],
        *,
        environment: str | None,
        clock: Callable[[], datetime] = utcnow,
        incident_id: str | None = None,
        redactor: Redactor | None = None,
    ) -> Session:
        directory.mkdir(parents=True, exist_ok=True)
        now = clock()
        path = directory / f"{incident_id or new_id(now)}.jsonl"
        if path.exists():
            raise DataError(f"incident {path.stem} already exists at {path}")
        session = cls(path, [], redactor=redactor)
        session.clock = clock
        session.append(
            "opened",
            runbook=msgspec.to_builtins(runbook),
            inputs=inputs,
            environment=environment,
        )
        return session

    @classmethod
    def open(cls, path: Path, redactor: Redactor | None = None) -> Session:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no incident session at {path}") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from exc
        events: list[Event] = []
        torn: str | None = None
        cut_at: int | None = None
        offset = 0
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, 1):
            start, offset = offset, offset + len(line) + 1
            if not line.strip():
                continue
            try:
                events.append(_decoder.decode(line))
            except msgspec.DecodeError as exc:
                if all(not rest.strip() for rest in lines[number:]):
                    torn = f"line {number} was cut off mid-write and is ignored"
                    cut_at = start
                    break
                raise DataError(f"{path}:{number}: not a timeline event: {exc}") from exc
        if not events or events[0].type != "opened":
            raise DataError(f"{path}:1: an incident timeline starts with an 'opened' event")
        session = cls(path, events, torn=torn, redactor=redactor)
        if cut_at is not None:
            # Drop only the torn fragment so the next append starts on a clean line.
            os.truncate(path, cut_at)
        return session

    def append(self, type_: str, step: str | None = None, **data: Any) -> Event:
        event = Event(
            seq=len(self.events) + 1,
            at=self.clock().isoformat(),
            type=type_,
            step=step,
            data=self.redactor.scrub(data),
        )
        line = _encoder.encode(event) + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.events.append(event)
        return event

    # ------------------------------------------------------------ reading

    @property
    def opened(self) -> Event:
        return self.events[0]

    def runbook(self) -> Runbook:
        return msgspec.convert(self.opened.data["runbook"], Runbook)

    @property
    def inputs(self) -> dict[str, Any]:
        inputs: dict[str, Any] = self.opened.data.get("inputs", {})
        return inputs

    @property
    def environment(self) -> str | None:
        env: str | None = self.opened.data.get("environment")
        return env

    @property
    def closed(self) -> bool:
        return any(e.type == "closed" for e in self.events)

    def of_type(self, *types: str) -> list[Event]:
        return [e for e in self.events if e.type in types]


@contextlib.contextmanager
def hold(path: Path) -> Iterator[None]:
    """Hold an incident for one driver, before it is even read. Two responders
    resuming the same incident at once would interleave their steps (and one
    could take the other's half-written line for a torn one); the second is
    told instead. The lock is advisory (flock) and dies with the process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"incident {path.stem} is being driven by another process right now",
                hint="wait for it to stop, or stop it first",
            ) from None
        yield
    finally:
        os.close(fd)


def incidents_dir(state: Path) -> Path:
    return state / "incidents"


def find(directory: Path, incident_id: str) -> Path:
    path = directory / f"{incident_id}.jsonl"
    if path.exists():
        return path
    known = sorted(p.stem for p in directory.glob("*.jsonl")) if directory.is_dir() else []
    matches = [k for k in known if k.startswith(incident_id)]
    if len(matches) == 1:
        return directory / f"{matches[0]}.jsonl"
    raise NotFoundError(
        f"no incident {incident_id!r} in {directory}",
        hint=f"known: {', '.join(known[-5:])}" if known else "none recorded yet",
    )


def list_sessions(directory: Path, redactor: Redactor | None = None) -> list[Session]:
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.jsonl")):
        try:
            out.append(Session.open(path, redactor))
        except DataError:
            continue  # listed by `incident list` as unreadable elsewhere; never fatal
    return out
