"""The audit log: append-only JSON lines, hash-chained, fsynced per record.

Each action stage is written (and fsynced) before the next stage starts, so
after a crash the log says exactly how far an action got. Each record holds
the SHA-256 of the previous record's line, so ``verify`` finds an edited,
removed or reordered line, and a torn last line (a crash mid-write).
Appends take an exclusive ``flock``: two consoles may share one log.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

GENESIS = "0" * 64
_encoder = msgspec.json.Encoder(order="sorted")


class AuditProblem(msgspec.Struct, frozen=True):
    line: int
    kind: str  # torn | not_json | bad_hash | broken_chain | seq_gap
    detail: str


class AuditRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    seq: int
    at: str  # RFC 3339, local clock of the console
    action_id: str
    # planned | confirmed | executing | executed | failed | verified |
    # not_verified | undo_ready | refused
    stage: str
    idempotency_key: str
    prev: str
    hash: str = ""
    data: dict[str, Any] = {}


def _digest(line_without_hash: bytes) -> str:
    return hashlib.sha256(line_without_hash).hexdigest()


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(
        self, action_id: str, stage: str, idempotency_key: str, data: dict[str, Any]
    ) -> AuditRecord:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last_seq, last_hash = self._tail(fd)
            size = os.lseek(fd, 0, os.SEEK_END)
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)
                if os.read(fd, 1) != b"\n":
                    # A torn line from a crash: end it, so it stays visible to
                    # ``verify`` and the new record starts on a line of its own.
                    os.write(fd, b"\n")
            record = AuditRecord(
                seq=last_seq + 1,
                at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                action_id=action_id,
                stage=stage,
                idempotency_key=idempotency_key,
                prev=last_hash,
                data=data,
            )
            body = _encoder.encode(record)
            record = msgspec.structs.replace(record, hash=_digest(body))
            os.write(fd, _encoder.encode(record) + b"\n")
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)
        return record

    def _tail(self, fd: int) -> tuple[int, str]:
        """seq and hash of the last complete record (a torn tail is skipped:
        ``verify`` reports it; new records chain onto the last good one)."""
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return 0, GENESIS
        chunk = min(size, 1 << 16)
        os.lseek(fd, size - chunk, os.SEEK_SET)
        tail = os.read(fd, chunk)
        for line in reversed(tail.split(b"\n")):
            if not line.strip():
                continue
            try:
                rec = msgspec.json.decode(line, type=AuditRecord)
            except msgspec.DecodeError:
                continue
            return rec.seq, rec.hash
        return 0, GENESIS

    def records(self) -> Iterator[AuditRecord]:
        """Every complete record; unreadable lines are skipped (``verify`` names them)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    return  # torn tail
                try:
                    yield msgspec.json.decode(line, type=AuditRecord)
                except msgspec.DecodeError:
                    continue

    def for_key(self, key: str) -> list[AuditRecord]:
        return [r for r in self.records() if r.idempotency_key == key]

    def for_action(self, action_id: str) -> list[AuditRecord]:
        return [r for r in self.records() if r.action_id == action_id]

    def verify(self) -> list[AuditProblem]:
        problems: list[AuditProblem] = []
        if not self.path.exists():
            return problems
        prev = GENESIS
        expected_seq = 1
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        torn = not data.endswith(b"\n") and bool(data)
        for number, line in enumerate(lines, start=1):
            if not line:
                continue
            if torn and number == len(lines):
                problems.append(
                    AuditProblem(number, "torn", "last line is incomplete (crash while writing?)")
                )
                break
            try:
                rec = msgspec.json.decode(line, type=AuditRecord)
            except msgspec.DecodeError as exc:
                problems.append(AuditProblem(number, "not_json", f"unreadable record: {exc}"))
                continue
            body = _encoder.encode(msgspec.structs.replace(rec, hash=""))
            if _digest(body) != rec.hash:
                problems.append(
                    AuditProblem(
                        number, "bad_hash", f"record seq {rec.seq} was edited after writing"
                    )
                )
            if rec.prev != prev:
                problems.append(
                    AuditProblem(
                        number,
                        "broken_chain",
                        f"record seq {rec.seq} does not follow the line before it "
                        "(a line was removed, inserted or moved)",
                    )
                )
            if rec.seq != expected_seq:
                problems.append(
                    AuditProblem(number, "seq_gap", f"expected seq {expected_seq}, found {rec.seq}")
                )
            prev = rec.hash
            expected_seq = rec.seq + 1
        return problems


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
