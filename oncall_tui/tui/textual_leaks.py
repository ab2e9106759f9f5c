"""Two ways Textual keeps a closed screen's memory, made to let go.

Found by navigating traces -> trace -> graph -> back many times (issue 14,
item 8); measured on Textual 8.2.8. ``tui/footer.py`` holds a third (the
footer's keys).

1. Rendered lines. Every widget renders through its own ``StylesCache``,
   which keeps the widget's rendered lines (``Strip`` objects). The method
   ``StylesCache.get_inner_outer`` is an instance method under
   ``functools.lru_cache(1024)``, so the cache's key holds ``self``: the last
   1,024 ``StylesCache`` objects rendered stay alive, with their lines, after
   their widgets are gone. In a 100x30 console that was 6.9 MB after 25
   trips, more on a larger terminal. Upstream:
   https://github.com/Textualize/textual/issues/6665 (open when this was
   written). The result depends only on the two colours, so
   ``release_render_caches`` caches it by the colours alone.

2. Thread workers. A ``thread=True`` worker runs in the event loop's default
   executor, and Textual sets its ``active_worker`` context variable in the
   executor thread's own context (``run_in_executor`` does not copy one).
   The thread keeps that context while it idles, so it keeps the last worker
   it ran, the worker's node (a whole closed screen) and the work's
   arguments (the trace it analysed: a closed 50,000-span trace kept about
   100 MB). No upstream issue found. ``FreshContextExecutor`` runs each job in a context of its own,
   dropped when the job ends, as a new thread would.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from textual._styles_cache import StylesCache
from textual.color import Color
from textual.style import Style

T = TypeVar("T")


@lru_cache(1024)
def _inner_outer(base_background: Color, background: Color) -> tuple[Style, Style]:
    # Textual's own body: colours in, two background styles out.
    return Style(background=base_background + background), Style(background=base_background)


def _get_inner_outer(
    _cache: StylesCache, base_background: Color, background: Color
) -> tuple[Style, Style]:
    return _inner_outer(base_background, background)


def release_render_caches() -> bool:
    """Stop Textual's colour cache from keeping every widget's rendered lines.

    Idempotent. Replaces the method only while it is still the per-instance
    ``lru_cache`` described above: a Textual that changed it is left alone.
    Returns whether the workaround is in place.
    """
    current: Any = vars(StylesCache).get("get_inner_outer")
    if current is _get_inner_outer:
        return True
    if isinstance(current, (staticmethod, classmethod)) or not hasattr(current, "cache_info"):
        return False  # not keyed on the instance (or gone): nothing to work around
    StylesCache.get_inner_outer = _get_inner_outer  # type: ignore[method-assign, assignment]
    current.cache_clear()  # what it already kept goes now, not 1,024 renders later
    return True


class FreshContextExecutor(ThreadPoolExecutor):
    """A thread pool whose jobs each run in a new, empty ``contextvars`` context.

    What a job sets in its context (Textual's ``active_worker``) goes with
    the job, not with the idle thread. An empty context is what a job on a
    freshly started thread sees too, so no job can tell the difference.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(contextvars.Context().run, fn, *args, **kwargs)
