"""The real ``oncall-tui demo`` in a real terminal (tmux, 80x24), keyboard only.

What only a terminal shows: that the binary starts on the simulator, the
overview paints, a trace with a reentrancy cycle opens from it, and a kill
switch goes through the typed confirmation and verifies, under both an
xterm-256color and a screen TERM. stderr is not redirected: a traceback
would land on the pane and fail the text checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


# A private tmux server per run: other tmux users (and other test runs on the
# machine) can neither see nor end our sessions.
SOCKET = f"oncall-tui-test-{os.getpid()}"


def tmux(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, *args], **kw)


class Pane:
    def __init__(self, session: str) -> None:
        self.session = session

    def text(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.session, capture_output=True, text=True).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        flags = ["-l"] if literal else []
        tmux("send-keys", "-t", self.session, *flags, *keys, check=True)
        time.sleep(0.4)  # else ESC followed by a key arrives as alt+key

    def wait_for(self, needle: str, seconds: float = 20.0) -> str:
        deadline = time.monotonic() + seconds
        screen = ""
        while time.monotonic() < deadline:
            screen = self.text()
            if needle in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} never appeared; the pane shows:\n{screen}")


@pytest.mark.parametrize("term", ["xterm-256color", "screen"])
def test_demo_overview_cycle_trace_and_kill_switch(term: str) -> None:
    session = f"oncall-demo-{term}-{time.monotonic_ns()}"
    # If the console dies, keep the pane (and its traceback) for the failure message.
    cmd = (
        f"{sys.executable} -m oncall_tui demo --scenario tool-reentrancy; "
        "echo console exited $?; sleep 30"
    )
    size = ["-x", "80", "-y", "24"]
    tmux("new-session", "-d", *size, "-s", session, "-e", f"TERM={term}", cmd, check=True)
    pane = Pane(session)
    try:
        routes: list[str] = []
        for _ in range(50):  # until the routes table (not just an alert line) is painted
            screen = pane.wait_for("agent-assist", 40)
            # The table's rows follow its header; each starts with its route.
            rows = [line.split()[0] for line in screen.splitlines() if line.split()]
            routes = rows[rows.index("route") + 1 :] if "route" in rows else []
            if "agent-assist" in routes:
                break
            time.sleep(0.2)
        assert "STALE" not in screen and "tier/SLO" in screen
        # Move the cursor to agent-assist (the route the reentrancy scenario hits).
        pane.keys(*["Down"] * routes.index("agent-assist"))
        pane.keys("Enter")
        pane.wait_for("traces: route:agent-assist")
        pane.wait_for("; enter opens one")
        pane.keys("Enter")
        screen = pane.wait_for("spans  ")
        assert "1 ⟲" in screen or "2 ⟲" in screen, screen
        assert "⟲ tool:" in screen  # the witness path, tool to re-entered tool
        pane.keys("Escape")
        pane.keys("Escape")
        pane.wait_for("tier/SLO")
        pane.keys("k")
        pane.wait_for("type the route name (agent-assist)")
        pane.keys("agent-assist", literal=True)
        pane.keys("Enter")
        pane.wait_for("VERIFIED", 40)
        pane.wait_for("u: undo", 10)  # the undo offer, scrolled into view
        pane.keys("Escape")
        screen = pane.wait_for(" OFF ")
        assert any("agent-assist" in line and " OFF " in line for line in screen.splitlines())
        pane.keys("q")
        assert "console exited 0" in pane.wait_for("console exited", 15)
    finally:
        tmux("kill-session", "-t", session, capture_output=True)


def test_demo_runbook_kill_switch_and_postmortem(tmp_path) -> None:
    """The issue's "done when", keyboard only at 80x24: the incident on the
    overview names its runbook; `b` starts it, the checks diagnose by
    themselves, a decision is answered, the kill switch is pulled through the
    typed confirmation and verifies, and `p` writes the postmortem draft."""
    session = f"oncall-runbook-{time.monotonic_ns()}"
    cmd = (
        f"{sys.executable} -m oncall_tui demo --scenario retry-storm; "
        "echo console exited $?; sleep 30"
    )
    env = ["-e", "TERM=xterm-256color", "-e", f"XDG_STATE_HOME={tmp_path}"]
    tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", session, *env, cmd, check=True)
    pane = Pane(session)
    try:
        screen = pane.wait_for("→ runbook retry-storm", 60)
        rows = [line.split()[0] for line in screen.splitlines() if line.split()]
        pane.keys(*["Down"] * (rows.index("search-summary") - rows.index("route") - 1))
        pane.keys("b")
        screen = pane.wait_for("Pull the kill switch?", 30)
        assert "diagnosis: retry_storm" in screen or "✓ Retry storm" in screen, screen
        pane.keys("1")  # yes
        pane.wait_for("a: act (typed confirmation)")
        pane.keys("a")
        pane.wait_for("type the route name (search-summary)")
        pane.keys("search-summary", literal=True)
        pane.keys("Enter")
        pane.wait_for("VERIFIED", 40)
        pane.keys("Escape")
        pane.wait_for("mitigated by:", 10)
        pane.keys("p")
        incidents = tmp_path / "oncall-tui" / "incidents"
        deadline = time.monotonic() + 10
        while not list(incidents.glob("*.md")) and time.monotonic() < deadline:
            time.sleep(0.2)
        [postmortem] = incidents.glob("*.md")
        assert "postmortem draft written to" in pane.text()
        text = postmortem.read_text()
        assert "| Diagnosis | retry_storm |" in text
        assert "outcome: **verified**" in text and "Time to mitigate" in text
        pane.keys("q")
        assert "console exited 0" in pane.wait_for("console exited", 15)
    finally:
        tmux("kill-session", "-t", session, capture_output=True)
