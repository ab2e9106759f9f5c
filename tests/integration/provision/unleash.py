"""Provision a real Unleash 6.10.1 on loopback for integration tests.

What it does, once per test session (cached downloads under
~/.cache/oncall-tui/unleash):
- ``npm install unleash-server@6.10.1`` (Node 20; 8.x would need Node 22);
- a private PostgreSQL 15 cluster: ``initdb`` in a temp dir as a non-root user
  (the ``postgres`` system user when run as root), ``pg_ctl`` on a free port,
  listening on 127.0.0.1 only, trust auth for that one socket;
- Unleash on a free loopback port with known admin and client tokens
  (``INIT_ADMIN_API_TOKENS`` / ``INIT_CLIENT_API_TOKENS``), version check and
  telemetry off; ``/health`` polled until GOOD.

``UnleashUnavailable`` carries a reason a skip can show when this machine
cannot do it (no node, no PostgreSQL binaries, no registry access).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

VERSION = "6.10.1"
CACHE = Path.home() / ".cache" / "oncall-tui" / "unleash"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 120.0


class UnleashUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Unleash:
    url: str
    admin_token: str
    client_token: str  # scoped to the "development" environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], *, user: str | None = None, timeout: float = 120.0, **kw: object) -> str:
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise UnleashUnavailable(f"{argv[0]} failed: {(proc.stderr or proc.stdout)[-400:]}")
    return str(proc.stdout)


def ensure_installed() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise UnleashUnavailable("node/npm not installed (apt-get install nodejs npm)")
    entry = CACHE / "node_modules" / "unleash-server" / "package.json"
    if entry.exists() and f'"version": "{VERSION}"' in entry.read_text():
        return CACHE
    CACHE.mkdir(parents=True, exist_ok=True)
    pkg = CACHE / "package.json"
    if not pkg.exists():
        pkg.write_text('{"name": "oncall-tui-unleash", "private": true}\n')
    _run(
        ["npm", "install", "--no-audit", "--no-fund", f"unleash-server@{VERSION}"],
        cwd=str(CACHE),
        timeout=600,
    )
    return CACHE


def _pg_user() -> str | None:
    """None: run PostgreSQL as ourselves; otherwise the system user to run it as."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "postgres"])
    return "postgres"


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster; yields a DATABASE_URL."""
    if not (PG_BIN / "initdb").exists():
        raise UnleashUnavailable(
            f"PostgreSQL 15 binaries not at {PG_BIN} (apt-get install postgresql-15)"
        )
    user = _pg_user()
    root = Path(tempfile.mkdtemp(prefix="oncall-tui-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for p in (root, sock):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    port = free_port()
    try:
        _run(
            [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "unleash", "-E", "UTF8"],
            user=user,
        )
        _run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-l",
                str(root / "pg.log"),
                "-o",
                f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            user=user,
        )
        try:
            _run(
                [
                    str(PG_BIN / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "unleash",
                    "unleash",
                ],
                user=user,
            )
            yield f"postgres://unleash@127.0.0.1:{port}/unleash"
        finally:
            subprocess.run(
                (["runuser", "-u", user, "--"] if user else [])
                + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def start_unleash() -> Iterator[Unleash]:
    home = ensure_installed()
    admin = f"*:*.oncall-admin-{secrets.token_hex(12)}"
    client = f"*:development.oncall-client-{secrets.token_hex(12)}"
    with postgres() as database_url:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "DATABASE_URL": database_url,
            "DATABASE_SSL": "false",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "INIT_ADMIN_API_TOKENS": admin,
            "INIT_CLIENT_API_TOKENS": client,
            "CHECK_VERSION": "false",
            "SEND_TELEMETRY": "false",
            "LOG_LEVEL": "error",
        }
        log = open(home / "unleash.log", "w")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(
            ["node", "-e", "require('unleash-server').start()"],
            cwd=str(home),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise UnleashUnavailable(
                        f"unleash exited with {proc.returncode}: "
                        f"{(home / 'unleash.log').read_text()[-400:]}"
                    )
                try:
                    if httpx.get(f"{url}/health", timeout=2.0).json().get("health") == "GOOD":
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise UnleashUnavailable(
                        f"unleash did not become healthy in {START_TIMEOUT_S}s"
                    )
                time.sleep(0.5)
            yield Unleash(url=url, admin_token=admin, client_token=client)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.close()
