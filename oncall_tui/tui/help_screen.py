"""``?``: the keys of the screen you were on, with the id to remap each in config.

The rows come from the app's active bindings at the moment ``?`` was pressed
(so a modal's or a focused widget's keys are the ones listed), which means a
remapped key shows as remapped. Pure row building lives in ``key_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from oncall_tui.tui.footer import Footer


def key_rows(bindings: Iterable[tuple[str, Binding, bool]]) -> list[tuple[str, str, str]]:
    """(keys, what it does, binding id) per action, keys of one action merged."""
    merged: dict[tuple[str, str], list[str]] = {}
    for key, binding, enabled in bindings:
        if not enabled:
            continue
        what = binding.description or binding.action
        merged.setdefault((what, binding.id or "-"), []).append(key)
    return [(", ".join(keys), what, bid) for (what, bid), keys in merged.items()]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, title: str, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._title = title
        self._rows = rows

    def compose(self) -> ComposeResult:
        body = Text()
        body.append(f"keys of {self._title}\n\n", style="bold")
        width = max((len(k) for k, _, _ in self._rows), default=4)
        for keys, what, bid in self._rows:
            body.append(keys.ljust(width + 2), style="bold")
            body.append(what)
            body.append(f"  ({bid})\n", style="dim")
        body.append(
            "\nRemap any key in the config: keys: {<id>: <key>}   ctrl+p: command palette\n",
            style="dim",
        )
        with VerticalScroll(id="modal-body"):
            yield Static(body, markup=False, id="help-body")
        yield Footer()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
