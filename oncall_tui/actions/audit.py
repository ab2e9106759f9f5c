"""The audit log: append-only JSON lines, hash-chained, fsynced per record.

Every stage of every action is one line, written and fsynced before the next
stage starts, so after a crash (even ``kill -9``) the log says exactly how far
an action got. Each record carries ``prev`` (the hash of the record before it)
and ``hash`` (SHA-256 of its own canonical JSON without ``hash``), so
``verify`` finds an edited, removed or reordered line, and a torn last line.

Writers take an exclusive ``flock`` for the append, so two consoles acting at
once cannot interleave half lines. Text put in a record passes the caller's
redactor first: secrets never reach the disk.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from oncall_tui.errors import ActionError, DataError

GENESIS = "0" * 64
FORMAT_VERSION = 1

_encoder = msgspec.json.Encoder(order="deterministic")


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    v: int = FORMAT_VERSION
    seq: int
    ts: str  # RFC 3339, UTC
    action_id: str
    key: str  # idempotency key
    stage: str
    actor: str
    env: str
    kind: str
    route: str
    data: dict[str, Any] = {}
    prev: str
    hash: str = ""


class Problem(msgspec.Struct, frozen=True):
    line: int
    kind: str  # "torn" | "unreadable" | "edited" | "chain" | "sequence"
    message: str


class VerifyReport(msgspec.Struct, frozen=True):
    path: str
    records: int
    ok: bool
    problems: list[Problem]


def _digest(fields: dict[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(_encoder.encode(body)).hexdigest()


def _split(raw: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines, and whatever follows the last newline (a torn tail)."""
    if not raw:
        return [], b""
    *lines, tail = raw.split(b"\n")
    return lines, tail


class AuditLog:
    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        # Record times come from here (tests pin it so a rendered log holds still).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------ writing

    def append(
        self,
        *,
        action_id: str,
        key: str,
        stage: str,
        actor: str,
        env: str,
        kind: str,
        route: str,
        data: dict[str, Any] | None = None,
    ) -> AuditRecord:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            prev, seq = GENESIS, 0
            if size:
                last = _last_line(fd, size)
                if last is None:
                    raise ActionError(
                        f"audit log {self.path} ends in a torn record (a crash mid-write)",
                        hint="'oncall-tui audit verify' shows it; 'oncall-tui audit repair' "
                        "moves the torn bytes aside",
                    )
                try:
                    tail = msgspec.json.decode(last, type=AuditRecord)
                except msgspec.DecodeError as exc:
                    raise ActionError(
                        f"audit log {self.path}: last record is unreadable",
                        hint="run 'oncall-tui audit verify'",
                    ) from exc
                prev, seq = tail.hash, tail.seq + 1
            fields: dict[str, Any] = msgspec.to_builtins(
                AuditRecord(
                    seq=seq,
                    ts=self.clock().isoformat(timespec="microseconds"),
                    action_id=action_id,
                    key=key,
                    stage=stage,
                    actor=actor,
                    env=env,
                    kind=kind,
                    route=route,
                    data=data or {},
                    prev=prev,
                )
            )
            fields["hash"] = _digest(fields)
            record = msgspec.convert(fields, AuditRecord)
            line = _encoder.encode(fields) + b"\n"
            os.write(fd, line)
            os.fsync(fd)
            return record
        finally:
            os.close(fd)  # closing drops the flock

    @contextmanager
    def key_lock(self, key: str) -> Iterator[None]:
        """Exclusive per-key lock beside the log: one console acts on a key at a time.

        It never waits (a TUI must not freeze): a second console is told to
        re-run later, when the log will say how the first one ended.
        """
        folder = self.path.parent / f"{self.path.name}.locks"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ActionError(
                    f"action {key} is being run by another console right now",
                    hint="re-run when it ends: the audit log will say how far it got",
                ) from None
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------ reading

    def records(self) -> list[AuditRecord]:
        """Every readable record; a torn tail is skipped (``verify`` reports it)."""
        return list(self._iter())

    def _iter(self) -> Iterator[AuditRecord]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise DataError(f"audit log {self.path}: cannot read: {exc.strerror}") from exc
        lines, _tail = _split(raw)
        for number, line in enumerate(lines, 1):
            try:
                yield msgspec.json.decode(line, type=AuditRecord)
            except msgspec.DecodeError as exc:
                raise DataError(
                    f"audit log {self.path}:{number}: unreadable record",
                    hint="run 'oncall-tui audit verify'",
                ) from exc

    def last_stages(self) -> dict[str, str]:
        """action id -> the last stage it reached, oldest action first: how far
        each one got (an interrupted action ends at ``attempt`` or ``executed``)."""
        last: dict[str, str] = {}
        for r in self._iter():
            last[r.action_id] = r.stage
        return last

    def for_key(self, key: str) -> list[AuditRecord]:
        return [r for r in self._iter() if r.key == key]

    def for_action(self, action_id: str) -> list[AuditRecord]:
        return [r for r in self._iter() if r.action_id == action_id]

    def repair_torn_tail(self) -> Path | None:
        """Move a torn last record (a write cut off by a crash) into a sidecar
        file and cut the log back to its last whole line. Nothing else is ever
        changed; returns the sidecar, or None when there was nothing torn.
        A torn record was never durable, so the stage it began never started."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            raw = os.pread(fd, size, 0)
            cut = raw.rfind(b"\n") + 1
            if cut == size:
                return None
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            sidecar = self.path.with_name(f"{self.path.name}.torn-{stamp}")
            sidecar.write_bytes(raw[cut:])
            os.ftruncate(fd, cut)
            os.fsync(fd)
            return sidecar
        finally:
            os.close(fd)

    # ------------------------------------------------------------ checking

    def verify(self) -> VerifyReport:
        problems: list[Problem] = []
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return VerifyReport(str(self.path), 0, True, [])
        lines, tail = _split(raw)
        prev, expected_seq, count = GENESIS, 0, 0
        for number, line in enumerate(lines, 1):
            try:
                fields = msgspec.json.decode(line)
                record = msgspec.convert(fields, AuditRecord)
            except (msgspec.DecodeError, msgspec.ValidationError):
                problems.append(Problem(number, "unreadable", f"line {number}: not a record"))
                prev, expected_seq = "?", -1
                continue
            count += 1
            if _digest(fields) != record.hash:
                problems.append(
                    Problem(number, "edited", f"line {number}: content does not match its hash")
                )
            if prev not in ("?", record.prev):
                problems.append(
                    Problem(
                        number,
                        "chain",
                        f"line {number}: does not follow the record before it "
                        "(a line was removed, inserted or moved)",
                    )
                )
            if expected_seq >= 0 and record.seq != expected_seq:
                problems.append(
                    Problem(
                        number,
                        "sequence",
                        f"line {number}: seq {record.seq}, expected {expected_seq}",
                    )
                )
            prev, expected_seq = record.hash, record.seq + 1
        if tail:
            number = len(lines) + 1
            problems.append(
                Problem(
                    number,
                    "torn",
                    f"line {number}: torn last record ({len(tail)} bytes, no newline): "
                    "a write was cut off",
                )
            )
        return VerifyReport(str(self.path), count, not problems, problems)


def _last_line(fd: int, size: int) -> bytes | None:
    """The last complete line, or None when the file ends without a newline."""
    chunk = 4096
    buf = b""
    pos = size
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        if not buf.endswith(b"\n"):
            return None
        body = buf[:-1]
        cut = body.rfind(b"\n")
        if cut >= 0:
            return body[cut + 1 :]
    return buf[:-1] if buf.endswith(b"\n") else None
