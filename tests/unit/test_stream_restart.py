"""The event stream across a gateway restart: the real simulator is stopped
and a new one started on the same loopback port (same tokens), as a deploy
or a crash does. The restarted gateway counts its events from 1 again; a
client resuming after the old sequence number would hear nothing until the
new count passed it. The ``native`` client (the one the CLI's ``gateway
watch`` and the console's overview both use) must notice, say so and resync.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from oncall_tui.cli.sim_cmd import config_snippet
from oncall_tui.core.gateway import Event
from oncall_tui.plugins import PluginContext
from oncall_tui.sim.server import running_sim
from oncall_tui.sources.native import RESTARTED, NativeGateway, Options

WAIT_S = 10.0  # an upper bound on each wait, never a sleep


def _native(url: str, token: str) -> NativeGateway:
    return NativeGateway(
        Options(url=url, token_env="T", timeout_s=2, reconnect_max_s=0.2),
        PluginContext(environ={"T": token}),
    )


async def _until(stream: AsyncIterator[Event], cond, seen: list[Event]) -> Event:
    """Read events into ``seen`` until one satisfies ``cond``; bounded."""

    async def read() -> Event:
        async for event in stream:
            seen.append(event)
            if cond(event):
                return event
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(read(), WAIT_S)


async def _restart_scenario(first_warmup: float, second_warmup: float) -> list[Event]:
    """Watch a gateway, restart it on the same port, watch on; the events
    seen from the restart on (the stream's own reports included)."""
    async with running_sim(seed=7, warmup_s=first_warmup) as first:
        port, token, read_token = first.port, first.token, first.read_token
        old_last = first.engine.seq
        gw = _native(first.url, token)
        stream = gw.events()
        before: list[Event] = []
        await _until(stream, lambda e: e.type != "hello" and e.seq == old_last, before)
    after: list[Event] = []
    try:
        async with running_sim(
            seed=8, warmup_s=second_warmup, port=port, token=token, read_token=read_token
        ) as second:
            new_last = second.engine.seq
            await _until(stream, _restart_said, after)
            # What the restarted gateway held is replayed from its start ...
            await _until(stream, lambda e: _numbered(e) and e.seq == new_last, after)
            # ... and live events follow.
            second.step(10)
            await _until(stream, lambda e: _numbered(e) and e.seq > new_last, after)
            assert new_last > 0
            return after
    finally:
        await stream.aclose()
        await gw.aclose()


def _restart_said(e: Event) -> bool:
    return e.type == "reset" and RESTARTED in (e.detail or "")


def _numbered(e: Event) -> bool:
    return e.type not in ("hello", "reset")


def _seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events if e.type not in ("hello", "reset")]


async def test_a_restart_with_a_lower_sequence_is_said_and_resynced() -> None:
    # The old gateway got far (120 s of traffic); the new one has barely begun.
    after = await _restart_scenario(first_warmup=120, second_warmup=10)
    said = [e for e in after if e.type == "reset" and RESTARTED in (e.detail or "")]
    assert len(said) == 1
    seqs = _seqs(after)
    assert seqs[0] == 1, "resynced from the new gateway's first event"
    assert seqs == list(range(1, len(seqs) + 1)), "nothing lost, nothing repeated"


async def test_a_restart_that_already_counted_past_us_is_told_by_its_epoch() -> None:
    # The new gateway has already counted past the seq we hold: only the
    # epoch in its hello tells it is not the gateway we were watching.
    after = await _restart_scenario(first_warmup=10, second_warmup=120)
    assert any(e.type == "reset" and RESTARTED in (e.detail or "") for e in after)
    seqs = _seqs(after)
    assert seqs[0] == 1 and seqs == list(range(1, len(seqs) + 1))


async def test_hello_carries_an_epoch_that_changes_with_each_start() -> None:
    async with running_sim(warmup_s=0) as one, running_sim(warmup_s=0) as two:
        hellos = []
        for sim in (one, two):
            gw = _native(sim.url, sim.token)
            stream = gw.events()
            try:
                hellos.append(await asyncio.wait_for(anext(stream), WAIT_S))
            finally:
                await stream.aclose()
                await gw.aclose()
    assert all(h.type == "hello" and h.epoch for h in hellos)
    assert hellos[0].epoch != hellos[1].epoch


async def test_a_since_ahead_of_the_gateway_is_a_restart_too() -> None:
    # `gateway watch --since N` with N from an earlier run of a gateway that
    # has since restarted: no epoch to compare, but the seq is ahead.
    seen: list[Event] = []
    async with running_sim(seed=7, warmup_s=30) as sim:
        gw = _native(sim.url, sim.token)
        stream = gw.events(since=sim.engine.seq + 500)
        try:
            await _until(stream, lambda e: e.type not in ("hello", "reset"), seen)
        finally:
            await stream.aclose()
            await gw.aclose()
    assert any(e.type == "reset" and RESTARTED in (e.detail or "") for e in seen)
    assert _seqs(seen)[0] == 1


async def test_gateway_watch_says_the_restart_and_goes_on(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """What a person runs: ``oncall-tui gateway watch``, a real process."""
    async with running_sim(seed=7, warmup_s=120) as first:
        port, token, read_token = first.port, first.token, first.read_token
        old_last = first.engine.seq
        cfg = tmp_path / "sim.yaml"
        cfg.write_text(config_snippet(first.url, "SIM_T"))
        env = {**cli_env, "ONCALL_TUI_CONFIG": str(cfg), "SIM_T": token}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oncall_tui", "gateway", "watch", "--json",
            "--include-status", "--seconds", "60",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        lines: list[dict[str, object]] = []

        async def read_until(cond) -> None:
            async def go() -> None:
                while True:
                    raw = await proc.stdout.readline()  # type: ignore[union-attr]
                    assert raw, "watch ended early"
                    lines.append(json.loads(raw))
                    if cond(lines[-1]):
                        return

            await asyncio.wait_for(go(), WAIT_S * 2)  # a process start included

        try:
            await read_until(lambda e: e["type"] != "hello" and e["seq"] == old_last)
        except BaseException:
            proc.terminate()
            await proc.wait()
            raise
    try:
        async with running_sim(
            seed=8, warmup_s=10, port=port, token=token, read_token=read_token
        ) as second:
            mark = len(lines)
            await read_until(lambda e: e["type"] == "reset" and RESTARTED in str(e.get("detail")))
            second.step(10)
            await read_until(lambda e: e["type"] not in ("hello", "reset") and e["seq"] > 2)
            after = [e for e in lines[mark:] if e["type"] not in ("hello", "reset")]
            assert after and after[0]["seq"] == 1
    finally:
        proc.terminate()
        await proc.wait()
