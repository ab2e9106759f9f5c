"""The audit log: append-only JSON lines, hash-chained, fsynced per record.

Every stage of every action is one line, written and fsynced before the next
stage starts, so after a crash (even ``kill -9``) the log says exactly how far
an action got. Each record carries ``prev`` (the hash of the record before it)
and ``hash`` (SHA-256 of its own canonical JSON without ``hash``), so
``verify`` finds an edited, removed or reordered line, and a torn last line.
An anchor beside the log (``<log>.anchor``: the last record's seq and hash,
replaced atomically after each append) lets ``verify`` catch a log cut short
or emptied, which the chain alone cannot prove.

Writers take an exclusive ``flock`` for the append, so two consoles acting at
once cannot interleave half lines. Text put in a record passes the caller's
redactor first: secrets never reach the disk.

A damaged log never stops an action (the person acting must be able to act);
the executor warns and records the damage in the action's own records, and
``repair`` moves damaged lines into a side file and appends a record saying
what it removed.
"""

from __future__ import annotations

import contextlib
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
#: The stage of the record ``repair`` appends; its ``accepted`` list names the
#: chain breaks the repair left (records after removed lines), by record hash.
REPAIR_STAGE = "audit_repaired"

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
    kind: str  # "torn" | "unreadable" | "edited" | "chain" | "sequence" | "truncated"
    message: str


class VerifyReport(msgspec.Struct, frozen=True):
    path: str
    records: int
    ok: bool
    problems: list[Problem]
    #: Chain breaks an earlier ``audit repair`` recorded (not problems any more).
    repaired: int = 0


class Anchor(msgspec.Struct, frozen=True):
    """What the log held after its last append: checked by ``verify``."""

    seq: int
    hash: str
    records: int  # seq + 1: how many records the chain had counted


class RepairReport(msgspec.Struct, frozen=True):
    path: str
    changed: bool
    removed: list[dict[str, Any]]  # {"line", "kind", "bytes", "sha256"}
    sidecar: str | None
    record: AuditRecord | None  # the repair record appended to the chain
    truncated: str | None  # what the anchor said, when the end was missing


def _digest(fields: dict[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(_encoder.encode(body)).hexdigest()


def _split(raw: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines, and whatever follows the last newline (a torn tail)."""
    if not raw:
        return [], b""
    *lines, tail = raw.split(b"\n")
    return lines, tail


def _parse(line: bytes) -> tuple[dict[str, Any], AuditRecord] | None:
    try:
        fields = msgspec.json.decode(line)
        return fields, msgspec.convert(fields, AuditRecord)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


@contextmanager
def _locked_file(path: Path, flags: int) -> Iterator[int]:
    """An fd for ``path`` holding an exclusive flock on the file the path names
    now: ``repair`` replaces the log by rename, and a writer that opened the old
    file must not append to it after the swap."""
    while True:
        fd = os.open(path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)  # closing drops the flock


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` whole or not at all (temp file, fsync, rename, fsync dir)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class AuditLog:
    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        # Record times come from here (tests pin it so a rendered log holds still).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))

    @property
    def anchor_path(self) -> Path:
        return self.path.with_name(f"{self.path.name}.anchor")

    @property
    def locks_dir(self) -> Path:
        return self.path.with_name(f"{self.path.name}.locks")

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
        with _locked_file(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND) as fd:
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
                parsed = _parse(last)
                tail = parsed[1] if parsed is not None else _last_record(fd, size)
                # A junk or blank last line does not stop an action: the chain
                # goes on from the last record, and 'verify' reports the junk.
                if tail is not None:
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
            # Still under the log's lock: the anchor never names a record the
            # log does not hold. A crash before this leaves the anchor one
            # record behind, which 'verify' accepts.
            self._write_anchor(record)
            return record

    def _write_anchor(self, record: AuditRecord) -> None:
        anchor = Anchor(seq=record.seq, hash=record.hash, records=record.seq + 1)
        _write_atomic(self.anchor_path, msgspec.json.encode(anchor) + b"\n")

    def read_anchor(self) -> Anchor | None:
        try:
            return msgspec.json.decode(self.anchor_path.read_bytes(), type=Anchor)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            # An unreadable anchor proves nothing either way; 'verify' says so.
            return Anchor(seq=-1, hash="", records=-1)

    @contextmanager
    def key_lock(self, key: str) -> Iterator[None]:
        """Exclusive per-key lock beside the log: one console acts on a key at a time.

        It never waits (a TUI must not freeze): a second console is told to
        re-run later, when the log will say how the first one ended. The lock
        file is removed when the action ends (unlinked while still locked, and
        a taker checks it locked the file the path still names), so the folder
        holds only actions in progress; files left by a killed console are
        swept on the next start.
        """
        folder = self.locks_dir
        folder.mkdir(parents=True, exist_ok=True)
        self.sweep_locks()
        path = folder / f"{key}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ActionError(
                    f"action {key} is being run by another console right now",
                    hint="re-run when it ends: the audit log will say how far it got",
                ) from None
            if _names(path, fd):
                break
            os.close(fd)  # the holder removed it as we opened it: take a fresh one
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            os.close(fd)

    def sweep_locks(self) -> int:
        """Remove lock files nobody holds (left by a killed console); returns how many."""
        removed = 0
        try:
            entries = list(self.locks_dir.glob("*.lock"))
        except OSError:
            return 0
        for path in entries:
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # an action is running under it
                if _names(path, fd):
                    path.unlink()
                    removed += 1
            finally:
                os.close(fd)
        return removed

    # ------------------------------------------------------------ reading

    def records(self) -> list[AuditRecord]:
        """Every readable record; junk lines and a torn tail are skipped
        (``verify`` reports them, ``repair`` moves them aside)."""
        return list(self._iter())

    def _iter(self) -> Iterator[AuditRecord]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise DataError(f"audit log {self.path}: cannot read: {exc.strerror}") from exc
        lines, _tail = _split(raw)
        for line in lines:
            parsed = _parse(line)
            if parsed is not None:
                yield parsed[1]

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
        with _locked_file(self.path, os.O_RDWR) as fd:
            size = os.fstat(fd).st_size
            raw = os.pread(fd, size, 0)
            cut = raw.rfind(b"\n") + 1
            if cut == size:
                return None
            sidecar = self._sidecar("torn")
            sidecar.write_bytes(raw[cut:])
            os.ftruncate(fd, cut)
            os.fsync(fd)
            return sidecar

    def _sidecar(self, what: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return self.path.with_name(f"{self.path.name}.{what}-{stamp}")

    def repair(self, *, actor: str) -> RepairReport:
        """Make a damaged log whole again, keeping everything it removes.

        Lines that are not records (junk, blank), records whose content does
        not match their hash (edited) and a torn tail go, byte for byte, into
        ``<log>.removed-<time>``; the log is rewritten (atomically) with the
        records that remain, then one ``audit_repaired`` record is appended
        saying what was removed, which chain breaks the removal left (by
        record hash, so ``verify`` accepts them from then on) and, when the
        anchor named a record the log no longer holds, that its end was lost.
        A log without damage is left alone.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked_file(self.path, os.O_RDWR | os.O_CREAT) as fd:
            raw = os.pread(fd, os.fstat(fd).st_size, 0)
            lines, tail = _split(raw)
            kept: list[tuple[dict[str, Any], AuditRecord, bytes]] = []
            removed: list[dict[str, Any]] = []
            removed_bytes: list[bytes] = []
            for number, line in enumerate(lines, 1):
                parsed = _parse(line)
                if parsed is not None and _digest(parsed[0]) == parsed[1].hash:
                    kept.append((parsed[0], parsed[1], line))
                    continue
                kind = "unreadable" if parsed is None else "edited"
                removed.append(_removed(number, kind, line))
                removed_bytes.append(line + b"\n")
            if tail:
                removed.append(_removed(len(lines) + 1, "torn", tail))
                removed_bytes.append(tail + b"\n")
            anchor = self.read_anchor()
            hashes = {record.hash for _f, record, _l in kept}
            truncated = None
            if anchor is not None and anchor.hash not in hashes:
                truncated = _anchor_words(anchor)
            if not removed and truncated is None:
                return RepairReport(str(self.path), False, [], None, None, None)
            sidecar = None
            if removed_bytes:
                sidecar = self._sidecar("removed")
                _write_atomic(sidecar, b"".join(removed_bytes))
            accepted = _breaks([(f, r) for f, r, _l in kept])
            prev, seq = (kept[-1][1].hash, kept[-1][1].seq + 1) if kept else (GENESIS, 0)
            data: dict[str, Any] = {
                "removed": removed,
                "sidecar": str(sidecar) if sidecar else None,
                "accepted": accepted,
                "detail": _repair_detail(removed, truncated, sidecar),
            }
            if truncated is not None:
                data["truncated"] = truncated
            fields: dict[str, Any] = msgspec.to_builtins(
                AuditRecord(
                    seq=seq,
                    ts=self.clock().isoformat(timespec="microseconds"),
                    action_id="audit-repair",
                    key=f"audit-repair-{seq}",
                    stage=REPAIR_STAGE,
                    actor=actor,
                    env="",
                    kind="audit",
                    route="",
                    data=data,
                    prev=prev,
                )
            )
            fields["hash"] = _digest(fields)
            record = msgspec.convert(fields, AuditRecord)
            body = b"".join(line + b"\n" for _f, _r, line in kept)
            _write_atomic(self.path, body + _encoder.encode(fields) + b"\n")
            self._write_anchor(record)
            return RepairReport(
                str(self.path), True, removed, str(sidecar) if sidecar else None, record, truncated
            )

    # ------------------------------------------------------------ checking

    def verify(self) -> VerifyReport:
        problems: list[Problem] = []
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        lines, tail = _split(raw)
        parsed = [_parse(line) for line in lines]
        accepted: dict[str, set[str]] = {}
        for item in parsed:
            if item is None:
                continue
            fields, record = item
            if record.stage == REPAIR_STAGE and _digest(fields) == record.hash:
                for entry in record.data.get("accepted") or []:
                    if isinstance(entry, dict) and isinstance(entry.get("hash"), str):
                        accepted.setdefault(entry["hash"], set()).update(entry.get("kinds") or [])
        prev, expected_seq, count, repaired = GENESIS, 0, 0, 0
        hashes: set[str] = set()
        for number, item in enumerate(parsed, 1):
            if item is None:
                what = "blank line" if not lines[number - 1].strip() else "not a record"
                problems.append(Problem(number, "unreadable", f"line {number}: {what}"))
                prev, expected_seq = "?", -1
                continue
            fields, record = item
            count += 1
            hashes.add(record.hash)
            ok_kinds = accepted.get(record.hash, set())
            if _digest(fields) != record.hash:
                problems.append(
                    Problem(number, "edited", f"line {number}: content does not match its hash")
                )
            if prev not in ("?", record.prev):
                if "chain" in ok_kinds:
                    repaired += 1
                else:
                    problems.append(
                        Problem(
                            number,
                            "chain",
                            f"line {number}: does not follow the record before it "
                            "(a line was removed, inserted or moved)",
                        )
                    )
            if expected_seq >= 0 and record.seq != expected_seq and "sequence" not in ok_kinds:
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
        anchor = self.read_anchor()
        if anchor is not None and anchor.hash not in hashes:
            problems.append(
                Problem(
                    len(lines) + 1,
                    "truncated",
                    f"{_anchor_words(anchor)}, which the log no longer holds: records were "
                    "cut from its end, or it was emptied or replaced",
                )
            )
        return VerifyReport(str(self.path), count, not problems, problems, repaired)


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file ``fd`` has open."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _removed(number: int, kind: str, line: bytes) -> dict[str, Any]:
    return {
        "line": number,
        "kind": kind,
        "bytes": len(line),
        "sha256": hashlib.sha256(line).hexdigest(),
    }


def _anchor_words(anchor: Anchor) -> str:
    if anchor.seq < 0:
        return f"the anchor {anchor.hash or '(unreadable)'} beside the log is unreadable"
    return (
        f"the anchor beside the log says it reached record seq {anchor.seq} "
        f"(hash {anchor.hash[:12]}…)"
    )


def _breaks(kept: list[tuple[dict[str, Any], AuditRecord]]) -> list[dict[str, Any]]:
    """The chain and sequence breaks among ``kept`` records, by record hash."""
    out: list[dict[str, Any]] = []
    prev, expected = GENESIS, 0
    for _fields, record in kept:
        kinds = []
        if record.prev != prev:
            kinds.append("chain")
        if record.seq != expected:
            kinds.append("sequence")
        if kinds:
            out.append({"hash": record.hash, "seq": record.seq, "kinds": kinds})
        prev, expected = record.hash, record.seq + 1
    return out


def _repair_detail(
    removed: list[dict[str, Any]], truncated: str | None, sidecar: Path | None
) -> str:
    parts = []
    if removed:
        lines = ", ".join(f"{r['line']} ({r['kind']})" for r in removed[:10])
        more = f" and {len(removed) - 10} more" if len(removed) > 10 else ""
        parts.append(f"removed line(s) {lines}{more}, kept in {sidecar}")
    if truncated is not None:
        parts.append(f"end of the log lost: {truncated}")
    return "; ".join(parts)


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


def _last_record(fd: int, size: int) -> AuditRecord | None:
    """The last readable record (the slow path, when the last line is junk)."""
    lines, _tail = _split(os.pread(fd, size, 0))
    for line in reversed(lines):
        parsed = _parse(line)
        if parsed is not None:
            return parsed[1]
    return None
