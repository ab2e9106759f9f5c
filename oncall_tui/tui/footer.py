"""The key footer every screen shows, without Textual's per-recompose leak.

Textual's ``Footer`` recomposes whenever the bindings change (every screen
pushed or popped over it, every focus move) and data-binds each new
``FooterKey`` to its own ``compact`` reactive. The binding is a watcher held
by the footer, and Textual prunes the watchers of removed keys only when
``compact`` changes, which it never does here: a long-lived footer (the
app's base screen, the overview) kept every key it ever showed, with their
render caches, about 0.4 MB per trip to a trace and back (issue 14, item 8).
"""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    async def recompose(self) -> None:
        await super().recompose()
        self._forget_removed_keys()

    def _forget_removed_keys(self) -> None:
        # Textual keeps watchers in a ``__watchers`` attribute (set with
        # setattr, so not name-mangled) and drops a closing node's watchers
        # the same way, on the next change.
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for pairs in watchers.values():
            pairs[:] = [(node, cb) for node, cb in pairs if not getattr(node, "_closing", False)]
