"""Start, clear and stop the real Firestore emulator of the Google Cloud CLI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class EmulatorError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def emulator_command() -> list[str]:
    """The emulator binary: from the SDK's platform folder, else through gcloud."""
    gcloud = shutil.which("gcloud")
    if gcloud:
        sdk = Path(gcloud).resolve().parent.parent
        binary = sdk / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator"
        if binary.exists():
            return [str(binary)]
        return [gcloud, "emulators", "firestore", "start", "--quiet"]
    raise EmulatorError(
        "The Google Cloud CLI is not installed: see the README's prerequisites "
        "(gcloud and its cloud-firestore-emulator component)."
    )


@dataclass
class Emulator:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def clear(self, project: str) -> None:
        url = f"http://{self.address}/emulator/v1/projects/{project}/databases/(default)/documents"
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).read()

    def load_rules(self, project: str, rules: str) -> None:
        import json

        url = f"http://{self.address}/emulator/v1/projects/{project}:securityRules"
        body = json.dumps({"rules": {"files": [{"name": "firestore.rules", "content": rules}]}})
        request = urllib.request.Request(
            url, data=body.encode(), method="PUT", headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).read()

    def warm_up(self, project: str) -> None:
        """Write and delete one document, so the first real request does not pay for the
        emulator's own start-up (its first write can outlast a request's deadline)."""
        url = (
            f"http://{self.address}/v1/projects/{project}/databases/(default)/documents/"
            "_warm_up/_warm_up"
        )
        owner = {"Authorization": "Bearer owner", "Content-Type": "application/json"}
        for method, body in (("PATCH", b'{"fields": {}}'), ("DELETE", None)):
            request = urllib.request.Request(url, data=body, method=method, headers=owner)
            urllib.request.urlopen(request, timeout=30).read()

    def export(self, project: str, directory: Path) -> None:
        """Save every document under `directory`, replacing the previous export."""
        import json

        directory.mkdir(parents=True, exist_ok=True)
        previous = [p for p in directory.iterdir() if p.is_dir()]
        url = f"http://{self.address}/emulator/v1/projects/{project}:export"
        body = {
            "database": f"projects/{project}/databases/(default)",
            "export_directory": str(directory.resolve()),
        }
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=60).read()
        for old in previous:
            shutil.rmtree(old, ignore_errors=True)

    def pause(self) -> None:
        """Freeze the emulator (and its JVM): connections stay open and nothing answers,
        which is how a hanging Firestore looks to a client."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def latest_export(data_dir: Path | None) -> Path | None:
    if data_dir is None or not data_dir.is_dir():
        return None
    exports = sorted(data_dir.glob("*/*.overall_export_metadata"), key=lambda p: p.stat().st_mtime)
    return exports[-1] if exports else None


PORT_TRIES = 3
"""Free ports tried in turn: one found free can be taken by another process before the
emulator binds it."""


class PortTaken(EmulatorError):
    """The emulator could not bind its port: another process had it."""


def start(
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_path: Path,
    rules: Path | None = None,
    data_dir: Path | None = None,
    timeout: float = 60.0,
) -> Emulator:
    """Start the emulator and wait until it answers, loading the latest export found in
    `data_dir` (see `Emulator.export`). Without a `port`, on a free one."""
    for _ in range(PORT_TRIES - 1):
        if port is not None:
            break
        try:
            return _start(free_port(), host, log_path, rules, data_dir, timeout)
        except PortTaken:
            continue
    return _start(port or free_port(), host, log_path, rules, data_dir, timeout)


def _start(
    port: int,
    host: str,
    log_path: Path,
    rules: Path | None,
    data_dir: Path | None,
    timeout: float,
) -> Emulator:
    command = emulator_command()
    if command[0].endswith("gcloud"):
        command += [f"--host-port={host}:{port}"]
        if rules:
            command += [f"--rules={rules}"]
        if saved := latest_export(data_dir):
            command += [f"--import-data={saved}"]
    else:
        command += ["--host", host, "--port", str(port)]
        if rules:
            command += ["--rules", str(rules)]
        if saved := latest_export(data_dir):
            command += ["--import-data", str(saved)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logged = log_path.stat().st_size if log_path.exists() else 0
    log = log_path.open("ab")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    emulator = Emulator(host, port, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with log_path.open("rb") as written:
                written.seek(logged)
                if b"BindException" in written.read():
                    raise PortTaken(f"port {port} was taken; see {log_path}")
            raise EmulatorError(f"the Firestore emulator exited; see {log_path}")
        try:
            urllib.request.urlopen(f"http://{host}:{port}/", timeout=1).read()
            return emulator
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    emulator.stop()
    raise EmulatorError(
        f"the Firestore emulator did not start within {timeout:.0f}s; see {log_path}"
    )
