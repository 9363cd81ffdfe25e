"""The local stack a benchmark runs on: the real emulator, the EmailJS stand-in, the CRM
web app (the real Code.gs under Node.js), and functions served by functions-framework in
their own processes, as in production."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devstack import emulator as emulator_mod
from devstack.apps_script import AppsScript
from devstack.functions import Served, serve
from devstack.standins import StandIns

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-factoryops-bench"
HELLO = (ROOT / "bench" / "hello" / "main.py", "hello")
HELLO_FIRESTORE = (ROOT / "bench" / "hello" / "main.py", "hello_firestore")
BARE_CONTACT = (ROOT / "bench" / "hello" / "main.py", "bare_contact")
GENEROUS = "1000000/60"
ALTCHA_KEY = secrets.token_hex(32)
"""The proof of work's key, shared by the served functions and this process, which
solves challenges for the posts it sends (devstack.proofs)."""


def function_source(name: str) -> tuple[Path, str]:
    return ROOT / "functions" / name / "main.py", name


@dataclass
class Stack:
    emulator: emulator_mod.Emulator
    standins: StandIns
    logs: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a function process: the emulator, the stand-ins and the CRM
        web app, and rate limits high enough that a benchmark measures work rather than 429s."""
        env = {
            **os.environ,
            **self.standins.env(),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")]),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "FIRESTORE_EMULATOR_HOST": self.emulator.address,
            "CONTACT_RATE_LIMIT": GENEROUS,
            "CHAT_RATE_LIMIT": GENEROUS,
            "ACCESS_RATE_LIMIT": GENEROUS,
            "SWEEP_AUTH": "off",
            "PYTHONDONTWRITEBYTECODE": "1",
            "ALTCHA_HMAC_KEY": ALTCHA_KEY,
        }
        env.update(extra)
        return env

    def use_in_process(self) -> None:
        """Point this process's own factoryops at the stack."""
        from factoryops import config

        os.environ.update(self.env())
        config.reset()

    def clear(self) -> None:
        self.emulator.clear(PROJECT)
        self.standins.reset()


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        logs = Path(tmp)
        emulator = emulator_mod.start(log_path=logs / "emulator.log")
        crm = AppsScript().start()
        standins = StandIns(crm=crm).start()
        try:
            running = Stack(emulator, standins, logs)
            running.use_in_process()
            yield running
        finally:
            standins.stop()
            crm.stop()
            emulator.stop()


@dataclass
class Function:
    served: Served
    started: float
    """`time.perf_counter()` just before the process was started."""

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.served.process

    @property
    def url(self) -> str:
        return self.served.url

    def stop(self) -> None:
        self.served.stop()

    def worker_pid(self) -> int:
        """The process that serves requests: gunicorn's worker, a child of the one started."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if pids:
                return int(pids[0])
            time.sleep(0.05)
        return self.process.pid


def start(source: tuple[Path, str], env: dict[str, str], logs: Path) -> Function:
    path, target = source
    started = time.perf_counter()
    served = serve(target, env=env, log=logs / f"{target}.log", source=path, cwd=path.parent)
    return Function(served, started)


def call(
    url: str,
    method: str = "GET",
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    response = requests.request(method, url, json=body, headers=headers, timeout=timeout)
    return response.status_code, response.content


def first_success(
    function: Function,
    method: str,
    body: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
    path: str = "",
) -> float:
    """Seconds from the process start to its first 2xx answer to `method` `path`."""
    deadline = time.monotonic() + timeout
    while True:
        if function.process.poll() is not None:
            raise RuntimeError(f"{function.url} exited with {function.process.returncode}")
        try:
            status, payload = call(function.url.rstrip("/") + path, method, body, headers)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{function.url} did not answer") from None
            time.sleep(0.005)
            continue
        if 200 <= status < 300:
            return time.perf_counter() - function.started
        raise RuntimeError(f"{function.url} answered {status}: {payload[:300]!r}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")
