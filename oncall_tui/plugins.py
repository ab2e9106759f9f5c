"""Adapter plugins, found through the ``oncall_tui.plugins`` entry-point group.

Built-in adapters register exactly like third-party ones (pyproject.toml). An
entry point names a module holding a module-level ``PLUGIN: Plugin``. Listing
reads package metadata only; a plugin module is imported when a config or a
command names it, and a broken one is reported, never allowed to break the CLI.

Capabilities are not declared here: the adapter a factory returns either
implements a capability Protocol from ``oncall_tui.sources.capabilities`` or
it does not, and callers probe with ``isinstance`` before offering an action.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

import msgspec

from oncall_tui.errors import PluginError

ENTRY_POINT_GROUP = "oncall_tui.plugins"

#: Config sections a plugin may be named in.
Role = Literal["gateways", "trace_stores", "flags"]


@dataclass(frozen=True)
class PluginContext:
    """What a factory gets besides its options: secrets and test seams."""

    environ: Mapping[str, str]
    #: An ``httpx`` transport to use instead of the network (tests pass
    #: ``httpx.MockTransport``); ``None`` means a real connection.
    transport: Any = None
    timeout_s: float = 10.0

    def secret(self, env_name: str | None) -> str | None:
        """The value of the variable a config names; never log what this returns."""
        if env_name is None:
            return None
        return self.environ.get(env_name)


@dataclass(frozen=True)
class Plugin:
    name: str
    summary: str
    roles: tuple[Role, ...]
    #: The plugin's options as data: a msgspec Struct type declared with
    #: ``forbid_unknown_fields=True``. The config validator is built from it.
    options: type[msgspec.Struct]
    factory: Callable[[Any, PluginContext], object]
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginInfo:
    """What listing knows without importing anything."""

    name: str
    module: str
    distribution: str | None
    version: str | None


def available() -> dict[str, PluginInfo]:
    """Every installed plugin by name, read from metadata without importing."""
    found: dict[str, PluginInfo] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found[ep.name] = PluginInfo(
            name=ep.name,
            module=ep.value.split(":")[0],
            distribution=dist.name if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
    return dict(sorted(found.items()))


_cache: dict[str, Plugin] = {}


def load(name: str) -> Plugin:
    """Import one plugin; every failure is a ``PluginError`` naming the installed ones."""
    if name in _cache:
        return _cache[name]
    infos = available()
    installed = ", ".join(infos) or "none"
    info = infos.get(name)
    if info is None:
        raise PluginError(f"no plugin named {name!r} is installed (installed: {installed})")
    try:
        module = importlib.import_module(info.module)
        plugin = module.PLUGIN
    except Exception as exc:  # a third-party plugin may fail in any way at all
        raise PluginError(
            f"plugin {name!r} ({info.module}) failed to load: {type(exc).__name__}: {exc}",
            hint=f"installed: {installed}",
        ) from exc
    if not isinstance(plugin, Plugin):
        raise PluginError(f"plugin {name!r}: {info.module}.PLUGIN is not an oncall_tui Plugin")
    _cache[name] = plugin
    return plugin


def build(name: str, options: Mapping[str, Any], ctx: PluginContext) -> object:
    """Load a plugin, validate its options strictly, and construct the adapter."""
    plugin = load(name)
    try:
        opts = msgspec.convert(dict(options), plugin.options)
    except msgspec.ValidationError as exc:
        raise PluginError(f"plugin {name!r}: invalid options: {exc}") from exc
    return plugin.factory(opts, ctx)


def options_schema(plugin: Plugin) -> dict[str, Any]:
    """The options as JSON Schema, for ``plugins list --json`` and the docs."""
    return msgspec.json.schema(plugin.options)
