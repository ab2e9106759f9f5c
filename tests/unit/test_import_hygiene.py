"""The headless path never imports textual (harlequin's test_import_hygiene, in spirit).

Each module is imported in a fresh interpreter so nothing the test runner loaded
can hide a leak. CI also runs import-linter with the same contract.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import oncall_tui

HEADLESS_PREFIXES = ("oncall_tui.tui",)


def _headless_modules() -> list[str]:
    names = ["oncall_tui"]
    for info in pkgutil.walk_packages(oncall_tui.__path__, "oncall_tui."):
        if info.name.startswith(HEADLESS_PREFIXES) or info.name == "oncall_tui.__main__":
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module", _headless_modules())
def test_headless_module_does_not_import_textual(module: str) -> None:
    # httpx's __init__ imports its own CLI (httpx._main, which uses rich) when
    # click is installed, as it is in the dev environment; that is httpx's
    # doing and absent for users. Any other route to rich is ours and a leak.
    code = (
        f"import sys, {module}\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "if 'httpx._main' not in sys.modules:\n"
        "    leaked += sorted(m for m in sys.modules if m.split('.')[0] == 'rich')\n"
        "print(','.join(leaked))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"{module} imports {proc.stdout.strip()}"


def test_cli_help_runs_without_textual() -> None:
    code = (
        "import sys\nfrom oncall_tui.cli.main import build_parser\nbuild_parser()\n"
        "print('textual' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr
