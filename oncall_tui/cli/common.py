"""Pieces every command group shares: --json, loading the config, building adapters."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TypeVar

from oncall_tui import config as config_mod
from oncall_tui.config import Config, Environment
from oncall_tui.errors import UnsupportedError
from oncall_tui.plugins import PluginContext, build

T = TypeVar("T")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document (docs/cli.md)")


def config_path(args: argparse.Namespace) -> Path:
    explicit = getattr(args, "config", None)
    return Path(explicit) if explicit else config_mod.default_path()


def load_config(args: argparse.Namespace) -> Config:
    return config_mod.load(config_path(args))


def environment(args: argparse.Namespace) -> tuple[Config, str, Environment]:
    cfg = load_config(args)
    name, env = cfg.environment(getattr(args, "env", None))
    return cfg, name, env


def plugin_context(transport: Any = None) -> PluginContext:
    return PluginContext(environ=dict(os.environ), transport=transport)


def adapters(env: Environment, section: str, ctx: PluginContext | None = None) -> dict[str, object]:
    """Every adapter an environment names in one section, constructed."""
    context = ctx or plugin_context()
    return {
        name: build(plugin, options, context)
        for name, (plugin, options) in config_mod.adapter_entries(env, section).items()
    }


def first_capable(
    env: Environment, section: str, capability: Any, what: str, name: str | None = None
) -> tuple[str, Any]:
    """The first adapter in a section that has ``capability`` (a runtime Protocol).

    ``capability`` is typed Any: mypy rejects Protocol classes as ``type[T]``.
    """
    built = adapters(env, section)
    for adapter_name, adapter in built.items():
        if name is not None and adapter_name != name:
            continue
        if isinstance(adapter, capability):
            return adapter_name, adapter
    known = ", ".join(built) or "none configured"
    raise UnsupportedError(f"no {section} adapter in this environment can {what} (have: {known})")
