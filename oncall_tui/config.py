"""The configuration file: where it is, what it may say, and every way it is wrong.

``load`` returns a validated ``Config`` or raises ``ConfigError`` with the first
problem; ``check`` collects every problem (file, line, key, closest valid key)
for ``oncall-tui config validate``. Adapter options are validated against the
options each plugin declares as data, so the schema grows with the plugins.
Secrets never live in the file: a field ending in ``_env`` names an environment
variable, and only its presence is checked, never its value shown.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import yaml

from oncall_tui.errors import ConfigError, OncallError
from oncall_tui.plugins import load as load_plugin

CONFIG_ENV = "ONCALL_TUI_CONFIG"


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
    #: TUI key remaps: binding id -> key (e.g. ``kill_switch: ctrl+k``).
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


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    key: str  # dotted path, e.g. environments.prod.gateways.main.url
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return text if self.suggestion is None else f"{text} (did you mean {self.suggestion!r}?)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "key": self.key,
            "message": self.message,
            "suggestion": self.suggestion,
        }


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


# ---------------------------------------------------------------- line numbers


Path_ = tuple[str | int, ...]


def _line_map(text: str) -> dict[Path_, int]:
    """Map each key path in the YAML document to its 1-based line."""
    lines: dict[Path_, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())] if root is not None else []
    while stack:  # iterative: a hostile file must not hit the recursion limit
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                lines[(*path, key)] = key_node.start_mark.line + 1
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                stack.append((item, (*path, i)))
    return lines


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


_MSGSPEC_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[['\"]?([^\]'\"]+)['\"]?\]")


def _split_msgspec_error(exc: msgspec.ValidationError) -> tuple[str, Path_]:
    m = _MSGSPEC_PATH.match(str(exc))
    if m is None:  # pragma: no cover - the regex matches any string
        return str(exc), ()
    parts: list[str | int] = []
    for dotted, index, keyed in _PATH_PART.findall(m.group("path") or ""):
        parts.append(dotted or (int(index) if index else keyed))
    return m.group("msg"), tuple(parts)


def _closest(name: str, options: list[str]) -> str | None:
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return match[0] if match else None


def _closest_hint(name: str, options: list[str]) -> str:
    best = _closest(name, options)
    if best is not None:
        return f"did you mean {best!r}?"
    return f"known: {', '.join(options) or 'none'}"


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


# ---------------------------------------------------------------- validation


class _Checker:
    def __init__(self, file: str, lines: dict[Path_, int], environ: Mapping[str, str]):
        self.file = file
        self.lines = lines
        self.environ = environ
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str, suggestion: str | None = None) -> None:
        self.problems.append(
            Problem(self.file, _line_for(self.lines, path), _dotted(path), message, suggestion)
        )

    def struct(self, data: Any, typ: type[msgspec.Struct], path: Path_) -> None:
        """Check every field of ``data`` against ``typ``; report all, not the first."""
        if not isinstance(data, dict):
            self.add(path, f"expected a mapping, got {type(data).__name__}")
            return
        fields = {f.encode_name: f for f in msgspec.structs.fields(typ)}
        for key in data:
            if key not in fields:
                self.add((*path, key), "unknown key", _closest(str(key), list(fields)))
        for name, info in fields.items():
            if name not in data:
                if info.required:
                    self.add((*path, name), "required key is missing")
                continue
            self.value(data[name], info.type, (*path, name))
            if name.endswith("_env") and isinstance(data[name], str):
                self.secret(data[name], (*path, name))

    def value(self, value: Any, typ: Any, path: Path_) -> None:
        origin = typing.get_origin(typ)
        args = typing.get_args(typ)
        if isinstance(typ, type) and issubclass(typ, msgspec.Struct):
            self.struct(value, typ, path)
            return
        if origin is dict and len(args) == 2 and isinstance(value, dict):
            for key, item in value.items():
                self.value(item, args[1], (*path, key))
            return
        try:
            msgspec.convert(value, typ)
        except msgspec.ValidationError as exc:
            message, sub = _split_msgspec_error(exc)
            self.add((*path, *sub), message.rstrip(" -"))

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


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
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
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            problem += f" ({context} that starts at line {context_mark.line + 1})"
        return None, [Problem(file, line, "", f"not valid YAML: {problem}")]
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
    return check_text(_read(path), str(path), environ)


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


def masked(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config as plain data, safe to print: ``*_env`` fields say set/unset, nothing more."""
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
        return node

    result: dict[str, Any] = walk(data)
    return result


_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey")


def _looks_secret(key: str) -> bool:
    # A secret pasted into the file by mistake is still never echoed back.
    low = key.lower()
    return any(word in low for word in _SECRET_WORDS)
