"""Issue 14 item 9: hostile or mistaken config input ends as one line with
file:line at validate time (the fixtures in bad_configs/ carry one each; the
per-file test is test_config.test_bad_config_reports_each_expected_problem)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from oncall_tui import config
from oncall_tui.binding_ids import BINDING_IDS
from oncall_tui.cli.main import main

BAD = Path(__file__).resolve().parent.parent / "fixtures" / "bad_configs"


@pytest.mark.parametrize(
    "name", ["invalid_utf8.yaml", "utf16.yaml", "alias_bomb.yaml", "duplicate_keys.yaml"]
)
def test_every_command_reports_bad_input_in_one_line(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not only `config validate`: every command loads the config the same way.
    monkeypatch.setenv("ONCALL_TUI_CONFIG", str(BAD / name))
    assert main(["gateway", "status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"oncall-tui: error: {BAD / name}:")


def test_utf8_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbfread_only: true\n")
    cfg, problems = config.check(path, environ={})
    assert problems == [] and cfg is not None and cfg.read_only is True


def test_a_tiny_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    # Like the reported 271-byte bomb: nine levels of nine aliases.
    levels = ["a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\n")
    assert len(path.read_bytes()) < 400  # a few hundred bytes, billions of nodes expanded
    cfg, problems = config.check(path, environ={})
    assert cfg is None and len(problems) == 1
    assert "alias bomb" in problems[0].message and problems[0].line is not None


def test_small_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "environments:\n"
        "  prod:\n"
        "    gateways:\n"
        "      a: &gw {plugin: native, url: 'http://127.0.0.1:1', timeout_s: 5}\n"
        "      b: {<<: *gw, timeout_s: 2}\n"  # a merge key overridden: not a duplicate
        "      c: *gw\n"
    )
    cfg, problems = config.check(path, environ={})
    assert problems == [], [str(p) for p in problems]
    assert cfg is not None
    assert cfg.environments["prod"].gateways["b"]["timeout_s"] == 2


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "https://gw.example:8443/base"])
def test_good_urls_pass(tmp_path: Path, url: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"environments:\n  p:\n    gateways:\n      g: {{plugin: native, url: '{url}'}}\n"
    )
    assert config.check(path, environ={})[1] == []


def test_bad_url_error_never_shows_its_password(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "environments:\n  p:\n    gateways:\n      g: {plugin: native, url: 'ftp://u:pw-9x8y@h/'}\n"
    )
    _, problems = config.check(path, environ={})
    assert len(problems) == 1 and "pw-9x8y" not in str(problems[0])


def test_binding_ids_match_the_console() -> None:
    # The headless list the validator uses must be exactly what the TUI binds.
    import oncall_tui.tui as tui

    found: set[str] = set()
    for info in pkgutil.iter_modules(tui.__path__):
        module = importlib.import_module(f"oncall_tui.tui.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for binding in getattr(cls, "BINDINGS", []):
                if getattr(binding, "id", None):
                    found.add(binding.id)
    choices = {f"runbook.choice{i}" for i in range(1, 10)}  # bound per decision at run time
    assert found | choices == BINDING_IDS
