"""`wise serve` as a child process on loopback, for the tests and benchmarks that talk to it
over HTTP: start it on a free port, wait until it answers, stop it as a user would (^C)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil


class ServiceDidNotStart(RuntimeError):
    """The service exited, or did not answer /health in time; the message ends with its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(args: list[str], log: Path, *, token: str | None = None,
                  env: dict[str, str] | None = None,
                  timeout_s: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Run `wise serve ARGS --port P` with its output in `log` (`token` as WISE_TOKEN, `env`
    over this process's environment), and return (process, url) once GET /health answers
    200. Raises `ServiceDidNotStart`, having killed it, when it exits first or `timeout_s`
    passes."""
    port = free_port()
    env = {**os.environ, **(env or {}), **({"WISE_TOKEN": token} if token else {})}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wise.cli", "serve", *args,
                                 "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/health", headers=headers, timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise ServiceDidNotStart(f"wise serve did not start:\n{log.read_text()}")
        time.sleep(0.2)


def stop_service(proc: subprocess.Popen, timeout_s: float = 60.0) -> int:
    """^C (SIGINT), as a user stops it, and its exit status; killed if it has not exited
    within `timeout_s` (then the status is the kill's, never 0)."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def workers_of(server: psutil.Process) -> list[psutil.Process]:
    """The prediction worker processes (spawned children; not the resource tracker)."""
    out = []
    for p in server.children(recursive=True):
        try:
            if "spawn_main" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def tree_rss_mb(server: psutil.Process) -> tuple[float, float]:
    """(server process, all its children) resident memory in MiB."""
    own = server.memory_info().rss
    children = 0
    for p in server.children(recursive=True):
        try:
            children += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return own / 2**20, children / 2**20
