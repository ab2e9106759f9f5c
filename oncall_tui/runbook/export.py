"""A postmortem draft from an incident's timeline, as Markdown or JSON.

``oncall-tui incident export ID --format md|json`` calls these. The draft is
what the timeline proves (what was checked and seen, what was decided, what
was changed and whether it verified, how long until mitigation) plus the
runbook's own postmortem questions, left for the team to answer. Text that
came from outside (check evidence, finding summaries, action details) is made
inert and kept to one line per cell.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from oncall_tui.core.text import inert, truncate
from oncall_tui.runbook.format import fill
from oncall_tui.runbook.session import Event, Session, parse_at

_encoder = msgspec.json.Encoder(order="deterministic")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m {s:02d}s"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


def _when(iso: str | None) -> str:
    return parse_at(iso).strftime("%Y-%m-%d %H:%M:%S %Z") if iso else ""


def _cell(text: object, limit: int = 160) -> str:
    return truncate(inert(text, single_line=True), limit).replace("|", "\\|")


def report(session: Session) -> dict[str, Any]:
    """Everything the draft says, as plain data (the JSON export)."""
    rb = session.runbook()
    inputs = session.inputs
    opened = parse_at(session.opened.at)
    closed_events = session.of_type("closed")
    mitigated = session.of_type("mitigated")
    values = {e.step or "": e.data.get("values", {}) for e in session.of_type("check")}
    titles = {s.id: fill(s.title, inputs, values) for s in rb.steps}
    checks = [
        {
            "step": e.step,
            "title": titles.get(e.step or "", e.step),
            "at": e.at,
            "status": e.data.get("status"),
            "values": e.data.get("values", {}),
            "error": e.data.get("error"),
            "attempts": e.data.get("attempts", 1),
            "message": e.data.get("message", ""),
            "evidence": e.data.get("evidence", {}),
        }
        for e in session.of_type("check")
    ]
    findings = []
    for check in checks:
        for f in (
            check["evidence"].get("findings", []) if isinstance(check["evidence"], dict) else []
        ):
            findings.append(f)
    started: dict[str, Event] = {e.step or "": e for e in session.of_type("action_started")}
    actions = []
    for e in session.of_type("action"):
        spec = started.get(e.step or "")
        actions.append(
            {
                "step": e.step,
                "title": titles.get(e.step or "", e.step),
                "started_at": spec.at if spec else None,
                "finished_at": e.at,
                "spec": spec.data.get("spec") if spec else None,
                "plan": spec.data.get("plan") if spec else None,
                "outcome": e.data.get("outcome"),
                "detail": e.data.get("detail"),
                "record": e.data.get("record"),
                "verify_attempts": e.data.get("verify_attempts", 0),
                "undo": e.data.get("undo"),
            }
        )
    for step_id, spec in started.items():
        if not any(a["step"] == step_id for a in actions):
            actions.append(
                {
                    "step": step_id,
                    "title": titles.get(step_id, step_id),
                    "started_at": spec.at,
                    "finished_at": None,
                    "spec": spec.data.get("spec"),
                    "plan": spec.data.get("plan"),
                    "outcome": "interrupted",
                    "detail": "started, no result recorded (the console stopped mid-action)",
                    "record": None,
                    "verify_attempts": 0,
                    "undo": None,
                }
            )
    ttm = (parse_at(mitigated[0].at) - opened).total_seconds() if mitigated else None
    return {
        "incident": session.id,
        "runbook": {"id": rb.id, "title": fill(rb.title, inputs, values), "summary": rb.summary},
        "environment": session.environment,
        "inputs": inputs,
        "opened_at": session.opened.at,
        "closed_at": closed_events[-1].at if closed_events else None,
        "status": "finished" if closed_events else "open",
        "diagnoses": [str(e.data.get("name")) for e in session.of_type("diagnosis")],
        "mitigated_at": mitigated[0].at if mitigated else None,
        "mitigated_by": titles.get(mitigated[0].step or "") if mitigated else None,
        "time_to_mitigate_s": ttm,
        "checks": checks,
        "findings": findings,
        "decisions": [
            {"step": e.step, "at": e.at, "branch": e.data.get("branch"), "goto": e.data.get("goto")}
            for e in session.of_type("decision")
        ],
        "actions": actions,
        "timeline": [_line(e, titles, opened) for e in session.events],
        "postmortem_questions": list(rb.postmortem),
        "torn_line": session.torn,
    }


def _line(event: Event, titles: dict[str, str], opened: datetime) -> dict[str, Any]:
    at = parse_at(event.at)
    return {
        "seq": event.seq,
        "at": event.at,
        "elapsed_s": (at - opened).total_seconds(),
        "type": event.type,
        "step": event.step,
        "what": describe_event(event, titles),
    }


def describe_event(e: Event, titles: dict[str, str]) -> str:
    title = titles.get(e.step or "", e.step or "")
    d = e.data
    if e.type == "opened":
        rb = d.get("runbook", {})
        return f"incident opened with runbook {rb.get('id')} in environment {d.get('environment')}"
    if e.type == "step_started":
        return f"started {d.get('kind')} step: {title}"
    if e.type == "manual":
        if d.get("outcome") == "skipped":
            return f"skipped: {title} (reason: {d.get('reason')})"
        return f"done: {title}" + (f" ({d.get('note')})" if d.get("note") else "")
    if e.type == "answer":
        return f"answered {d.get('value')!r}: {title}"
    if e.type == "check":
        values = ", ".join(f"{k}={_short(v)}" for k, v in d.get("values", {}).items())
        text = f"check {str(d.get('status')).upper()}: {title}"
        text += f" [{values}]" if values else ""
        text += f"; {d.get('message')}" if d.get("message") else ""
        text += f"; error: {d.get('error')}" if d.get("error") else ""
        return text
    if e.type == "check_attempt":
        return f"attempt {d.get('attempt')}: {d.get('status')} ({title})"
    if e.type == "decision":
        return f"decided: {d.get('branch')} -> {d.get('goto') or 'next step'}"
    if e.type == "action_planned":
        return f"planned (not executed): {d.get('plan')}"
    if e.type == "action_started":
        spec = d.get("spec", {})
        return f"action started: {spec.get('kind')} on {spec.get('route')}"
    if e.type == "action":
        return f"action {d.get('outcome')}: {d.get('detail')}"
    if e.type == "note":
        return f"note: {d.get('text')}"
    if e.type == "diagnosis":
        return f"diagnosis: {d.get('name')}"
    if e.type == "mitigated":
        return f"mitigated by: {title}"
    if e.type == "advanced":
        return f"next: {titles.get(d.get('to') or '', 'end of runbook')}"
    if e.type == "closed":
        return "runbook finished"
    return e.type


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return truncate(str(value), 40)


def to_json(session: Session) -> bytes:
    return msgspec.json.format(_encoder.encode(report(session)), indent=2)


def to_markdown(session: Session) -> str:
    r = report(session)
    out: list[str] = []
    add = out.append
    add(f"# Incident {r['incident']}: {_cell(r['runbook']['title'])}")
    add("")
    add("*Postmortem draft generated from the incident timeline. Edit freely.*")
    add("")
    add("## Summary")
    add("")
    add("| | |")
    add("| --- | --- |")
    add(f"| Runbook | `{r['runbook']['id']}`: {_cell(r['runbook']['summary'])} |")
    add(f"| Environment | {_cell(r['environment'] or 'not recorded')} |")
    inputs = ", ".join(f"{k}={v}" for k, v in r["inputs"].items()) or "none"
    add(f"| Inputs | {_cell(inputs)} |")
    add(f"| Opened | {_when(r['opened_at'])} |")
    if r["time_to_mitigate_s"] is not None:
        add(
            f"| Time to mitigate | {_duration(r['time_to_mitigate_s'])} "
            f"(at {_when(r['mitigated_at'])}, by: {_cell(r['mitigated_by'])}) |"
        )
    else:
        add("| Time to mitigate | not mitigated according to the timeline |")
    add(f"| Diagnosis | {_cell(', '.join(r['diagnoses']) or 'none reached')} |")
    closed = f" at {_when(r['closed_at'])}" if r["closed_at"] else ""
    add(f"| Status | {r['status']}{closed} |")
    add("")
    add("## Timeline")
    add("")
    add("| time (UTC) | elapsed | what happened |")
    add("| --- | --- | --- |")
    for line in r["timeline"]:
        if line["type"] in ("advanced", "step_started", "check_attempt"):
            continue  # in the JSON export; here they would bury what matters
        elapsed = _duration(line["elapsed_s"])
        add(f"| {line['at'][11:19]} | +{elapsed} | {_cell(line['what'], 300)} |")
    add("")
    add("## Evidence")
    add("")
    if not r["checks"]:
        add("No checks ran.")
    for check in r["checks"]:
        add(f"- **{_cell(check['title'])}**: {str(check['status']).upper()}")
        if check["message"]:
            add(f"  - {_cell(check['message'], 300)}")
        for name, value in check["values"].items():
            add(f"  - `{_cell(name)}` = {_cell(_short(value))}")
        if check["error"]:
            add(f"  - error: {_cell(check['error'], 300)}")
        if check["attempts"] > 1:
            add(f"  - after {check['attempts']} attempts")
    add("")
    if r["findings"]:
        add("## Findings in traces")
        add("")
        # One line per kind, worst first: twenty traces with the same finding
        # are one fact with twenty witnesses, not twenty facts.
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for f in r["findings"]:
            key = (str(f.get("severity")), str(f.get("kind")))
            groups.setdefault(key, []).append(f)
        order = {s: i for i, s in enumerate(("critical", "high", "medium", "low", "info"))}
        for (severity, kind), found in sorted(
            groups.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1])
        ):
            traces = list(dict.fromkeys(str(f.get("trace_id")) for f in found))
            shown = ", ".join(f"`{_cell(t)}`" for t in traces[:3])
            more = f" and {len(traces) - 3} more" if len(traces) > 3 else ""
            where = "trace" if len(traces) == 1 else f"{len(traces)} traces"
            add(
                f"- {_cell(severity)} `{_cell(kind)}` in {where} ({shown}{more}): "
                f"{_cell(found[0].get('summary'), 300)}"
            )
        add("")
    add("## Actions")
    add("")
    if not r["actions"]:
        add("No action was executed.")
    for a in r["actions"]:
        spec = a["spec"] or {}
        add(
            f"- **{_cell(a['title'])}** ({_cell(spec.get('kind'))} on `{_cell(spec.get('route'))}`)"
        )
        if a["plan"]:
            add(f"  - plan: {_cell(a['plan'], 300)}")
        add(f"  - outcome: **{_cell(a['outcome'])}**: {_cell(a['detail'], 300)}")
        add(f"  - reason: {_cell(spec.get('reason'), 300)}")
        add(f"  - idempotency key: `{_cell(spec.get('idempotency_key'))}`")
        if a["undo"]:
            add(f"  - to undo: {_cell(a['undo'])}")
    add("")
    add("## Postmortem questions")
    add("")
    for q in r["postmortem_questions"] or ["What happened, and why did it happen then?"]:
        add(f"- {_cell(q, 500)}")
        add("  - *answer:*")
    if r["torn_line"]:
        add("")
        add(f"> Note: the timeline's last line was cut off by a crash; {r['torn_line']}.")
    return "\n".join(out) + "\n"
