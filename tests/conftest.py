"""Shared test fixtures. Paths to ../shared/fixtures and the test plugin path live here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _shared_fixtures() -> Path:
    # shared/ sits beside the repo, or beside the folder of worktrees (wt/<name>).
    explicit = os.environ.get("ONCALL_TUI_SHARED_FIXTURES")
    candidates = [Path(explicit)] if explicit else []
    candidates += [ROOT.parent / "shared" / "fixtures", ROOT.parent.parent / "shared" / "fixtures"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED_FIXTURES = _shared_fixtures()
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures"
PLUGIN_PATH = LOCAL_FIXTURES / "plugin_path"

# Third-party-style plugins for tests, found through real entry-point metadata.
if str(PLUGIN_PATH) not in sys.path:
    sys.path.insert(0, str(PLUGIN_PATH))


@pytest.fixture
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(
            f"recorded fixtures not found at {SHARED_FIXTURES} (shared/ sits beside the repo)"
        )
    return SHARED_FIXTURES


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the real `oncall-tui` binary in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_PATH), env.get("PYTHONPATH")]))
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    env.pop("ONCALL_TUI_CONFIG", None)
    return env
