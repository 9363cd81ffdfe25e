"""The forget scan: where a person's data still is, across every store of the local stack.

It walks every document of every collection and subcollection in the emulator, every
CRM row, and every log line of the functions, looking (case-insensitively) for the
person's email, name, company, message texts and chat session id. The privacy tests run
it before and after `privacy delete`; against `make dev`:

    set -a; . .local/dev.env; set +a
    .venv/bin/python -m devstack.forget_scan --email asha@plant.example --name "Asha Rao" \\
        --company "Pune Works" --text "Our presses stop" --session <session id>

What lies outside the system is not scanned: the emails EmailJS delivered (the stand-in
keeps them as the team's mailbox would) and the emulator's own log, which names
documents by path (see the README, "Where a chat session id can appear").
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE_LOGS = ("firestore-emulator.log",)


@dataclass(frozen=True)
class Finding:
    store: str
    """`firestore`, `crm` or `logs`."""
    where: str
    """A document's path, a CRM row's number, a log file and line."""
    kind: str
    """Which of the person's values was found (`email`, `name`, ...), never the value."""


def documents(db: Any) -> Iterator[tuple[str, str]]:
    """Every stored document, subcollections included, as (path, id and fields as JSON)."""

    def walk(collections: Iterable[Any]) -> Iterator[tuple[str, str]]:
        for collection in collections:
            for ref in collection.list_documents():
                snap = ref.get()
                if snap.exists:
                    yield ref.path, json.dumps([ref.id, snap.to_dict()], default=str)
                yield from walk(ref.collections())

    yield from walk(db.collections())


def scan(
    needles: Mapping[str, Iterable[str]],
    *,
    documents: Iterable[tuple[str, str]] = (),
    crm_rows: Iterable[list[str]] = (),
    log_lines: Iterable[tuple[str, str]] = (),
) -> list[Finding]:
    """Every place holding one of `needles` (by kind: each kind's values), matched
    case-insensitively."""
    wanted = [
        (kind, value.lower()) for kind, values in needles.items() for value in values if value
    ]
    places: list[tuple[str, str, str]] = [("firestore", path, text) for path, text in documents]
    places += [("crm", f"row {n}", "\t".join(row)) for n, row in enumerate(crm_rows, start=1)]
    places += [("logs", where, line) for where, line in log_lines]
    found: list[Finding] = []
    for store, where, text in places:
        lowered = text.lower()
        found.extend(Finding(store, where, kind) for kind, value in wanted if value in lowered)
    return found


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many places of each store hold something of the person."""
    places = {(f.store, f.where) for f in findings}
    totals = Counter(store for store, _ in places)
    return {store: totals.get(store, 0) for store in ("firestore", "crm", "logs")}


def log_files(directory: Path) -> Iterator[tuple[str, str]]:
    """Each line of the functions' logs under `directory`, as (file:line, text)."""
    for path in sorted(directory.glob("*.log")):
        if path.name in OUTSIDE_LOGS:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            yield f"{path.name}:{number}", line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", action="append", default=[])
    parser.add_argument("--company", action="append", default=[])
    parser.add_argument("--text", action="append", default=[], help="a message's text")
    parser.add_argument("--session", action="append", default=[], help="a chat session id")
    parser.add_argument("--logs", type=Path, default=ROOT / ".local" / "logs")
    args = parser.parse_args()

    from factoryops import store

    rows = json.loads(urllib.request.urlopen(_rows_url(), timeout=10).read())["rows"]
    needles = {
        "email": [args.email],
        "name": args.name,
        "company": args.company,
        "message text": args.text,
        "chat session id": args.session,
    }
    findings = scan(
        needles,
        documents=documents(store.client()),
        crm_rows=rows,
        log_lines=log_files(args.logs),
    )
    print(json.dumps({"counts": counts(findings)}, indent=2))
    for finding in findings:
        print(f"{finding.store:<10} {finding.kind:<16} {finding.where}")


def _rows_url() -> str:
    """The local CRM web app's sheet (its GET /_rows), from the stack's settings."""
    import urllib.parse

    parts = urllib.parse.urlsplit(os.environ.get("CRM_APPS_SCRIPT_URL", ""))
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost"):
        return f"http://{parts.netloc}/_rows"
    raise SystemExit("source .local/dev.env first: the scan reads the local CRM web app's sheet")


if __name__ == "__main__":
    main()
