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

from tests import axe, contrast
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
    if state == "chat-closed-by-team":
        start_chat(page, EMAIL, QUESTION)
        expect(chat_messages(page)).to_have_count(1)
        [listed] = team("chats", "list", "--open")
        team("chats", "close", listed["lead_id"])
        expect(page.locator(".fo-chat__closed")).to_be_visible()
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
    "chat-closed-by-team",
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


# == keyboard paths: Tab, Shift+Tab, Enter, Space and Escape alone =====================


def focused(page: Page, selector: str) -> bool:
    return bool(
        page.evaluate("s => document.activeElement === document.querySelector(s)", selector)
    )


def tab_to(page: Page, selector: str, *, limit: int = 40) -> None:
    """Presses Tab until the control `selector` names has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page, selector):
            return
    raise AssertionError(f"{selector} never took the focus by Tab")


def focus_name(page: Page) -> str:
    """What has the focus, as a person reading a failure would name it."""
    return str(
        page.evaluate(
            """() => {
              const node = document.activeElement;
              if (!node || node === document.body) return 'body';
              return node.tagName.toLowerCase() + (node.id ? '#' + node.id : '') + ' "' +
                (node.getAttribute('aria-label') || node.textContent || node.name || '')
                  .trim().slice(0, 40) + '"';
            }"""
        )
    )


BANNER_BUTTON = "#fo-consent [data-choice={}]"
OPENER = "[data-consent-open]"


@pytest.mark.parametrize("choice", ["denied", "granted"])
def test_answering_the_banner_by_keyboard_gives_the_focus_back_where_it_was_not_to_the_body(
    visitor: Visit, choice: str
) -> None:
    page = visitor.open()
    # The banner comes after the page in the tab order: the last control before it is the
    # footer's "Analytics choice".
    tab_to(page, BANNER_BUTTON.format(choice))
    page.keyboard.press("Enter")

    expect(page.locator("#fo-consent")).to_be_hidden()
    assert focus_name(page) != "body"
    assert focused(page, OPENER), focus_name(page)
    assert visitor.storage()["factoryops.consent"] == choice


def test_a_banner_answered_with_nothing_focused_before_gives_the_focus_to_the_heading(
    visitor: Visit,
) -> None:
    page = visitor.open()
    page.locator(BANNER_BUTTON.format("denied")).focus()
    page.keyboard.press("Enter")

    expect(page.locator("#fo-consent")).to_be_hidden()
    assert focused(page, "main h1"), focus_name(page)


def test_the_reopened_banner_is_changed_by_keyboard_closed_with_escape_and_the_focus_returns(
    visitor: Visit,
) -> None:
    page = visitor.open()
    banner = page.locator("#fo-consent")
    tab_to(page, BANNER_BUTTON.format("denied"))
    page.keyboard.press("Enter")
    assert focused(page, OPENER), focus_name(page)

    page.keyboard.press("Enter")  # the footer's "Analytics choice" reopens the banner
    expect(banner).to_be_visible()
    assert focused(page, "#fo-consent [role=switch]"), focus_name(page)
    page.keyboard.press("Space")
    expect(banner.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    page.keyboard.press("Escape")

    expect(banner).to_be_hidden()
    assert focused(page, OPENER), focus_name(page)
    assert visitor.storage()["factoryops.consent"] == "granted"  # Escape kept the change

    # Its close button, reached backwards from the switch, gives the focus back too.
    page.keyboard.press("Enter")
    assert focused(page, "#fo-consent [role=switch]"), focus_name(page)
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert focused(page, ".fo-consent__close"), focus_name(page)
    page.keyboard.press("Enter")
    expect(banner).to_be_hidden()
    assert focused(page, OPENER), focus_name(page)

    # A first visit has no choice to keep: Escape leaves the banner asking.
    page.evaluate("() => localStorage.clear()")
    page.reload()
    tab_to(page, "#fo-consent [role=switch]")
    page.keyboard.press("Escape")
    expect(banner).to_be_visible()


FORM = "form[data-factoryops=contact]"
SEND = FORM + " button[type=submit]"


def field_error(page: Page, field: str) -> dict[str, Any]:
    """A field's aria-invalid and the text of what its aria-describedby points to."""
    found: dict[str, Any] = page.evaluate(
        """(id) => {
          const input = document.getElementById(id);
          const ids = (input.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
          return {
            invalid: input.getAttribute('aria-invalid'),
            said: ids.map((i) => document.getElementById(i))
              .filter((n) => n && !n.hidden).map((n) => n.textContent),
          };
        }""",
        field,
    )
    return found


def test_the_contact_form_sent_empty_by_keyboard_shows_the_scripts_errors_and_focuses_the_first(
    visitor: Visit, db: Any
) -> None:
    page = visitor.open()
    reject_analytics(page)
    status = contact_status(page)
    expect(page.locator(FORM)).to_have_js_property("noValidate", True)  # no browser bubble

    tab_to(page, SEND)
    page.keyboard.press("Enter")

    expect(status).to_have_text("Please correct the highlighted fields.")
    assert status.get_attribute("role") == "status"  # said politely, as the server's errors
    assert field_error(page, "contact-name") == {"invalid": "true", "said": ["Name is required."]}
    assert field_error(page, "contact-email") == {
        "invalid": "true",
        "said": ["Work email is required."],
    }
    assert field_error(page, "contact-message") == {
        "invalid": "true",
        "said": ["Message is required."],
    }
    assert field_error(page, "contact-company") == {"invalid": None, "said": []}
    assert focused(page, "#contact-name"), focus_name(page)
    assert visitor.posts_to("contact_submit") == []

    # Corrected by keyboard, with an address the browser's own check refuses.
    page.keyboard.type(CONTACT["name"])
    page.keyboard.press("Tab")
    page.keyboard.type("asha")
    tab_to(page, "#contact-message")
    page.keyboard.type(CONTACT["message"])
    tab_to(page, SEND)
    page.keyboard.press("Enter")
    assert field_error(page, "contact-email") == {
        "invalid": "true",
        "said": ["Work email is not a valid email address."],
    }
    assert field_error(page, "contact-name") == {"invalid": None, "said": []}
    assert focused(page, "#contact-email"), focus_name(page)

    page.keyboard.press("End")
    page.keyboard.type("@plant.example")
    tab_to(page, SEND)
    page.keyboard.press("Enter")
    expect(status).to_have_text(re.compile("^Thank you"))
    assert status.get_attribute("role") == "status"
    assert len(visitor.posts_to("contact_submit")) == 1


PANEL = "#fo-chat-panel"
LAUNCHER = ".fo-chat__launcher"


def tab_round(page: Page, presses: int, *, back: bool = False) -> list[tuple[str, bool]]:
    """Each control Tab (or Shift+Tab) reaches, and whether it is inside the chat panel."""
    reached = []
    for _ in range(presses):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        inside = page.evaluate(
            "s => document.querySelector(s).contains(document.activeElement)", PANEL
        )
        reached.append((focus_name(page), bool(inside)))
    return reached


@needs("chat_message")
@pytest.mark.parametrize("size", SIZES)
def test_the_chat_by_keyboard_is_a_dialog_that_keeps_the_focus_and_closes_with_escape(
    visitor: Visit, size: str
) -> None:
    watch = sized(visitor, size)
    ServerAnswers(visitor.stack).attach(visitor.page)
    page = visitor.open()
    reject_analytics(page)
    tab_to(page, LAUNCHER)
    page.keyboard.press("Enter")

    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("role", "dialog")
    expect(panel).to_have_attribute("aria-modal", "true")
    expect(panel).to_have_accessible_name("Chat with FactoryOps AI")
    assert focused(page, "#fo-chat-email"), focus_name(page)
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Start chat
    expect(chat_messages(page)).to_have_count(1)
    assert focused(page, "#fo-chat-text"), focus_name(page)
    page.keyboard.type("And Allen-Bradley?")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Send
    expect(chat_messages(page)).to_have_count(2)
    assert focused(page, "#fo-chat-text"), focus_name(page)

    # Round and round the dialog's controls: the close button, the message box, Send.
    forward = tab_round(page, 7)
    assert all(inside for _, inside in forward), forward
    assert [name for name, _ in forward[:3]] == [name for name, _ in forward[3:6]]
    assert len({name for name, _ in forward}) == 3, forward
    backward = tab_round(page, 6, back=True)
    assert all(inside for _, inside in backward), backward
    assert [name for name, _ in backward[:3]] == [name for name, _ in reversed(forward[3:6])]

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-expanded", "false")
    assert focused(page, LAUNCHER), focus_name(page)
    page.keyboard.press("Enter")  # and open again where it was
    expect(panel).to_be_visible()
    assert focused(page, "#fo-chat-text"), focus_name(page)
    if size == "phone":
        # Modal on a phone: the chat takes the screen, the page's form lies beneath it.
        box = page.locator(".fo-chat").bounding_box()
        assert box is not None and box["width"] >= 375 - 1 and box["height"] >= 812 - 1
        hit = page.evaluate(
            """(s) => {
              const r = document.querySelector(s).getBoundingClientRect();
              const x = Math.min(Math.max(r.left + r.width / 2, 1), innerWidth - 1);
              const y = Math.min(Math.max(r.top + r.height / 2, 1), innerHeight - 1);
              return document.elementFromPoint(x, y).closest('.fo-chat') !== null;
            }""",
            "#contact-message",
        )
        assert hit
    watch.assert_clean()


# == focus not obscured (WCAG 2.2 2.4.11) =============================================

# How much of the focused control shows: its centre and four corners, each on screen and
# the control (or a part of it) on top there.
SHOWN = """() => {
  const node = document.activeElement;
  const r = node.getClientRects()[0];  // a link's first line
  const points = [[r.left + r.width / 2, r.top + r.height / 2], [r.left + 1, r.top + 1],
    [r.right - 1, r.top + 1], [r.left + 1, r.bottom - 1], [r.right - 1, r.bottom - 1]];
  return points.filter(([x, y]) => {
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return false;
    const top = document.elementFromPoint(x, y);
    return top !== null && (top === node || node.contains(top));
  }).length;
}"""


def walk_shown(page: Page, presses: int) -> dict[str, int]:
    """Tab `presses` times; for each control reached, how many of its five points show."""
    seen: dict[str, int] = {}
    for _ in range(presses):
        page.keyboard.press("Tab")
        name = focus_name(page)
        if name != "body":
            seen[name] = min(seen.get(name, 5), int(page.evaluate(SHOWN)))
    return seen


@needs("chat_message")
@pytest.mark.parametrize("size", SIZES)
def test_no_control_the_tab_key_reaches_is_hidden_behind_the_banner_or_the_open_chat(
    visitor: Visit, size: str
) -> None:
    sized(visitor, size)
    page = visitor.open()
    expect(page.locator("#fo-consent")).to_be_visible()

    seen = walk_shown(page, 16)
    hidden = [name for name, shown in seen.items() if shown == 0]
    assert hidden == [], seen
    reached = " ".join(seen)
    for control in ("Send message", "Chat with us", "Reject", "#contact-message"):
        assert control in reached, seen

    reject_analytics(page)
    page.locator(LAUNCHER).click()
    expect(page.locator("#fo-chat-email")).to_be_focused()
    seen = walk_shown(page, 8)
    hidden = [name for name, shown in seen.items() if shown == 0]
    assert hidden == [], seen
    assert "#fo-chat-email" in " ".join(seen), seen


# == what a screen reader is told ======================================================

NEWS_REGION = ".fo-chat > [role=status][aria-live=polite]"
# Every text the region outside the panel takes, in order.
RECORD_NEWS = """(s) => {
  const region = document.querySelector(s);
  window.saidOutside = [];
  new MutationObserver(() => window.saidOutside.push(region.textContent))
    .observe(region, { childList: true, characterData: true, subtree: true });
}"""


def said_outside(page: Page) -> list[str]:
    return [t for t in page.evaluate("() => window.saidOutside") if t]


@needs("chat_message")
def test_a_reply_to_the_folded_chat_is_announced_outside_the_panel_once_per_batch(
    visitor: Visit, team: Callable[..., Any]
) -> None:
    ServerAnswers(visitor.stack).attach(visitor.page)
    page = visitor.open()
    reject_analytics(page)
    region = page.locator(NEWS_REGION)
    expect(region).to_have_count(1)
    assert not region.evaluate("(node, s) => document.querySelector(s).contains(node)", PANEL)
    page.evaluate(RECORD_NEWS, NEWS_REGION)

    start_chat(page, EMAIL, QUESTION)
    expect(chat_messages(page)).to_have_count(1)
    send_chat(page, "And Allen-Bradley?")  # the visitor's own words are no news
    expect(chat_messages(page)).to_have_count(2)
    page.click(".fo-chat__close")

    team_replies(team, REPLY)
    expect(page.locator(".fo-chat__badge")).to_have_text("1 new reply")
    expect(region).to_have_text(NEWS)
    for _ in range(2):  # later peeks find the same reply: nothing more is said
        with page.expect_response(lambda r: "peek=1" in r.url):
            pass
    assert said_outside(page) == [NEWS]

    team_replies(team, "Over OPC UA.", "And Modbus TCP.")  # a second batch
    expect(page.locator(".fo-chat__badge")).to_have_text("3 new replies")
    page.wait_for_function("() => window.saidOutside.filter(Boolean).length === 2")
    assert said_outside(page) == [NEWS, NEWS]

    page.locator(LAUNCHER).click()  # read: the region empties, the panel's list speaks
    expect(chat_messages(page)).to_have_count(5)
    expect(region).to_have_text("")
    send_chat(page, "Thanks!")
    expect(chat_messages(page)).to_have_count(6)
    page.click(".fo-chat__close")
    for _ in range(2):
        with page.expect_response(lambda r: "peek=1" in r.url):
            pass
    assert said_outside(page) == [NEWS, NEWS]


# == contrast, as the browser computes the stylesheets' colours ========================


# The focus ring's colours and the background beneath the ring (the first opaque one
# behind the control: the ring is drawn outside it).
@needs("chat_message")
def test_a_reply_already_waiting_is_not_announced_again_on_the_next_page(
    visitor: Visit, team: Callable[..., Any]
) -> None:
    ServerAnswers(visitor.stack).attach(visitor.page)
    page = visitor.open()
    reject_analytics(page)
    start_chat(page, EMAIL, QUESTION)
    expect(chat_messages(page)).to_have_count(1)
    page.click(".fo-chat__close")
    team_replies(team, REPLY)
    expect(page.locator(NEWS_REGION)).to_have_text(NEWS)

    page.reload()  # the visitor goes on to another page of the site
    page.evaluate(RECORD_NEWS, NEWS_REGION)
    expect(page.locator(".fo-chat__badge")).to_have_text("1 new reply")
    for _ in range(2):
        with page.expect_response(lambda r: "peek=1" in r.url):
            pass

    assert said_outside(page) == [], "the badge says it; the news was said once"


@needs("chat_message")
def test_escape_pressed_in_the_page_beside_the_open_chat_is_the_pages_not_the_chats(
    visitor: Visit,
) -> None:
    page = visitor.open()
    reject_analytics(page)
    page.locator(LAUNCHER).click()
    expect(page.locator(PANEL)).to_be_visible()

    page.locator("#contact-name").click()  # a desktop visitor turns to the page
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_visible()
    page.keyboard.press("Tab")
    assert not page.evaluate(
        f"() => document.querySelector('{PANEL}').contains(document.activeElement)"
    )

    page.locator("#fo-chat-email").click()
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    assert focused(page, LAUNCHER)


@needs("chat_message")
def test_between_a_phone_and_a_desktop_the_banner_hides_neither_the_chat_button_nor_the_open_chat(
    visitor: Visit,
) -> None:
    page = visitor.page
    page.set_viewport_size({"width": 640, "height": 700})  # a laptop at 200% zoom, a tablet
    visitor.open()
    banner = page.locator("#fo-consent")
    expect(banner).to_be_visible()
    assert_in_reach(page, [LAUNCHER])

    page.locator(LAUNCHER).click()

    assert_in_reach(
        page, ["#fo-chat-email", "#fo-chat-first", ".fo-chat__start button[type=submit]"]
    )


RING = """(node) => {
  const style = getComputedStyle(node);
  let up = node.parentElement;
  let beneath = 'rgb(255, 255, 255)';
  for (; up; up = up.parentElement) {
    const colour = getComputedStyle(up).backgroundColor;
    if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') { beneath = colour; break; }
  }
  return {
    visible: node.matches(':focus-visible'),
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    outline: style.outlineColor,
    shadow: style.boxShadow,
    beneath,
  };
}"""
COLOUR = re.compile(r"rgba?\([^)]*\)")

# Each kind of control, in the place where it appears.
PAGE_CONTROLS = {
    "a contact field (white card)": "#contact-name",
    "Send message (blue button on the white card)": SEND,
    "Analytics choice (footer link-button)": OPENER,
    "the banner's privacy link": "#fo-consent a",
    "the banner's Analytics switch": "#fo-consent [role=switch]",
    "the banner's Reject (blue button)": BANNER_BUTTON.format("denied"),
    "Chat with us (blue button over the page)": LAUNCHER,
}
CHAT_CONTROLS = {
    "the chat's close button (blue header)": ".fo-chat__close",
    "the chat's privacy link": ".fo-chat__note a",
    "the chat's email field": "#fo-chat-email",
    "Start chat (blue button in the panel)": ".fo-chat__start button[type=submit]",
}


def ring_contrast(page: Page, selector: str) -> tuple[float, float | None, dict[str, Any]]:
    """The best contrast of the ring's colours with the background beneath it, and of its
    two colours with each other (None for a one-colour ring)."""
    page.keyboard.press("Shift")  # a keyboard user: focus() then shows the ring
    page.locator(selector).focus()
    ring: dict[str, Any] = page.locator(selector).evaluate(RING)
    assert ring["visible"] and ring["style"] != "none" and ring["width"] >= 2, ring
    colours = [ring["outline"], *COLOUR.findall(ring["shadow"])]
    best = max(contrast.ratio(contrast.parse(c), contrast.parse(ring["beneath"])) for c in colours)
    between = contrast.ratio(colours[0], colours[1]) if len(colours) > 1 else None
    return best, between, ring


@needs("chat_message")
def test_every_focus_ring_stands_out_3_to_1_on_the_background_it_is_drawn_on(
    visitor: Visit,
) -> None:
    page = visitor.open()
    measured = {}
    for name, selector in PAGE_CONTROLS.items():
        measured[name] = ring_contrast(page, selector)
    page.locator(LAUNCHER).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#fo-chat-email")).to_be_focused()
    for name, selector in CHAT_CONTROLS.items():
        measured[name] = ring_contrast(page, selector)

    for name, (best, between, ring) in measured.items():
        print(f"focus ring of {name}: {best:.2f}:1 on {ring['beneath']}, two tones {between}")
        assert best >= contrast.NON_TEXT, (name, ring)
        # Two tones must be told apart from each other too, or they read as one colour.
        assert between is None or between >= contrast.NON_TEXT, (name, ring)


# A colour as seen: its own alpha and the opacity of the element and its ancestors up to
# the bubble, over the bubble's background.
SEEN = """(node) => {
  const bubble = node.closest('.fo-msg');
  let opacity = 1;
  for (let up = node; up && up !== bubble; up = up.parentElement) {
    opacity *= parseFloat(getComputedStyle(up).opacity);
  }
  return { colour: getComputedStyle(node).color, opacity,
           bubble: getComputedStyle(bubble).backgroundColor,
           size: parseFloat(getComputedStyle(node).fontSize) };
}"""


def seen_colour(colour: str, opacity: float, beneath: str) -> contrast.RGB:
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)]
    alpha = (parts[3] if len(parts) > 3 else 1.0) * opacity
    under = contrast.parse(beneath)
    r, g, b = (round(parts[i] * alpha + under[i] * (1 - alpha)) for i in range(3))
    return (r, g, b)


@needs("chat_message")
def test_each_bubbles_time_and_name_are_4_5_to_1_on_the_bubble(
    visitor: Visit, team: Callable[..., Any]
) -> None:
    visitor.open()
    page = conversation(visitor, team)
    for author in ("visitor", "team"):
        for part in ("time", ".fo-msg__who", ".fo-msg__text"):
            node = page.locator(f".fo-msg[data-author={author}] {part}").first
            seen = node.evaluate(SEEN)
            shown = seen_colour(seen["colour"], seen["opacity"], seen["bubble"])
            ratio = contrast.ratio(shown, contrast.parse(seen["bubble"]))
            print(f"{author} bubble {part}: {ratio:.2f}:1 at {seen['size']}px ({shown})")
            assert ratio >= contrast.TEXT, (author, part, seen)


# == motion and zoom ===================================================================

DURATIONS = """() => {
  const found = [];
  for (const node of document.querySelectorAll('*')) {
    for (const pseudo of [null, '::before', '::after']) {
      const style = getComputedStyle(node, pseudo);
      for (const value of [style.transitionDuration, style.animationDuration]) {
        if (value.split(',').some((d) => parseFloat(d) > 0)) {
          found.push(node.className + (pseudo || '') + ' ' + value);
        }
      }
    }
  }
  return found;
}"""
KNOB = "() => getComputedStyle(document.querySelector('.fo-switch__track'), '::after')"


def test_with_reduced_motion_asked_for_nothing_on_the_page_moves(visitor: Visit) -> None:
    page = visitor.open()
    # The switch's knob slides, for those who have not asked otherwise...
    assert page.evaluate(KNOB + ".transitionDuration") != "0s"
    assert page.evaluate(DURATIONS) != []

    page.emulate_media(reduced_motion="reduce")
    # ...and jumps for those who have: no transition or animation is left anywhere.
    assert page.evaluate("() => matchMedia('(prefers-reduced-motion: reduce)').matches")
    assert page.evaluate(DURATIONS) == []


# The controls that must stay in reach, each of the banner and of the open chat.
BANNER_CONTROLS = ["#fo-consent a", "#fo-consent [role=switch]", BANNER_BUTTON.format("denied"),
                   BANNER_BUTTON.format("granted")]  # fmt: skip
PANEL_CONTROLS = [".fo-chat__close", ".fo-chat__note a", "#fo-chat-email", "#fo-chat-first",
                  ".fo-chat__start button[type=submit]"]  # fmt: skip
NO_SIDEWAYS_SCROLL = (
    "() => document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
)
OVERLAP = """([one, other]) => {
  const a = document.querySelector(one).getBoundingClientRect();
  const b = document.querySelector(other).getBoundingClientRect();
  return Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left)) *
         Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));
}"""


ON_TOP = """() => {
  const node = document.activeElement;
  const r = node.getClientRects()[0];  // a link's first line
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return top !== null && (top === node || node.contains(top));
}"""


def assert_in_reach(page: Page, selectors: list[str]) -> None:
    """Each control takes the focus, lies wholly on screen, and is on top at its centre."""
    viewport = page.viewport_size
    assert viewport is not None
    for selector in selectors:
        control = page.locator(selector)
        control.focus()
        box = control.bounding_box()
        assert box is not None, selector
        right, bottom = box["x"] + box["width"], box["y"] + box["height"]
        assert box["x"] >= 0 and right <= viewport["width"] + 0.5, (selector, box)
        assert box["y"] >= 0 and bottom <= viewport["height"] + 0.5, (selector, box)
        assert page.evaluate(ON_TOP), selector


@needs("chat_message")
@pytest.mark.parametrize(
    ("width", "height", "text"),
    [(320, 568, "100%"), (375, 812, "200%")],
    ids=["reflow-at-320-css-px", "phone-text-at-200-percent"],
)
def test_reflowed_at_320_px_or_with_text_enlarged_nothing_scrolls_sideways_or_goes_out_of_reach(
    visitor: Visit, width: int, height: int, text: str
) -> None:
    """WCAG 1.4.10 (reflow: 1280 px at 400% is 320 CSS px) and 1.4.4 (text at 200%), the
    latter on a phone, where it is hardest."""
    visitor.page.set_viewport_size({"width": width, "height": height})
    page = visitor.open()
    page.evaluate("size => { document.documentElement.style.fontSize = size; }", text)
    expect(page.locator("#fo-consent")).to_be_visible()

    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert page.evaluate(OVERLAP, ["#fo-consent", LAUNCHER]) == 0
    assert_in_reach(page, BANNER_CONTROLS)
    assert_in_reach(page, [LAUNCHER])

    page.locator(BANNER_BUTTON.format("denied")).click()
    page.locator(LAUNCHER).click()
    expect(page.locator("#fo-chat-email")).to_be_focused()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert page.evaluate(OVERLAP, [PANEL, LAUNCHER]) == 0
    assert_in_reach(page, PANEL_CONTROLS)
    assert_in_reach(page, [LAUNCHER])
