"""The team console for every member: by keyboard, with a screen reader, zoomed in.

axe-core (tests/axe.py) scans every view at a desktop's 1280x800 and a phone's 375x812
against the WCAG 2.0, 2.1 and 2.2 rules of levels A and AA; the keyboard tests walk the
console as a member who uses no mouse does; the contrast tests measure, in the browser,
the colours the stylesheet declares (tests/contrast.py). The fixtures and the local
stack are test_console_browser's, so every test here also fails on a script error or a
Content-Security-Policy violation.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import axe
from tests.test_console_browser import (
    NO_SCRIPT_POST,
    VISITOR,
    Session,
    browser,  # noqa: F401  (the fixtures, as test_console_browser uses them)
    chat_item,
    contact_form,
    create_link,
    export,
    held_as_spam,
    is_phone,
    lead_of,
    signed_in,
    sized,  # noqa: F401
    spam_items,
    stack,  # noqa: F401
    start_chat_directly,
    thread_messages,
)

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.browser


# -- every view, scanned -----------------------------------------------------------------


def a_bit_of_everything(session: Session, db: Any, function_client: Any) -> str:
    """A chat whose email failed (so Deliveries lists it) from a visitor who also sent
    the contact form and holds a grant, and a post held as spam; the chat's lead id."""
    from factoryops import grants

    local = session.stack
    local.standins.state.fail["emailjs"] = "400"  # refused for good: failed at once
    start_chat_directly(local, VISITOR, "Do you read Siemens S7 PLCs?\nWe have forty.")
    assert local.eventarc.settle()
    local.standins.state.fail.clear()
    contact_form(db, "We run 14 presses and lose a shift a week to downtime.")
    grants.create(lead="Ravi Kumar", sections="pricing", email=VISITOR)
    held_as_spam(function_client, NO_SCRIPT_POST)
    return lead_of(db, VISITOR)


SCANNED = (
    "signin",
    "chats",
    "thread",
    "person",
    "spam",
    "grants",
    "new-link",
    "deliveries",
    "privacy",
    "export",
    "audit",
    "status",
)
"""The views as the member meets them: `thread` is a chat open (beside the list on a
desktop, alone on a phone), `person` the panel about its visitor (unfolded on a phone),
`new-link` a grant's link just created, `export` a privacy export shown."""


def show(session: Session, view: str, lead: str) -> Page:
    """The console showing `view`, with what it lists there."""
    if view == "signin":
        page = session.open()
        expect(page.locator("#local-email")).to_be_visible()
        return page
    fragment = {
        "thread": f"#/chats/{lead}",
        "person": f"#/chats/{lead}",
        "new-link": "#/grants",
        "export": "#/privacy",
        "audit": "#/privacy",  # an export first, so that the audit lists an action
    }.get(view, f"#/{view}")
    page = session.open(fragment)
    signed_in(page)
    if view == "chats":
        expect(chat_item(page, VISITOR)).to_be_visible()
    elif view in ("thread", "person"):
        expect(thread_messages(page)).to_have_count(1)
        if view == "person":
            if is_phone(session):
                page.click("[data-person-toggle]")
            expect(page.locator("[data-person-body] .person__company")).to_be_visible()
    elif view == "spam":
        expect(spam_items(page)).to_have_count(1)
    elif view in ("grants", "new-link"):
        expect(page.locator("[data-grant-items] .grant-item")).to_have_count(1)
        if view == "new-link":
            create_link(page, "Asha Rao", "asha.rao@plant.example")
    elif view == "deliveries":
        expect(page.locator("[data-delivery-items] .delivery-item")).to_have_count(1)
    elif view == "privacy":
        expect(page.locator("[data-privacy=delete]")).to_be_visible()
    elif view == "export":
        export(page, VISITOR)
    elif view == "audit":
        export(page, VISITOR)
        page.click(".nav a[data-view=audit]")
        expect(page.locator("[data-audit-items] .audit-item")).to_have_count(1)
    elif view == "status":
        expect(page.locator("[data-status-cards] .card").first).to_be_visible()
        expect(page.locator("[data-channel-items] .item").first).to_be_visible()
    return page


@pytest.mark.parametrize("view", SCANNED)
def test_axe_finds_no_wcag_a_or_aa_violation_in_the_view(
    sized: Session,  # noqa: F811
    db: Any,
    function_client: Any,
    view: str,
) -> None:
    lead = a_bit_of_everything(sized, db, function_client)
    page = show(sized, view, lead)

    found = axe.violations(page)

    assert found == [], axe.summary(found)


@pytest.mark.parametrize("view", SCANNED)
def test_axe_finds_no_best_practice_problem_in_the_view(
    sized: Session,  # noqa: F811
    db: Any,
    function_client: Any,
    view: str,
) -> None:
    lead = a_bit_of_everything(sized, db, function_client)
    page = show(sized, view, lead)

    found = axe.violations(page, axe.BEST_PRACTICE)

    assert found == [], axe.summary(found)
