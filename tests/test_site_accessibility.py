"""The visitor's page by keyboard and screen reader: the chat widget, the contact form
and the consent banner, against WCAG 2.2 A and AA.

The same stack and browser as tests/test_browser.py (its fixtures, imported below):
axe-core scans every state of the demo page at a desktop's 1280x800 and a phone's
375x812; the keyboard paths are walked with key presses alone; what a screen reader is
told is read from the page's live regions; the colours the stylesheets declare are
measured as the browser computes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import axe, contrast  # noqa: F401
from tests.test_browser import (
    CONTACT,
    SIZES,
    ServerAnswers,
    Visit,
    browser,  # noqa: F401  (the fixture: Debian's Chromium)
    chat_messages,
    contact_status,
    expect_unlocked,
    fill_contact,
    grant_link,
    needs,
    reject_analytics,
    send_chat,
    siteadmin,  # noqa: F401  (the fixture: the team's side, through `siteadmin`)
    sized,
    stack,  # noqa: F401  (the fixture: the local stack)
    start_chat,
    submit_contact,
    visit,  # noqa: F401  (the fixture: a fresh browser profile on the demo page)
)

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, Route, expect  # noqa: E402

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)

EMAIL = "ravi@plant.example"
QUESTION = "Do you read Siemens S7 PLCs?"
REPLY = "Yes: S7-1200 and S7-1500."
NEWS = "New reply from FactoryOps AI"
CAPPED = "This chat has reached its message limit."


# == fixtures: test_browser's, under names of this module's own ========================


@pytest.fixture
def visitor(request: pytest.FixtureRequest) -> Iterator[Visit]:
    """test_browser's `visit`: a fresh browser profile on the demo page."""
    found: Visit = request.getfixturevalue("visit")
    yield found
    # A poll still answered by a test's route when the page closes is no failure.
    found.page.unroute_all(behavior="ignoreErrors")


@pytest.fixture
def team(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """test_browser's `siteadmin`: the team's side, as `siteadmin ... --json`."""
    found: Callable[..., Any] = request.getfixturevalue("siteadmin")
    return found


# == the page in each of its states, scanned by axe-core ================================


def team_replies(team: Callable[..., Any], *texts: str) -> None:
    [listed] = team("chats", "list", "--open")
    for text in texts:
        team("chats", "reply", listed["lead_id"], text)


def conversation(visitor: Visit, team: Callable[..., Any]) -> Page:
    """A chat started with a question, and the team's answer in the open panel."""
    page = visitor.page
    start_chat(page, EMAIL, QUESTION)
    expect(chat_messages(page)).to_have_count(1)
    team_replies(team, REPLY)
    expect(chat_messages(page)).to_have_count(2)
    return page


def answer_cap(route: Route) -> None:
    """The chat's message cap, as the server answers a visitor message past it."""
    request = route.request
    if request.method == "POST" and request.header_value("x-chat-session"):
        route.fulfill(
            status=429,
            headers={"Content-Type": "application/json", "Retry-After": "86400",
                     "Access-Control-Allow-Origin": "*"},
            body='{"error": {"code": "chat_limit_reached", "message": "' + CAPPED + '"}}',
        )  # fmt: skip
    else:
        route.fallback()


def arrive(visitor: Visit, team: Callable[..., Any], state: str) -> Page:
    """The demo page brought into `state` the way a visitor brings it there."""
    ServerAnswers(visitor.stack).attach(visitor.page)
    if state == "access-unlocked":
        created = grant_link(team)
        visitor.page.goto(created["url"])
        expect_unlocked(visitor.page)
        reject_analytics(visitor.page)
        expect(visitor.page.locator("[data-access-status]")).to_contain_text("Welcome")
        return visitor.page
    page = visitor.open()
    banner = page.locator("#fo-consent")
    if state == "first-visit":
        expect(banner).to_be_visible()
        return page
    reject_analytics(page)
    if state == "banner-answered":
        return page
    if state == "banner-reopened":
        page.get_by_role("button", name="Analytics choice").click()
        expect(banner).to_be_visible()
        return page
    if state == "contact-errors":
        page.click("form[data-factoryops=contact] button[type=submit]")
        expect(page.locator("#contact-name")).to_have_attribute("aria-invalid", "true")
        return page
    if state == "contact-sent":
        fill_contact(page, CONTACT)
        submit_contact(page)
        expect(contact_status(page)).to_have_text(re.compile("Thank you"))
        return page
    if state == "chat-email-step":
        page.click(".fo-chat__launcher")
        expect(page.locator("#fo-chat-email")).to_be_visible()
        return page
    if state == "chat-conversation":
        return conversation(visitor, team)
    if state == "chat-capped":
        page.route(lambda url: url.startswith(visitor.stack.url("chat_message")), answer_cap)
        start_chat(page, EMAIL, QUESTION)
        expect(chat_messages(page)).to_have_count(1)
        send_chat(page, "And Allen-Bradley?")
        expect(page.locator(".fo-chat__compose .fo-status")).to_contain_text(CAPPED)
        return page
    if state == "chat-new-reply":
        start_chat(page, EMAIL, QUESTION)
        expect(chat_messages(page)).to_have_count(1)
        page.click(".fo-chat__close")
        team_replies(team, REPLY)
        expect(page.locator(".fo-chat__badge")).to_have_text("1 new reply")
        return page
    if state == "back-from-reply-email":
        # The reply email links to the page the chat started on (never to the session):
        # the visitor comes back in the browser that holds the chat, replies waiting.
        start_chat(page, EMAIL, QUESTION)
        expect(chat_messages(page)).to_have_count(1)
        page.goto("about:blank")
        team_replies(team, REPLY, "Over OPC UA.")
        visitor.open()
        expect(page.locator(".fo-chat__badge")).to_have_text("2 new replies")
        page.click(".fo-chat__launcher")
        expect(chat_messages(page)).to_have_count(3)
        return page
    raise AssertionError(f"no such state: {state}")


STATES = [
    "first-visit",
    "banner-answered",
    "banner-reopened",
    "contact-errors",
    "contact-sent",
    "chat-email-step",
    "chat-conversation",
    "chat-new-reply",
    "chat-capped",
    "back-from-reply-email",
    "access-unlocked",
]


@needs("chat_message")
@needs("access_grant")
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", STATES)
def test_axe_finds_no_wcag_22_aa_violation_in_each_state_of_the_page(
    visitor: Visit, team: Callable[..., Any], state: str, size: str
) -> None:
    watch = sized(visitor, size)
    page = arrive(visitor, team, state)

    found = axe.violations(page)
    assert found == [], axe.summary(found)
    if state == "chat-capped":  # the browser reports the refusal itself
        watch.console_errors = [e for e in watch.console_errors if "(Too Many Requests)" not in e]
    watch.assert_clean()


def test_the_scan_reports_an_image_without_a_text_alternative_planted_in_the_page(
    visitor: Visit,
) -> None:
    page = visitor.open()
    page.evaluate(
        """() => {
          const image = document.createElement('img');
          image.src = 'data:,';
          image.id = 'planted';
          document.querySelector('main').appendChild(image);
        }"""
    )
    found = axe.violations(page)
    assert [(v.rule, v.targets) for v in found if v.rule == "image-alt"] == [
        ("image-alt", ("#planted",))
    ]
