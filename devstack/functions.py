"""One function served by functions-framework in its own process, as in production.

`make dev`, the bundle, fuzz and browser tests and the benchmarks all start functions
this way: `serve()` starts the process with its output in a log file,
`Served.wait_until_serving()` waits until it answers, `Served.stop()` ends it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devstack.emulator import free_port

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE = 10
"""Seconds a process has to exit after SIGTERM before it is killed."""


class NotServing(RuntimeError):
    """The process exited, or did not answer in time; the message holds its log."""

    def __init__(self, served: Served, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{served.name} at {served.url} {reason}\n{served.log_text()}")


@dataclass
class Served:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    group: bool = False
    """Whether the process leads its own process group (signals then reach gunicorn's
    workers too)."""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_until_serving(self, timeout: float = 60) -> None:
        """Return once the URL answers an OPTIONS request with any status."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise NotServing(self, "exited")
            try:
                request = urllib.request.Request(self.url, method="OPTIONS")
                with urllib.request.urlopen(request, timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() >= deadline:
                    raise NotServing(self, f"did not answer within {timeout:.0f}s") from None
                time.sleep(0.2)

    def terminate(self) -> None:
        """Send SIGTERM without waiting, so that several processes stop at once."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        try:
            self.process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)


def serve(
    name: str,
    *,
    env: dict[str, str],
    log: Path,
    port: int | None = None,
    host: str = "127.0.0.1",
    source: str | Path | None = None,
    cwd: Path | None = None,
    python_flags: Sequence[str] = (),
    group: bool = False,
) -> Served:
    """Start `functions-framework --target NAME` on PORT (a free one if None).

    SOURCE defaults to functions/NAME/main.py; a relative SOURCE is read from CWD. With
    GROUP the process gets its own session, so `stop()` reaches its children too.
    """
    port = free_port() if port is None else port
    source = ROOT / "functions" / name / "main.py" if source is None else source
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable, *python_flags, "-m", "functions_framework",
                "--source", str(source), "--target", name,
                "--host", host, "--port", str(port),
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=group,
        )  # fmt: skip
    return Served(name, f"http://{host}:{port}/", process, log, group)
