"""`siteadmin grants` against the real emulator, through click's CliRunner."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factoryops import grants
from factoryops.cli import main

pytestmark = pytest.mark.emulator

SITE = "https://factoryopsai.com"


@pytest.fixture
def site(db: Any, configure: Any) -> Any:
    configure(SITE_URL=SITE)
    return db


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["grants", *args], catch_exceptions=False)


def token_of(url: str) -> str:
    prefix = f"{SITE}/#access="
    assert url.startswith(prefix), url
    return url[len(prefix) :]


def test_create_prints_only_the_link_whose_token_hashes_to_the_stored_grant(site: Any) -> None:
    result = run(
        "create", "--lead", "Asha at Pune Works", "--sections", "pricing,demo", "--no-email"
    )

    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert result.stdout == url + "\n"
    token = token_of(url)
    assert len(token) >= 43
    [doc] = list(site.collection("access_grants").stream())
    assert doc.id == hashlib.sha256(token.encode()).hexdigest()
    assert doc.to_dict()["sections"] == ["pricing", "demo"]
    assert doc.id in result.stderr  # the id, for the team's notes, beside the link
    assert token not in json.dumps(doc.to_dict(), default=str)


def test_create_json_gives_url_token_and_id_and_every_option_is_stored(site: Any) -> None:
    result = run(
        "create",
        "--lead",
        "Asha",
        "--sections",
        "pricing",
        "--email",
        "Asha.Rao@Plant.example",
        "--company",
        "Pune Stamping Works",
        "--days",
        "7",
        "--max-uses",
        "3",
        "--json",
    )

    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["url"] == f"{SITE}/#access={out['token']}"
    assert out["id"] == hashlib.sha256(out["token"].encode()).hexdigest()
    assert out["sections"] == ["pricing"]
    assert out["max_uses"] == 3 and out["redemptions"] == 0 and out["revoked"] is False
    record = site.collection("access_grants").document(out["id"]).get().to_dict()
    assert record["email"] == "Asha.Rao@plant.example"
    assert record["email_key"] == "asha.rao@plant.example"
    assert record["company"] == "Pune Stamping Works"
    assert record["max_uses"] == 3
    left = record["expires_at"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=6) < left <= dt.timedelta(days=7)
    assert grants.redeem(out["token"]).sections == ["pricing"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--sections", "pricing"], "Missing option '--lead'"),
        (["--lead", "L", "--no-email"], "Missing option '--sections'"),
        (
            ["--lead", "L", "--sections", "Pricing", "--no-email"],
            "'--sections': 'Pricing' is not a section",
        ),
        (
            ["--lead", "L", "--sections", "a,,b", "--no-email"],
            "'--sections': give one or more section names",
        ),
        (["--lead", "L", "--sections", "a", "--email", "nope"], "'--email': is not a valid"),
        (["--lead", " ", "--sections", "a", "--no-email"], "'--lead': is required"),
        (["--lead", "L", "--sections", "a"], "'--email': is required: a privacy request finds"),
        (
            ["--lead", "L", "--sections", "a", "--email", "a@b.example", "--no-email"],
            "'--no-email': cannot be given with an email",
        ),
        (
            ["--lead", "L", "--sections", "a", "--days", "0", "--no-email"],
            "'--days': 0 is not in the range",
        ),
        (
            ["--lead", "L", "--sections", "a", "--days", "many", "--no-email"],
            "'many' is not a valid integer",
        ),
        (
            ["--lead", "L", "--sections", "a", "--days", "731", "--no-email"],
            "from 1 to 730 (RETENTION_DAYS)",
        ),
        (
            ["--lead", "L", "--sections", "a", "--max-uses", "0", "--no-email"],
            "'--max-uses': 0 is not in",
        ),
        (
            ["--lead", "", "--sections", "A", "--email", "x"],
            "Invalid values:\n  --lead: is required\n  --sections: 'A' is not a section name",
        ),
    ],
)
def test_create_refuses_bad_values_with_a_clear_usage_error_and_stores_nothing(
    site: Any, args: list[str], expected: str
) -> None:
    result = run("create", *args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output
    assert list(site.collection("access_grants").stream()) == []


def test_list_shows_id_lead_sections_expiry_uses_and_revocation(site: Any) -> None:
    kept = grants.create(
        lead="Kept lead", sections="pricing,demo", days=7, max_uses=3, no_email=True
    )
    gone = grants.create(lead="Gone lead", sections="case-studies", no_email=True)
    grants.redeem(kept.token)
    grants.redeem(gone.token)
    grants.revoke(gone.grant.id)

    result = run("list")

    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "ID",
        "LEAD",
        "SECTIONS",
        "EXPIRES_AT",
        "REDEMPTIONS",
        "MAX_USES",
        "FIRST_USE",
        "LAST_USE",
        "REVOKED",
        "STATUS",
    ]
    gone_row, kept_row = rows  # newest first
    assert gone_row.startswith(gone.grant.id[:12] + "  Gone lead")
    assert "case-studies" in gone_row and gone_row.split()[-2:] == ["yes", "revoked"]
    assert kept_row.startswith(kept.grant.id[:12] + "  Kept lead")
    assert "pricing,demo" in kept_row and kept_row.split()[-2:] == ["no", "active"]
    cells = kept_row.split()[3:]  # after the id and the two words of the lead
    assert cells[2:4] == ["1", "3"]  # redemptions, max uses
    assert all(cells[i].endswith("Z") for i in (1, 4, 5))  # expiry, first use, last use
    for token in (kept.token, gone.token):
        assert token not in result.output


def test_list_json_gives_every_field_but_the_token(site: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", email="a@b.example", max_uses=2)
    grants.redeem(created.token)

    result = run("list", "--json")

    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    assert entry["id"] == created.grant.id
    assert entry["lead"] == "Lead" and entry["email"] == "a@b.example"
    assert entry["sections"] == ["pricing"]
    assert entry["redemptions"] == 1 and entry["max_uses"] == 2
    assert entry["expires_at"] is None and entry["revoked"] is False
    assert entry["first_redeemed_at"].endswith("Z") and entry["last_redeemed_at"].endswith("Z")
    assert entry["status"] == "active"
    assert created.token not in result.stdout


def test_list_with_no_grants_says_so(site: Any) -> None:
    result = run("list")
    assert result.exit_code == 0 and result.stdout == "(none)\n"
    assert json.loads(run("list", "--json").stdout) == []


def test_revoke_stops_the_link_and_list_shows_it(site: Any, function_client: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    client = function_client("access_grant")
    assert client.post("/", json={"token": created.token}).status_code == 200

    result = run("revoke", created.grant.id)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"revoked {created.grant.id} (Lead) at ")
    assert client.post("/", json={"token": created.token}).status_code == 403
    [entry] = json.loads(run("list", "--json").stdout)
    assert entry["revoked"] is True and entry["revoked_at"].endswith("Z")


def test_revoke_takes_the_short_id_from_the_table_and_keeps_the_first_time(site: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    first = json.loads(run("revoke", created.grant.id[:12], "--json").stdout)
    again = json.loads(run("revoke", created.grant.id, "--json").stdout)
    assert first["id"] == again["id"] == created.grant.id
    assert first["revoked_at"] == again["revoked_at"]


def test_revoke_of_an_unknown_id_fails_with_a_message(site: Any) -> None:
    result = run("revoke", "0" * 64)
    assert result.exit_code == 1
    assert "no grant with id" in result.stderr


def test_revoke_of_something_that_is_not_an_id_is_a_usage_error(site: Any) -> None:
    result = run("revoke", "https://factoryopsai.com/#access=x")
    assert result.exit_code == 2
    assert "hexadecimal" in result.stderr
