"""`make dev`: the whole local stack in one command.

Starts the real Firestore emulator (data kept under .local/), the EmailJS stand-in and
the CRM web app (the real apps_script/Code.gs under Node.js, with an in-memory sheet),
unless real settings are in the environment, every function with functions-framework on
its own port, the local Eventarc (devstack/eventarc.py: each record written reaches
forward_record as the CloudEvent Eventarc sends, so the email arrives within a second or
two of the visitor's answer, as in production), and the demo page on its own origin.
Prints every URL; Ctrl-C stops everything.

The team console signs in through the local sign-in stand-in (devstack/signin.py), as
any address typed in; TEAM_EMAILS (default DEV_TEAM) decides who gets in. Cloud
Scheduler does not exist locally, so the stack runs the sweep's deliveries task itself
every minute: retries, and the team's nudges, happen as they do in production.

The CRM web app checks every request's signature with the key the functions are given
(`python -m devstack.apps_script` runs it alone); with CRM_APPS_SCRIPT_URL in the
environment the functions use that web app instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from factoryops.config import from_env

from devstack import emulator as emulator_mod
from devstack.apps_script import AppsScript
from devstack.eventarc import Eventarc
from devstack.functions import NotServing, Served, serve
from devstack.standins import StandIns

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
PROJECT = "demo-factoryops"
HOST = "127.0.0.1"
PORTS = {
    "emulator": 8080,
    "contact_submit": 8081,
    "chat_message": 8082,
    "access_grant": 8083,
    "retention_sweep": 8084,
    "standins": 8085,
    "team_console": 8086,
    "apps_script": 8087,
    "forward_record": 8088,
    "site": 8000,
}
DEV_TEAM = "dev@factoryops.local"
"""Who may use the local console unless TEAM_EMAILS says otherwise."""
DELIVERIES_EVERY = 60.0
"""Seconds between the local runs of the sweep's deliveries task."""


def function_names() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))


def environment(standins: StandIns | None) -> dict[str, str]:
    env = dict(os.environ)
    site = f"http://localhost:{PORTS['site']}"
    console = PORTS["team_console"]
    env.setdefault("GOOGLE_CLOUD_PROJECT", PROJECT)
    env["FIRESTORE_EMULATOR_HOST"] = f"{HOST}:{PORTS['emulator']}"
    env.setdefault("ALLOWED_ORIGINS", f"{site},http://127.0.0.1:{PORTS['site']}")
    env.setdefault("SITE_URL", site)
    env.setdefault("SWEEP_AUTH", "off")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "lib"), env.get("PYTHONPATH")]))
    if standins is not None:
        fake = standins.env(scheduled=True)
        if not env.get("EMAILJS_SERVICE_ID"):
            env.update({k: v for k, v in fake.items() if k.startswith("EMAILJS_")})
            env.setdefault("TEAM_INBOX", fake["TEAM_INBOX"])
        if not env.get("CRM_APPS_SCRIPT_URL"):
            env.update({k: v for k, v in fake.items() if k.startswith("CRM_")})
        if not env.get("TEAM_OAUTH_CLIENT_ID"):
            origins = (f"http://localhost:{console}", f"http://{HOST}:{console}")
            # The console is announced (and its nudges link) at localhost: its sign-in
            # is named alike, so that the sign-in's cookie keeps a member signed in.
            env.update(standins.signin_env(*origins, host="localhost"))
    if not env.get("TEAM_EMAILS", "").strip():
        env["TEAM_EMAILS"] = DEV_TEAM
    return env


def start_function(name: str, env: dict[str, str], logs: Path) -> Served:
    # Its own process group, so that Ctrl-C stops gunicorn's workers too.
    return serve(name, env=env, log=logs / f"{name}.log", port=PORTS[name], host=HOST, group=True)


def start_site(env: dict[str, str], logs: Path) -> Served | None:
    if not (ROOT / "web").is_dir() or not any((ROOT / "web").iterdir()):
        return None
    port = PORTS["site"]
    log = logs / "site.log"
    urls = [
        f"--{flag}-url=http://{HOST}:{PORTS[name]}/"
        for flag, name in (
            ("contact", "contact_submit"),
            ("chat", "chat_message"),
            ("access", "access_grant"),
        )
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.site", "--port", str(port), *urls],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
        )  # fmt: skip
    return Served("demo page", f"http://localhost:{port}/", process, log, group=True)


class DeliveriesClock:
    """Cloud Scheduler's deliveries job, locally: POSTs the task to the sweep (which runs
    with SWEEP_AUTH=off here) every DELIVERIES_EVERY seconds, from a background thread.
    Each run's answer goes to the log; a failure is said once until a run succeeds."""

    def __init__(self, sweep_url: str, log: Path, every: float = DELIVERIES_EVERY) -> None:
        self.sweep_url = sweep_url
        self.log = log
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._failing = False

    def start(self) -> DeliveriesClock:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.run_once()

    def run_once(self) -> None:
        request = urllib.request.Request(
            self.sweep_url,
            data=b'{"tasks": ["deliveries"]}',
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                outcome = f"{response.status} {response.read().decode(errors='replace')}"
            failed = False
        except urllib.error.HTTPError as exc:
            outcome, failed = f"{exc.code} {exc.read().decode(errors='replace')}", True
        except (OSError, urllib.error.URLError) as exc:
            outcome, failed = f"unreachable: {exc}", True
        with self.log.open("a") as out:
            out.write(f"{stamp} deliveries {outcome}\n")
        if failed and not self._failing:
            print(f"the local deliveries run failed ({outcome}); see {self.log}", file=sys.stderr)
        self._failing = failed


# What `siteadmin` needs to work on the same emulator and stand-ins as the functions.
CLI_SETTINGS = (
    "GOOGLE_CLOUD_PROJECT",
    "FIRESTORE_EMULATOR_HOST",
    "SITE_URL",
    "RETENTION_DAYS",
    "TEAM_INBOX",
    "REPLY_EMAIL_AFTER",
    "REPLY_EMAIL_EVERY",
)
CLI_PREFIXES = ("EMAILJS_", "CRM_", "SWEEP_")


def write_env_file(env: dict[str, str], path: Path) -> Path:
    """Write the stack's settings for `siteadmin` as a shell file to source."""
    import shlex

    lines = [
        f"{name}={shlex.quote(value)}"
        for name, value in sorted(env.items())
        if name in CLI_SETTINGS or name.startswith(CLI_PREFIXES)
    ]
    path.write_text(
        "# Written by `make dev`: the local stack's settings.\n" + "\n".join(lines) + "\n"
    )
    path.chmod(0o600)
    return path


def main() -> None:
    # Ctrl-C and SIGTERM both stop the stack, even when started in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logs = LOCAL / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rules = ROOT / "firestore.rules"
    print("starting the Firestore emulator ...", flush=True)
    emulator = emulator_mod.start(
        port=PORTS["emulator"],
        log_path=logs / "firestore-emulator.log",
        rules=rules if rules.exists() else None,
        data_dir=LOCAL / "firestore",
    )
    # The local CRM web app, unless the environment names a real one.
    crm = None
    if not os.environ.get("CRM_APPS_SCRIPT_URL"):
        crm = AppsScript(PORTS["apps_script"], HOST).start()
    standins = StandIns(PORTS["standins"], HOST, crm=crm).start()
    env = environment(standins)
    emulator.warm_up(env["GOOGLE_CLOUD_PROJECT"])
    services = [start_function(name, env, logs) for name in function_names()]
    site = start_site(env, logs)
    if site is not None:
        services.append(site)
    sweep_url = f"http://{HOST}:{PORTS['retention_sweep']}/"
    clock = DeliveriesClock(sweep_url, logs / "deliveries-clock.log")
    forwarder = f"http://{HOST}:{PORTS['forward_record']}/"
    eventarc = Eventarc(target=forwarder, project=env["GOOGLE_CLOUD_PROJECT"])
    try:
        for service in services:
            try:
                service.wait_until_serving(timeout=30)
            except NotServing as exc:
                raise SystemExit(f"{service.url} {exc.reason}; see .local/logs/") from None
        os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]
        eventarc.start()
        print()
        print(f"  Firestore emulator   http://{emulator.address}  (data in .local/firestore)")
        print(f"  stand-ins            {standins.url}/_standins/records  (EmailJS)")
        if crm is not None:
            print(f"  CRM web app          {crm.url}  (Code.gs; its sheet: {crm.base}/_rows)")
        print(f"  Eventarc             contact_submissions, chat_sessions -> {forwarder}")
        for service in services:
            print(f"  {service.name:<20} {service.url}")
        print()
        clock.start()
        cfg = from_env(env)  # the functions have read it already: it is valid
        print(f"  team console:  http://localhost:{PORTS['team_console']}/")
        if cfg.team_certs_url:
            team = ", ".join(cfg.team_emails)
            print(f"                 sign in as {team} (TEAM_EMAILS; others are refused)")
        print(
            f"  deliveries:    the sweep's deliveries task runs every {DELIVERIES_EVERY:.0f} s"
            " (Cloud Scheduler's job, locally);"
        )
        print(
            "                 a visitor's later message nudges the team's inbox after"
            f" {cfg.notify_after} s (NOTIFY_AFTER)"
        )
        print()
        env_file = write_env_file(env, LOCAL / "dev.env")
        print(f"  siteadmin against this stack:  set -a; . {env_file.relative_to(ROOT)}; set +a")
        print("                                 .venv/bin/siteadmin --help")
        print("  logs: .local/logs/")
        print("  Ctrl-C stops everything.", flush=True)
        while all(s.process.poll() is None for s in services):
            time.sleep(0.5)
        print("a service stopped; see .local/logs/", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping ...", flush=True)
        clock.stop()
        eventarc.stop()
        for service in services:
            service.terminate()
        for service in services:
            service.stop()
        standins.stop()
        if crm is not None:
            crm.stop()
        try:
            emulator.export(env["GOOGLE_CLOUD_PROJECT"], LOCAL / "firestore")
        except (OSError, urllib.error.URLError) as exc:
            print(f"could not save the emulator's data: {exc}", file=sys.stderr)
        emulator.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
