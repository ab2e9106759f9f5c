"""Build an ``Executor`` for one environment of a config, with policy applied.

Read-only (CLI flag > environment > global) is decided here, once: a
read-only environment gets no executor at all, so no caller can act by
mistake. Adapters come from the environment's ``flags`` and ``gateways``
sections, flags first (a flag service is the usual kill switch).
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oncall_tui import config as config_mod
from oncall_tui.actions.audit import AuditLog
from oncall_tui.actions.executor import Executor
from oncall_tui.actions.redact import Redactor
from oncall_tui.config import Config
from oncall_tui.errors import ReadOnlyError
from oncall_tui.plugins import PluginContext, build

SECTIONS = ("flags", "gateways")


def audit_path(cfg: Config, environ: Mapping[str, str] | None = None) -> Path:
    if cfg.audit_log:
        return Path(cfg.audit_log).expanduser()
    return config_mod.state_dir(environ) / "audit.jsonl"


def default_actor(cfg: Config) -> str:
    if cfg.actor:
        return cfg.actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def open_executor(
    cfg: Config,
    env_name: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    cli_read_only: bool = False,
    transport: Any = None,
    **options: Any,
) -> Executor:
    """The executor for one environment; ``ReadOnlyError`` if it may not act."""
    environ = dict(os.environ if environ is None else environ)
    name, env = cfg.environment(env_name)
    if cfg.is_read_only(env, cli_read_only):
        source = (
            "--read-only"
            if cli_read_only
            else ("the environment" if env.read_only is not None else "the global read_only")
        )
        raise ReadOnlyError(
            f"environment {name!r} is read-only ({source} says so): no actions are offered"
        )
    ctx = PluginContext(environ=environ, transport=transport)
    adapters: dict[str, object] = {}
    for section in SECTIONS:
        for adapter_name, (plugin, opts) in config_mod.adapter_entries(env, section).items():
            adapters[adapter_name] = build(plugin, opts, ctx)
    redactor = Redactor.from_sections([env.flags, env.gateways, env.trace_stores], environ)
    return Executor(
        audit=AuditLog(audit_path(cfg, environ)),
        adapters=adapters,
        actor=default_actor(cfg),
        env=name,
        redactor=redactor,
        **options,
    )
