"""The console: a thin Textual renderer over the headless services.

Every fetch and analysis runs in a worker through the same adapters and
core functions the CLI uses; results arrive as messages. Keys have ids and
can be remapped from the config's ``keys:`` section (binding id -> keys).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from oncall_tui.core.text import inert
from oncall_tui.tui.footer import Footer
from oncall_tui.tui.loading import TraceAnalysed, TraceAnalysing, TraceLoadFailed, start_loading
from oncall_tui.tui.textual_leaks import FreshContextExecutor, release_render_caches

CSS_PATH = Path(__file__).with_name("app.tcss")


class MessageScreen(Screen[None]):
    """Said instead of crashing: nothing to show and why, and what to do."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        yield Static(inert(self._text), id="message", markup=False)
        yield Footer()


class OncallApp(App[int]):
    TITLE = "oncall-tui"
    CSS_PATH = CSS_PATH
    BINDINGS = [
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("t", "traces", "Traces", id="app.traces"),
        Binding("l", "audit", "Audit", id="app.audit"),
    ]

    def __init__(
        self,
        *,
        gateway: Any = None,
        gateway_name: str = "",
        env_name: str = "",
        store: Any = None,
        trace_file: str | None = None,
        trace: Any = None,
        keys: dict[str, str] | None = None,
        problem: str | None = None,
        read_only: bool = False,
        actor: str = "oncall-tui",
        state_dir: Path | None = None,
        runbook_paths: tuple[Path, ...] = (),
        clock: Callable[[], datetime] | None = None,
        action_runner: Any = None,
        audit_path: Path | None = None,
        redactor: Any = None,
        live: tuple[Any, Any] | None = None,
        live_port: int = 4318,
        flag_sources: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # The flag services, by config name: those that can list their change
        # events let the overview's onsets name a flag flipped before a rise.
        self.flag_sources = flag_sources or {}
        # Every secret the config names, masked on the incident timeline as
        # the CLI's runbook run does (None: URL credentials only).
        self.redactor = redactor
        # (LiveTraces, OtlpReceiver): given by `trace listen --tui` (which
        # closes it), or started by the palette's "Live traces" (closed here).
        self.live = live
        self.live_port = live_port
        self._own_live = False
        # The audited action lifecycle (LifecycleActions), the console's only
        # way to act; None (read-only, or nothing here can act): no action keys.
        self.action_runner = None if read_only else action_runner
        executor = getattr(self.action_runner, "executor", None)
        self.audit_path = executor.audit.path if executor is not None else audit_path
        self.incident: Any = None  # the running runbook's session, for the timeline
        self._requests = itertools.count(1)
        # Ages of figures are measured against this (tests pin it for snapshots).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.state_dir = state_dir
        self.runbook_paths = runbook_paths
        self.read_only = read_only
        self.actor = actor
        self.gateway = gateway
        self.gateway_name = gateway_name
        self.env_name = env_name
        self.store = store
        self.trace_file = trace_file
        self.trace = trace
        self.problem = problem
        # NO_COLOR: Textual itself renders monochrome (its own filter); an ANSI
        # theme on top of that crashed the renderer in Textual 8, so none here.
        if keys:
            self.set_keymap(keys)

    def compose(self) -> ComposeResult:
        # The screen under all others: what is loading while a trace is read
        # and analysed, and what is left when its trace screen is closed.
        yield Static("", id="app-status", markup=False)
        yield Footer()

    def on_load(self) -> None:
        # Before any screen or worker exists: what Textual would otherwise
        # keep of every closed screen (tui/textual_leaks.py, issue 14 item 8).
        release_render_caches()
        asyncio.get_running_loop().set_default_executor(FreshContextExecutor())

    def on_mount(self) -> None:
        if self.live is not None:
            self.open_live(closable=False)
        elif self.trace is not None:
            self._status(f"analysing {len(self.trace.spans):,} spans…")
            start_loading(self, f"trace {self.trace.trace_id}", trace=self.trace)
        elif self.trace_file:
            self._open_file(self.trace_file)
        elif self.gateway is not None:
            from oncall_tui.tui.overview import OverviewScreen

            self.push_screen(OverviewScreen(self.gateway, self.gateway_name, self.env_name))
        elif self.store is not None:
            self.open_traces(None)
        else:
            self.push_screen(MessageScreen(self.problem or "nothing to show"))

    async def on_unmount(self) -> None:
        """Close every adapter the app was given (HTTP clients, sockets)."""
        if self._own_live and self.live is not None:
            self.live[1].close()
        seen: set[int] = set()
        executor = getattr(self.action_runner, "executor", None)
        adapters = [
            self.gateway,
            self.store,
            *self.flag_sources.values(),
            *getattr(executor, "adapters", {}).values(),
        ]
        for adapter in adapters:
            close = getattr(adapter, "aclose", None)
            if close is None or id(adapter) in seen:
                continue
            seen.add(id(adapter))
            with contextlib.suppress(Exception):  # closing on exit: nothing left to tell
                await close()

    def _open_file(self, path: str) -> None:
        """Read and analyse the file's biggest trace in a thread; the trace
        screen opens when ``TraceAnalysed`` arrives."""
        self._status(f"reading {path}…")
        start_loading(self, path, path=path)

    def _status(self, text: str) -> None:
        self.query_one("#app-status", Static).update(inert(text, single_line=True))

    def on_trace_analysing(self, message: TraceAnalysing) -> None:
        self._status(f"{message.origin}: {message.text}")

    async def on_trace_analysed(self, message: TraceAnalysed) -> None:
        from oncall_tui.tui.trace_screen import TraceScreen

        self._status(f"{message.origin}: {message.analysis.summary.span_count:,} spans")
        if isinstance(self.screen, ModalScreen):  # keys or palette opened while it analysed
            await self.pop_screen()
        await self.push_screen(TraceScreen(message.trace, message.analysis))

    def on_trace_load_failed(self, message: TraceLoadFailed) -> None:
        self._status(message.text)
        self.push_screen(MessageScreen(message.text))

    def open_traces(self, route: str | None) -> None:
        from oncall_tui.tui.traces_screen import TracesScreen

        if self.store is None:
            self.notify("no trace store configured for this environment", severity="warning")
            return
        self.push_screen(TracesScreen(self.store, route))

    def open_runbook(self, route: str, kinds: list[str], findings: Iterable[str] = ()) -> None:
        """Start the best-matching runbook for what fires on ``route``, as the CLI would."""
        from oncall_tui.config import state_dir
        from oncall_tui.errors import OncallError
        from oncall_tui.runbook.engine import Engine, resolve_inputs
        from oncall_tui.runbook.library import load_all, suggest
        from oncall_tui.runbook.queries import Sources
        from oncall_tui.runbook.session import Session, incidents_dir
        from oncall_tui.tui.runbook_screen import RunbookScreen

        runbooks, _ = load_all(self.runbook_paths)
        found = suggest(runbooks.values(), alerts=kinds, findings=findings)
        if not found:
            self.notify(f"no runbook matches what fires on {inert(route)}", severity="warning")
            return
        rb = found[0].runbook
        try:
            inputs = resolve_inputs(rb, {"route": route} if "route" in rb.inputs else {})
            session = Session.create(
                incidents_dir(self.state_dir or state_dir()),
                rb,
                inputs,
                environment=self.env_name,
                clock=self.clock,
                redactor=self.redactor,
            )
        except OncallError as exc:
            self.notify(f"cannot start runbook {rb.id}: {inert(exc.message)}", severity="error")
            return
        gateways = {self.gateway_name or "gateway": self.gateway} if self.gateway else {}
        stores = {"store": self.store} if self.store is not None else {}
        engine = Engine(
            session,
            sources=Sources(gateways=gateways, trace_stores=stores),
            actions=self.action_runner,
            read_only=self.read_only,
            actor=self.actor,
        )
        self.incident = session
        self.push_screen(RunbookScreen(engine))

    def offers(self, kind: str) -> bool:
        """May the console offer this action? Only through the audited lifecycle."""
        runner = self.action_runner
        return runner is not None and not self.read_only and runner.offers(kind)

    def request_id(self) -> str:
        """A fresh id for an action asked from the console (its audit key derives from it)."""
        return f"console-{self.clock():%Y%m%dT%H%M%SZ}-{next(self._requests)}"

    def open_live(self, *, closable: bool = True) -> None:
        """The live traces screen; the palette's first use starts the listener."""
        from oncall_tui.tui.live_screen import LiveScreen, start_listener

        if self.live is None:
            try:
                self.live = start_listener(self.live_port)
            except OSError as exc:
                why = exc.strerror or str(exc)
                self.notify(f"cannot listen on 127.0.0.1:{self.live_port}: {why}", severity="error")
                return
            self._own_live = True
        if any(isinstance(s, LiveScreen) for s in self.screen_stack):
            # Its screen owns the store's one ticker: never a second one.
            self.notify("live traces are already open: esc back to them")
            return
        live, receiver = self.live
        self.push_screen(LiveScreen(live, receiver.url, closable=closable))

    def action_audit(self) -> None:
        from oncall_tui.tui.audit_screen import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen(self.audit_path, self.incident))

    def action_traces(self) -> None:
        self.open_traces(None)

    def action_help(self) -> None:
        from oncall_tui.tui.help_screen import HelpScreen, key_rows

        if isinstance(self.screen, HelpScreen):
            return
        active = self.active_bindings
        rows = key_rows((key, b.binding, b.enabled) for key, b in active.items())
        title = type(self.screen).__name__.removesuffix("Screen").lower() or "screen"
        self.push_screen(HelpScreen(title, rows))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's own "Keys" opens its help panel; ours lists ids for remapping.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Keys")
        yield SystemCommand("Keys", "the keys of this screen and their ids", self.action_help)
        if self.store is not None:
            yield SystemCommand("Traces", "recent traces of every route", self.action_traces)
        yield SystemCommand(
            f"Live traces: listen for OTLP on 127.0.0.1:{self.live_port}",
            "traces as an app's OTel exporter sends them, newest first, with findings",
            self.open_live,
        )
        yield SystemCommand(
            "Audit log",
            "every action's stages, the hash chain, the incident timeline",
            self.action_audit,
        )


def build_app(args: argparse.Namespace) -> OncallApp:
    """Config -> adapters -> app. Problems become a screen, not a traceback."""
    from oncall_tui.actions import audit_path
    from oncall_tui.cli.common import adapters, environment
    from oncall_tui.config import redactor as config_redactor
    from oncall_tui.errors import OncallError
    from oncall_tui.sources.capabilities import GatewayStatus, TraceSearch

    trace_file = getattr(args, "trace_file", None)
    if trace_file:
        return OncallApp(trace_file=trace_file)
    try:
        cfg, env_name, env = environment(args)
    except OncallError as exc:
        return OncallApp(problem=f"{exc.message}\n\nTry 'oncall-tui demo' for a simulated fleet.")
    gateway = store = None
    gateway_name = ""
    try:
        for name, adapter in adapters(env, "gateways").items():
            if isinstance(adapter, GatewayStatus):
                gateway, gateway_name = adapter, name
                break
        for adapter in adapters(env, "trace_stores").values():
            if isinstance(adapter, TraceSearch):
                store = adapter
                break
        # All of them (closed on exit); those that can list events are read.
        flags = adapters(env, "flags")
    except OncallError as exc:
        return OncallApp(problem=exc.message)
    read_only = cfg.is_read_only(env, bool(getattr(args, "read_only", False)))
    return OncallApp(
        gateway=gateway,
        gateway_name=gateway_name,
        env_name=env_name,
        store=store,
        keys=dict(cfg.keys),
        problem=f"environment {env_name} names no gateway or trace store",
        read_only=read_only,
        actor=cfg.actor or _default_actor(),
        action_runner=None if read_only else _lifecycle(cfg, env_name),
        audit_path=audit_path(cfg),
        runbook_paths=tuple(Path(p) for p in cfg.runbook_paths),
        redactor=config_redactor(cfg),
        flag_sources=flags,
    )


def _lifecycle(cfg: Any, env_name: str) -> Any:
    """Actions through the audited lifecycle (audit log, policy, verify, undo)."""
    from oncall_tui.actions import open_executor
    from oncall_tui.errors import OncallError
    from oncall_tui.runbook.acting import LifecycleActions

    try:
        return LifecycleActions(open_executor(cfg, env_name))
    except OncallError:
        return None  # read-only or no adapter that can act: no actions offered


def _default_actor() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def run(args: argparse.Namespace) -> int:
    app = build_app(args)
    result = app.run()
    return result or 0
