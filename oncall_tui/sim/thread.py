"""Run the simulator on its own event loop in a background thread.

``oncall-tui demo`` needs the simulator beside a foreground program (the TUI
or a headless command) in one process, and needs it gone, port released,
when that program ends.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from types import TracebackType

from oncall_tui.sim.server import SimServer, running_sim


class SimThread:
    def __init__(
        self,
        *,
        scenarios: tuple[str, ...] = (),
        seed: int = 42,
        speed: float = 10.0,
        port: int = 0,
        warmup_s: float = 120.0,
        start: datetime | None = None,
    ) -> None:
        self._kwargs = {
            "start": start,
            "scenarios": scenarios,
            "seed": seed,
            "speed": speed,
            "port": port,
            "warmup_s": warmup_s,
        }
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.server: SimServer | None = None
        self._thread = threading.Thread(target=self._run, name="oncall-tui-sim", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_sim(**self._kwargs) as server:  # type: ignore[arg-type]
            self.server = server
            self._ready.set()
            await self._stop.wait()

    def start(self, timeout_s: float = 20.0) -> SimServer:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("the simulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the simulator failed to start: {self._error}") from self._error
        assert self.server is not None
        return self.server

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
