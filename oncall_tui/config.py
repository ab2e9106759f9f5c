"""The configuration file: where it is, what it may say, and every way it is wrong.

``load`` returns a validated ``Config`` or raises ``ConfigError`` with the first
problem; ``check`` collects every problem (file, line, key, closest valid key)
for ``oncall-tui config validate``. Adapter options are validated against the
options each plugin declares as data, so the schema grows with the plugins.
Secrets never live in the file: a field ending in ``_env`` names an environment
variable, and only its presence is checked, never its value shown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import yaml

from oncall_tui.binding_ids import BINDING_IDS
from oncall_tui.errors import ConfigError, OncallError
from oncall_tui.plugins import load as load_plugin
from oncall_tui.redact import Redactor, looks_secret, strip_userinfo
from oncall_tui.yamlcheck import (
    Path_,
    Problem,
    StructChecker,
    closest,
    closest_hint,
    decode,
    dotted,
    line_for,
    line_map,
    split_msgspec_error,
    yaml_problem,
)
from oncall_tui.yamlcheck import load as load_yaml

__all__ = ["Config", "Environment", "Problem"]

CONFIG_ENV = "ONCALL_TUI_CONFIG"
VERSION = 1  # the config format this oncall-tui reads


class Environment(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One place the responder can act on: prod, staging, demo, ..."""

    read_only: bool | None = None  # None: inherit the global switch
    description: str = ""
    # name -> {plugin: <entry point name>, ...that plugin's options}
    gateways: dict[str, dict[str, Any]] = {}
    trace_stores: dict[str, dict[str, Any]] = {}
    flags: dict[str, dict[str, Any]] = {}


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    version: int = 1
    default_environment: str | None = None
    read_only: bool = False
    #: Where the audit log lives; default under the XDG state dir.
    audit_log: str | None = None
    #: Extra folders of runbooks beside the shipped ones.
    runbook_paths: list[str] = []
    #: TUI key remaps: binding id -> key (e.g. ``overview.kill_switch: ctrl+k``).
    keys: dict[str, str] = {}
    actor: str | None = None  # who the audit log says acted; default $USER@host
    environments: dict[str, Environment] = {}

    def environment(self, name: str | None) -> tuple[str, Environment]:
        chosen = name or self.default_environment
        if chosen is None and len(self.environments) == 1:
            chosen = next(iter(self.environments))
        if chosen is None:
            raise ConfigError(
                "no environment chosen and the config names no default_environment",
                hint=f"pass --env, one of: {', '.join(self.environments) or 'none defined'}",
            )
        env = self.environments.get(chosen)
        if env is None:
            raise ConfigError(
                f"no environment named {chosen!r} in the config",
                hint=_closest_hint(chosen, list(self.environments)),
            )
        return chosen, env

    def is_read_only(self, env: Environment, cli_flag: bool = False) -> bool:
        """CLI flag > environment > global, as k9s does."""
        if cli_flag:
            return True
        if env.read_only is not None:
            return env.read_only
        return self.read_only


ADAPTER_SECTIONS = ("gateways", "trace_stores", "flags")


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "oncall-tui" / "config.yaml"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "oncall-tui"


# Line numbers, closest keys and the Struct walk live in yamlcheck (runbooks use
# them too); the private names stay for callers that imported them from here.
_line_map = line_map
_line_for = line_for
_split_msgspec_error = split_msgspec_error
_closest = closest
_closest_hint = closest_hint
_dotted = dotted


# ---------------------------------------------------------------- validation


class _Checker(StructChecker):
    def __init__(self, file: str, lines: dict[Path_, int], environ: Mapping[str, str]):
        super().__init__(file, lines)
        self.environ = environ

    def field_hook(self, name: str, value: Any, path: Path_) -> None:
        # Checked here, not first at use: a bad value must fail `config validate`,
        # not a command hours later with a misleading error ("timed out").
        if name.endswith("_env") and isinstance(value, str):
            self.secret(value, path)
        elif (name == "url" or name.endswith("_url")) and isinstance(value, str):
            self.url(value, path)
        elif name.endswith("_s") and _is_number(value) and value <= 0:
            self.add(path, f"must be more than 0 seconds, got {value}")
        elif name == "version" and path == ("version",) and value != VERSION:
            self.add(path, f"version {value!r} is not one this oncall-tui reads ({VERSION})")
        elif name == "keys" and path == ("keys",) and isinstance(value, dict):
            for binding in value:
                if str(binding) not in BINDING_IDS:
                    self.add(
                        (*path, binding),
                        "unknown binding id (press ? in the console for the ids)",
                        closest(str(binding), sorted(BINDING_IDS)),
                    )

    def url(self, value: str, path: Path_) -> None:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises on a port that is not a number)
        except ValueError as exc:
            self.add(path, f"not a URL: {strip_userinfo(str(exc))}")
            return
        if parts.scheme not in ("http", "https") or not parts.hostname:
            shown = strip_userinfo(value)
            self.add(path, f"{shown!r} is not an http:// or https:// URL with a host")

    def secret(self, var: str, path: Path_) -> None:
        if not self.environ.get(var):
            self.add(path, f"environment variable {var} is not set")

    def adapters(self, env_name: str, section: str, entries: Any) -> None:
        base: Path_ = ("environments", env_name, section)
        if not isinstance(entries, dict):
            return  # the struct check already reported the wrong type
        for name, entry in entries.items():
            path = (*base, name)
            if not isinstance(entry, dict):
                self.add(
                    path, f"expected a mapping with a 'plugin' key, got {type(entry).__name__}"
                )
                continue
            plugin_name = entry.get("plugin")
            if not isinstance(plugin_name, str):
                self.add((*path, "plugin"), "required key is missing (which adapter plugin to use)")
                continue
            try:
                plugin = load_plugin(plugin_name)
            except OncallError as exc:
                self.add((*path, "plugin"), str(exc))
                continue
            if section not in plugin.roles:
                self.add(
                    (*path, "plugin"),
                    f"plugin {plugin_name!r} cannot serve as {section} "
                    f"(it serves: {', '.join(plugin.roles)})",
                )
            options = {k: v for k, v in entry.items() if k != "plugin"}
            self.struct(options, plugin.options, path)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no config file", hint=f"create it, or point ${CONFIG_ENV} at one"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def check_text(
    text: str, file: str, environ: Mapping[str, str] | None = None
) -> tuple[Config | None, list[Problem]]:
    """Validate a config document; return the config (if valid) and every problem."""
    env = os.environ if environ is None else environ
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        return None, [yaml_problem(exc, file)]
    if data is None:
        data = {}
    checker = _Checker(file, _line_map(text), env)
    checker.struct(data, Config, ())
    envs = data.get("environments") if isinstance(data, dict) else None
    if isinstance(envs, dict):
        for env_name, env_data in envs.items():
            if isinstance(env_data, dict):
                for section in ADAPTER_SECTIONS:
                    if section in env_data:
                        checker.adapters(str(env_name), section, env_data[section])
    if isinstance(data, dict):
        default = data.get("default_environment")
        if isinstance(default, str) and isinstance(envs, dict) and default not in envs:
            checker.add(
                ("default_environment",),
                f"names environment {default!r}, which is not defined",
                _closest(default, [str(k) for k in envs]),
            )
    checker.problems.sort(key=lambda p: (p.line or 0, p.key))
    if checker.problems:
        return None, checker.problems
    return msgspec.convert(data, Config), []


def check(
    path: Path, environ: Mapping[str, str] | None = None
) -> tuple[Config | None, list[Problem]]:
    text, problem = decode(_read(path), str(path))
    if problem is not None:
        return None, [problem]
    assert text is not None
    return check_text(text, str(path), environ)


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The validated config; ``ConfigError`` naming the first problem otherwise."""
    cfg_path = path or default_path(environ)
    config, problems = check(cfg_path, environ)
    if problems:
        more = (
            f" (+{len(problems) - 1} more; run 'oncall-tui config validate')"
            if len(problems) > 1
            else ""
        )
        raise ConfigError(f"{problems[0]}{more}")
    assert config is not None
    return config


def adapter_entries(env: Environment, section: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (plugin name, options) for one section of an environment."""
    entries: dict[str, dict[str, Any]] = getattr(env, section)
    return {
        name: (str(entry["plugin"]), {k: v for k, v in entry.items() if k != "plugin"})
        for name, entry in entries.items()
    }


def redactor(config: Config, environ: Mapping[str, str] | None = None) -> Redactor:
    """The project's redactor loaded with every secret this config names, in
    every environment (a value is masked wherever it turns up)."""
    env = os.environ if environ is None else environ
    sections = [
        getattr(e, section) for e in config.environments.values() for section in ADAPTER_SECTIONS
    ]
    return Redactor.from_sections(sections, env)


def masked(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config as plain data, safe to print: ``*_env`` fields say set/unset,
    nothing more; a URL's ``user:password@`` is masked."""
    env = os.environ if environ is None else environ
    data: Any = msgspec.to_builtins(config)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if isinstance(key, str) and key.endswith("_env") and isinstance(value, str):
                    out[key] = f"{value} ({'set' if env.get(value) else 'NOT SET'})"
                elif isinstance(key, str) and _looks_secret(key) and isinstance(value, str):
                    out[key] = "****"
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return strip_userinfo(node)
        return node

    result: dict[str, Any] = walk(data)
    return result


def _looks_secret(key: str) -> bool:
    # A secret pasted into the file by mistake is still never echoed back.
    return looks_secret(key)
