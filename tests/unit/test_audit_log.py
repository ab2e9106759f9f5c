"""The audit log finds every kind of tampering and a crash mid-write."""

from __future__ import annotations

from oncall_tui.actions.audit import AuditLog


def _log(tmp_path, n: int = 4) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append("a-1", f"stage{i}", "k", {"i": i})
    return log


def test_intact_chain_verifies(tmp_path) -> None:
    log = _log(tmp_path)
    assert log.verify() == []
    assert [r.seq for r in log.records()] == [1, 2, 3, 4]
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


def test_edited_line_is_found(tmp_path) -> None:
    log = _log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"i":1', '"i":9')
    log.path.write_text("".join(lines))
    problems = log.verify()
    assert [(p.line, p.kind) for p in problems] == [(2, "bad_hash")]


def test_deleted_line_is_found(tmp_path) -> None:
    log = _log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    del lines[2]
    log.path.write_text("".join(lines))
    kinds = {(p.line, p.kind) for p in log.verify()}
    assert (3, "broken_chain") in kinds and (3, "seq_gap") in kinds


def test_reordered_lines_are_found(tmp_path) -> None:
    log = _log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    log.path.write_text("".join(lines))
    assert any(p.kind == "broken_chain" for p in log.verify())


def test_torn_last_line_is_found_and_appends_continue(tmp_path) -> None:
    log = _log(tmp_path)
    with log.path.open("ab") as fh:
        fh.write(b'{"seq":5,"at":"2026')  # the crash happened mid-write
    problems = log.verify()
    assert [(p.line, p.kind) for p in problems] == [(5, "torn")]
    assert len(list(log.records())) == 4  # nothing before the tear is lost
    log.append("a-2", "planned", "k2", {})
    records = list(log.records())
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert [(p.line, p.kind) for p in log.verify()] == [(5, "not_json")]
