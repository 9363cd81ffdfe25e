"""The Google REST calls gcloud has no command for, and the index file deploy.sh reads.

    python3 -m deployment.google_apis rules --project ID RULES_FILE [--dry-run]
    python3 -m deployment.google_apis field-indexes --project ID INDEX_FILE [--dry-run]
    python3 -m deployment.google_apis index-rows INDEX_FILE

`rules` publishes firestore.rules through the Firebase Rules API: it reads the live
release and its ruleset, and only when they differ from the file creates a ruleset and
points the release at it. `field-indexes` sets each `fieldOverrides` entry of
firestore.indexes.json through the Firestore Admin API, since gcloud sets single-field
indexes for collection queries only. `index-rows` gives deploy.sh the rest of that file
(composite indexes, TTL policies) as tab-separated rows, for gcloud.

Both REST commands print each call before making it, in the notation of deploy.sh's
plan (`+ METHOD URL [BODY]`). The deployer's access token is read from stdin, so that
it is on no command line. With --dry-run nothing is read from stdin, every branch is
printed and no call is made: without a token the transport refuses to send.

GOOGLE_APIS_STANDIN (tests only) sends the calls to a stand-in on this machine: given a
loopback http:// root, https://HOST/PATH goes to ROOT/HOST/PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RULES_API = "https://firebaserules.googleapis.com/v1"
FIRESTORE_API = "https://firestore.googleapis.com/v1"
RELEASE = "cloud.firestore"
STANDIN = "GOOGLE_APIS_STANDIN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TIMEOUT = 60.0
RULESET_NAME = "<ruleset-name>"
RULES_TEXT = "<firestore.rules>"
"""How the plan shows the rules file inside a ruleset's body, rather than all of it."""


class Failure(Exception):
    """A call that failed or was refused; deploy.sh stops with this message."""


# -- the plan's notation -------------------------------------------------------------

_SAFE = re.compile(r"[A-Za-z0-9_./:=@,+%<>-]+")


def quote(word: str) -> str:
    """Shell-quotes only where needed, as deploy.sh's plan does; <...> stays bare."""
    if _SAFE.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


class Plan:
    """Prints what is done, as deploy.sh does: `+ ` what runs, `# ` notes, and in a dry
    run both branches of every choice, indented."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.indent = ""

    def say(self, line: str) -> None:
        print(line, flush=True)

    def note(self, text: str) -> None:
        self.say(f"# {self.indent}{text}")

    def show(self, *words: str) -> None:
        self.say("+ " + self.indent + " ".join(quote(w) for w in words))

    @contextmanager
    def branch(self, condition: str) -> Iterator[None]:
        """What follows runs only under `condition`; a dry run says so and indents it."""
        if not self.dry_run:
            yield
            return
        self.say(f"  # {condition}:")
        self.indent = "  "
        try:
            yield
        finally:
            self.indent = ""


# -- the calls -----------------------------------------------------------------------


def compact(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    text: str

    def excerpt(self, size: int = 300) -> str:
        return self.text[:size]


class Google:
    """Google's REST APIs, as the deployer, for one project."""

    def __init__(self, project: str, token: str | None, plan: Plan, standin: str = "") -> None:
        if standin:
            root = urlsplit(standin)
            if root.scheme != "http" or root.hostname not in LOOPBACK:
                raise Failure(f"{STANDIN} must be an http:// URL on this machine, got {standin!r}")
        self.project = project
        self.plan = plan
        self._token = token
        self._standin = standin.rstrip("/")

    @property
    def dry_run(self) -> bool:
        return self.plan.dry_run

    def call(
        self, method: str, url: str, body: dict[str, Any] | None = None, shown: Any = None
    ) -> Answer | None:
        """Prints the call, then makes it; in a dry run only prints it (None).

        `shown` is the body as the plan shows it, when that differs from the body sent.
        """
        words = [method, url]
        if body is not None:
            words.append(compact(body if shown is None else shown))
        self.plan.show(*words)
        if self.dry_run:
            return None
        return self._send(method, url, body)

    def _send(self, method: str, url: str, body: dict[str, Any] | None) -> Answer:
        if self.dry_run or not self._token:
            raise Failure("no call is made without an access token (a dry run has none)")
        target = url
        if self._standin:
            parts = urlsplit(url)
            target = f"{self._standin}/{parts.netloc}{parts.path}"
            if parts.query:
                target += f"?{parts.query}"
        elif not url.startswith("https://"):
            raise Failure(f"refusing to send the access token to {url}")
        # The scheme is checked above: https, or http to a loopback stand-in.
        request = urllib.request.Request(  # noqa: S310
            target,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self._token}",
                "x-goog-user-project": self.project,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            raise Failure(f"{urlsplit(url).netloc} unreachable: {reason}") from None
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            parsed = {}
        return Answer(status, parsed if isinstance(parsed, dict) else {}, text)


# -- security rules ------------------------------------------------------------------


def ruleset_files(ruleset: dict[str, Any]) -> list[Any]:
    files = ruleset.get("source", {}).get("files", [])
    return [f.get("content") for f in files] if isinstance(files, list) else []


def same_rules(ruleset: dict[str, Any], rules: str) -> bool:
    """Whether a ruleset, as the Rules API answers it, holds exactly the rules file."""
    return ruleset_files(ruleset) == [rules]


def live_rules_match(google: Google, rules: str) -> tuple[bool, str]:
    """Whether the live release's ruleset holds `rules`, and what was found if not."""
    project_api = f"{RULES_API}/projects/{google.project}"
    answer = google.call("GET", f"{project_api}/releases/{RELEASE}")
    if answer is None:
        google.call("GET", f"{RULES_API}/{RULESET_NAME}")
        return False, "not asked (dry run)"
    if answer.status == 404:
        return False, "no release: the rules were never published"
    if answer.status != 200:
        return False, f"the Firebase Rules API answered {answer.status}: {answer.excerpt(120)}"
    name = str(answer.body.get("rulesetName", ""))
    answer = google.call("GET", f"{RULES_API}/{name}")
    if answer is None or answer.status != 200:
        status = "nothing" if answer is None else answer.status
        return False, f"the live ruleset {name} could not be read ({status})"
    if not same_rules(answer.body, rules):
        return False, f"the live ruleset {name} differs from firestore.rules"
    return True, f"the live ruleset {name} equals firestore.rules"


def publish_rules(google: Google, rules_file: Path) -> None:
    plan = google.plan
    project_api = f"{RULES_API}/projects/{google.project}"
    release = f"projects/{google.project}/releases/{RELEASE}"
    rules = "" if google.dry_run else rules_file.read_text(encoding="utf-8")

    plan.note(
        "the live release, then its ruleset: nothing more is done when it equals firestore.rules"
    )
    current = ""
    answer = google.call("GET", f"{project_api}/releases/{RELEASE}")
    if answer is not None:
        if answer.status == 200:
            current = str(answer.body.get("rulesetName", ""))
        elif answer.status != 404:
            raise Failure(f"the Firebase Rules API answered {answer.status}: {answer.excerpt()}")
    if current or google.dry_run:
        answer = google.call("GET", f"{RULES_API}/{current or RULESET_NAME}")
        if answer is not None and answer.status == 200 and same_rules(answer.body, rules):
            plan.note("the live rules equal firestore.rules: nothing to publish")
            return

    plan.note("create a ruleset from firestore.rules, then point the release at it")

    def ruleset(content: str) -> dict[str, Any]:
        return {"source": {"files": [{"name": "firestore.rules", "content": content}]}}

    answer = google.call("POST", f"{project_api}/rulesets", ruleset(rules), ruleset(RULES_TEXT))
    name = RULESET_NAME
    if answer is not None:
        if answer.status != 200:
            raise Failure(f"the ruleset was refused ({answer.status}): {answer.excerpt(2000)}")
        name = str(answer.body.get("name", ""))
    pointer = {"name": release, "rulesetName": name}
    if current or google.dry_run:
        with plan.branch("if the release exists"):
            answer = google.call("PATCH", f"{RULES_API}/{release}", {"release": pointer})
    if not current or google.dry_run:
        with plan.branch("if there is no release yet"):
            answer = google.call("POST", f"{project_api}/releases", pointer)
    if answer is not None:
        if answer.status != 200:
            raise Failure(f"the release was refused ({answer.status}): {answer.excerpt()}")
        plan.note(f"published {name}")


# -- indexes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """One `fieldOverrides` entry: a field's single-field indexes, exactly these."""

    group: str
    field: str
    index_config: dict[str, Any]
    ttl: bool


def read_index_file(path: Path) -> dict[str, Any]:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Failure(f"{path.name} could not be read: {exc}") from None
    if not isinstance(spec, dict):
        raise Failure(f"{path.name} is not a JSON object")
    return spec


def overrides(spec: dict[str, Any]) -> list[Override]:
    """The Firebase CLI's override format, as the Admin API's `indexConfig`."""
    found = []
    for override in spec.get("fieldOverrides", []):
        group, path = override["collectionGroup"], override["fieldPath"]
        indexes = []
        for index in override.get("indexes", []):
            field: dict[str, str] = {"fieldPath": path}
            field.update({k: index[k] for k in ("order", "arrayConfig") if k in index})
            indexes.append({"queryScope": index.get("queryScope", "COLLECTION"), "fields": [field]})
        found.append(Override(group, path, {"indexes": indexes}, bool(override.get("ttl"))))
    return found


def index_rows(spec: dict[str, Any]) -> list[str]:
    """What gcloud does with the file, as tab-separated rows:

    composite GROUP SCOPE FIELD-CONFIG...   a composite index
    field GROUP FIELD                       a single-field override (`field-indexes`)
    ttl GROUP FIELD                         a TTL policy an override names
    """
    rows = []
    for index in spec.get("indexes", []):
        scope = index.get("queryScope", "COLLECTION").lower().replace("_", "-")
        row = ["composite", index["collectionGroup"], scope]
        for field in index["fields"]:
            if "arrayConfig" in field:
                kind = "array-config=" + field["arrayConfig"].lower()
            else:
                kind = "order=" + field.get("order", "ASCENDING").lower()
            row.append("field-path=" + field["fieldPath"] + "," + kind)
        rows.append(row)
    for override in overrides(spec):
        rows.append(["field", override.group, override.field])
        if override.ttl:
            rows.append(["ttl", override.group, override.field])
    return ["\t".join(row) for row in rows]


def index_kinds(index_config: dict[str, Any]) -> set[tuple[Any, Any, Any]]:
    """A field's indexes, compared regardless of order and of what the API adds."""
    kinds = set()
    for index in index_config.get("indexes", []):
        field = (index.get("fields") or [{}])[0]
        kinds.add((index.get("queryScope"), field.get("order"), field.get("arrayConfig")))
    return kinds


def set_field_indexes(google: Google, spec: dict[str, Any]) -> None:
    plan = google.plan
    admin = f"{FIRESTORE_API}/projects/{google.project}/databases/(default)"
    for override in overrides(spec):
        url = f"{admin}/collectionGroups/{override.group}/fields/{override.field}"
        body = {"indexConfig": override.index_config}
        where = f"{override.group}.{override.field}"
        plan.note(f"single-field indexes of {where}, the override's list exactly")
        answer = google.call("GET", url)
        if answer is not None and answer.status == 200:
            live = answer.body.get("indexConfig", {})
            if index_kinds(live) == index_kinds(override.index_config):
                plan.note("already so")
                continue
        with plan.branch("if they differ"):
            answer = google.call("PATCH", f"{url}?updateMask=indexConfig", body)
        if answer is not None and answer.status != 200:
            raise Failure(f"the index override was refused ({answer.status}): {answer.excerpt()}")


# -- command line --------------------------------------------------------------------


def read_token() -> str:
    token = sys.stdin.readline().strip()
    if not token:
        raise Failure("no access token on stdin")
    return token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deployment.google_apis", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, file_help in (("rules", "firestore.rules"), ("field-indexes", "the index file")):
        command = commands.add_parser(name)
        command.add_argument("--project", required=True)
        command.add_argument("--dry-run", action="store_true", help="print the calls, make none")
        command.add_argument("file", type=Path, help=file_help)
    rows = commands.add_parser("index-rows")
    rows.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "index-rows":
            for row in index_rows(read_index_file(args.file)):
                print(row)
            return 0
        plan = Plan(args.dry_run)
        token = None if args.dry_run else read_token()
        google = Google(args.project, token, plan, os.environ.get(STANDIN, ""))
        if args.command == "rules":
            publish_rules(google, args.file)
        else:
            set_field_indexes(google, read_index_file(args.file))
    except Failure as exc:
        print(f"deploy.sh: {exc}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, AttributeError) as exc:
        print(
            f"deploy.sh: {args.file.name} is not in the expected format ({exc!r})", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
