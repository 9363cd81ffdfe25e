"""The team console for every member: by keyboard, with a screen reader, zoomed in.

axe-core (tests/axe.py) scans every view at a desktop's 1280x800 and a phone's 375x812
against the WCAG 2.0, 2.1 and 2.2 rules of levels A and AA; the keyboard tests walk the
console as a member who uses no mouse does; the contrast tests measure, in the browser,
the colours the stylesheet declares (tests/contrast.py). The fixtures and the local
stack are test_console_browser's, so every test here also fails on a script error or a
Content-Security-Policy violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests import axe, contrast
from tests.test_console_browser import (
    MEMBER,
    NO_SCRIPT_POST,
    SIZES,
    VIEWS,
    VISITOR,
    Session,
    Stack,
    browser,  # noqa: F401  (the fixtures, as test_console_browser uses them)
    chat_item,
    contact_form,
    create_link,
    export,
    held_as_spam,
    in_view,
    is_phone,
    lead_of,
    open_session,
    session,  # noqa: F401
    signed_in,
    sized,  # noqa: F401
    spam_items,
    stack,  # noqa: F401
    start_chat_directly,
    thread_messages,
)

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser


# -- every view, scanned -----------------------------------------------------------------


def a_bit_of_everything(member: Session, db: Any, function_client: Any) -> str:
    """A chat whose email failed (so Deliveries lists it) from a visitor who also sent
    the contact form and holds a grant, and a post held as spam; the chat's lead id."""
    from factoryops import grants

    local = member.stack
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


def show(member: Session, view: str, lead: str) -> Page:
    """The console showing `view`, with what it lists there."""
    if view == "signin":
        page = member.open()
        expect(page.locator("#local-email")).to_be_visible()
        return page
    fragment = {
        "thread": f"#/chats/{lead}",
        "person": f"#/chats/{lead}",
        "new-link": "#/grants",
        "export": "#/privacy",
        "audit": "#/privacy",  # an export first, so that the audit lists an action
    }.get(view, f"#/{view}")
    page = member.open(fragment)
    signed_in(page)
    if view == "chats":
        expect(chat_item(page, VISITOR)).to_be_visible()
    elif view in ("thread", "person"):
        expect(thread_messages(page)).to_have_count(1)
        if view == "person":
            if is_phone(member):
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
def test_axe_finds_no_wcag_a_or_aa_violation_and_no_best_practice_problem_in_the_view(
    sized: Session,  # noqa: F811
    db: Any,
    function_client: Any,
    view: str,
) -> None:
    lead = a_bit_of_everything(sized, db, function_client)
    page = show(sized, view, lead)

    found = axe.violations(page)
    # Beyond WCAG: axe's best practices, where a page without an h1 is reported.
    advised = axe.violations(page, axe.BEST_PRACTICE)

    assert found == [], axe.summary(found)
    assert advised == [], axe.summary(advised)
    # One h1 names the view, at both sizes (a phone shows a chat's thread alone).
    expect(page.get_by_role("heading", level=1)).to_have_count(1)


def test_the_scan_reports_an_image_without_alt_and_text_too_faint_to_read(
    session: Session,  # noqa: F811
) -> None:
    page = session.open()
    signed_in(page)
    expect(page.locator("[data-section=chats]")).to_be_visible()
    assert axe.violations(page) == []

    # Planted through the DOM (the page's policy allows no inline style sheet).
    page.evaluate(
        """() => {
          const main = document.querySelector('main');
          const image = document.createElement('img');
          image.width = 20;
          image.height = 20;
          main.prepend(image);
          const faint = document.createElement('p');
          faint.textContent = 'Too faint to read';
          faint.style.color = '#c8c8c8';
          main.prepend(faint);
        }"""
    )
    found = {v.rule for v in axe.violations(page)}

    assert {"image-alt", "color-contrast"} <= found, found


# -- by keyboard: where focus goes ---------------------------------------------------------

NAMES = {
    "chats": "Chats",
    "spam": "Spam",
    "grants": "Access grants",
    "deliveries": "Deliveries",
    "privacy": "Privacy requests",
    "audit": "Audit",
    "status": "Status",
}
"""Each view's h1, as a screen reader reads it when it takes focus."""


def press_until_focused(page: Page, key: str, target: Locator, most: int = 40) -> None:
    """`key` (Tab, Shift+Tab) pressed until `target` has focus, as a member without a
    mouse moves through the page."""
    for _ in range(most):
        if target.evaluate("node => node === document.activeElement"):
            return
        page.keyboard.press(key)
    expect(target).to_be_focused()


def test_signing_in_by_keyboard_moves_focus_to_the_first_views_heading(
    session: Session,  # noqa: F811
) -> None:
    page = session.open()
    email = page.locator("#local-email")
    expect(email).to_be_focused()

    page.keyboard.type(MEMBER)
    page.keyboard.press("Enter")

    heading = page.get_by_role("heading", level=1, name="Chats")
    expect(heading).to_be_focused()
    expect(heading).to_have_attribute("tabindex", "-1")


def test_choosing_each_view_by_keyboard_moves_focus_to_its_heading(
    sized: Session,  # noqa: F811
) -> None:
    page = sized.open()
    signed_in(page)
    expect(page.get_by_role("heading", level=1, name="Chats")).to_be_focused()

    for view in (*VIEWS[1:], VIEWS[0]):
        link = page.locator(f".nav a[data-view={view}]")
        # The navigation comes before the view: back to it, as a keyboard goes.
        press_until_focused(page, "Shift+Tab", link)
        page.keyboard.press("Enter")

        heading = page.locator(f"[data-section={view}]").get_by_role("heading", level=1)
        expect(heading).to_be_focused()
        expect(heading).to_have_text(NAMES[view])
        expect(link).to_have_attribute("aria-current", "page")


def test_opening_a_chat_by_keyboard_focuses_its_heading_and_back_returns_to_the_chat(
    sized: Session,  # noqa: F811
) -> None:
    start_chat_directly(sized.stack, VISITOR, "Do you read Siemens S7 PLCs?")
    page = sized.open()
    signed_in(page)
    link = chat_item(page, VISITOR).locator("a")
    press_until_focused(page, "Tab", link)

    page.keyboard.press("Enter")

    title = page.locator("#thread-title")
    expect(title).to_be_focused()
    expect(title).to_have_text(VISITOR)
    expect(title).to_have_attribute("tabindex", "-1")
    if not is_phone(sized):
        return
    # A phone shows the thread alone, and the way back to the list before its heading.
    back = page.get_by_role("link", name="← All chats")
    press_until_focused(page, "Shift+Tab", back)
    page.keyboard.press("Enter")

    expect(link).to_be_focused()
    expect(page.locator("[data-thread]")).to_be_hidden()


# -- forms ---------------------------------------------------------------------------------


def test_a_refused_form_marks_each_field_with_its_error_and_focuses_the_first(
    session: Session,  # noqa: F811
) -> None:
    page = session.open("#/grants")
    signed_in(page)
    form = page.locator("[data-grant-form]")

    form.locator("button[type=submit]").click()  # nothing filled in: the server says what

    lead = page.locator("#grant-lead")
    expect(lead).to_be_focused()
    for name in ("lead", "sections"):
        field = page.locator(f"#grant-{name}")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", f"grant-{name}-error")
        expect(page.locator(f"#grant-{name}-error")).to_contain_text(name)
    # Mended, a field says no more of the error, and points to no note gone.
    lead.fill("Asha Rao")
    expect(lead).not_to_have_attribute("aria-invalid", "true")
    assert lead.get_attribute("aria-describedby") is None
    expect(page.locator("#grant-lead-error")).to_have_count(0)
    expect(page.locator("#grant-sections")).to_have_attribute("aria-invalid", "true")


def test_a_privacy_deletion_not_confirmed_focuses_the_confirmation_with_its_error(
    session: Session,  # noqa: F811
) -> None:
    page = session.open("#/privacy")
    signed_in(page)
    form = page.locator("[data-privacy=delete]")
    form.locator("#delete-email").fill(VISITOR)
    form.locator("#delete-confirm").fill("someone@else.example")

    form.locator("button[type=submit]").click()

    confirm = form.locator("#delete-confirm")
    expect(confirm).to_be_focused()
    expect(confirm).to_have_attribute("aria-invalid", "true")
    expect(confirm).to_have_accessible_description("confirm must repeat the address, to confirm")


# -- contrast ------------------------------------------------------------------------------

_RING = """node => {
  const style = getComputedStyle(node);
  const rect = node.getBoundingClientRect();
  const reach = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth);
  // What lies beneath the ring: the first ancestor with a background whose box holds it.
  let beneath = 'rgb(255, 255, 255)';
  for (let up = node.parentElement; up; up = up.parentElement) {
    const box = up.getBoundingClientRect();
    const holds = box.left <= rect.left - reach && box.right >= rect.right + reach
      && box.top <= rect.top - reach && box.bottom >= rect.bottom + reach;
    const colour = getComputedStyle(up).backgroundColor;
    if (holds && colour !== 'rgba(0, 0, 0, 0)') { beneath = colour; break; }
  }
  // Whether a scrolling column cuts the ring's sides off (it scrolls up and down only).
  let clipped = false;
  for (let up = node.parentElement; up; up = up.parentElement) {
    const scrolls = getComputedStyle(up);
    if (scrolls.overflowX === 'visible' && scrolls.overflowY === 'visible') continue;
    const left = up.getBoundingClientRect().left + up.clientLeft;
    if (rect.left - reach < left || rect.right + reach > left + up.clientWidth) clipped = true;
  }
  return {
    clipped: clipped,
    visible: node.matches(':focus-visible'),
    colour: style.outlineColor,
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    offset: parseFloat(style.outlineOffset),
    shadow: style.boxShadow,
    beneath: beneath,
  };
}"""


def halo(shadow: str) -> tuple[str, float]:
    """The colour and spread of the first outer box-shadow, as computed style gives it
    ("rgb(255, 255, 255) 0px 0px 0px 2px, ...")."""
    for part in shadow.split(", rgb"):
        if "inset" in part:
            continue
        colour, _, lengths = part.partition(")")
        colour = colour if colour.startswith("rgb") else "rgb" + colour
        spread = float(lengths.split()[-1].removesuffix("px"))
        return colour + ")", spread
    raise AssertionError(f"no halo around the ring: box-shadow {shadow!r}")


def ring_of(page: Page, control: Locator) -> dict[str, Any]:
    """The focus ring around `control`, reached by keyboard."""
    press_until_focused(page, "Tab", control, most=60)
    ring: dict[str, Any] = control.evaluate(_RING)
    assert ring["visible"], "the control does not show :focus-visible"
    return ring


def test_the_focus_ring_stands_out_3_to_1_on_every_kind_of_control(
    session: Session,  # noqa: F811
) -> None:
    start_chat_directly(session.stack, VISITOR, "Do you read Siemens S7 PLCs?")
    page = session.open()
    signed_in(page)
    chat = chat_item(page, VISITOR).locator("a")
    chat.click()
    expect(chat).to_have_attribute("aria-current", "true")  # the chat open: selected

    controls = {
        "the current view's nav link": page.locator(".nav a[aria-current=page]"),
        "a nav link": page.locator(".nav a[data-view=spam]"),
        "a quiet button": page.locator("[data-signout]"),
        "a select": page.locator("[data-chat-filter]"),
        "an input": page.locator("#chat-search"),
        "the selected chat in the list": chat,
        "a text area": page.locator("#reply-text"),
        "a button": page.locator("[data-reply] button[type=submit]"),
    }
    page.locator(".brand").focus()  # from the top of the page, as the keyboard goes
    rings = {}
    for kind, control in controls.items():
        rings[kind] = ring_of(page, control)
    page.locator(".nav a[data-view=privacy]").focus()
    page.keyboard.press("Enter")
    heading = page.locator("[data-section=privacy] h1")
    expect(heading).to_be_focused()
    rings["a view's heading"] = heading.evaluate(_RING)

    problems = []
    for kind, ring in rings.items():
        ring_colour = contrast.parse(ring["colour"])
        halo_colour, spread = halo(ring["shadow"])
        facts = (
            f"{kind}: {ring['style']} {ring['width']}px {ring['colour']} on a {halo_colour} "
            f"halo of {spread}px, over {ring['beneath']}"
        )
        if ring["style"] == "none" or ring["width"] < 2:
            problems.append(f"{facts}: no ring of 2px at least")
        if ring["clipped"]:
            problems.append(f"{facts}: cut off by the column it scrolls in")
        if spread < ring["offset"]:
            problems.append(f"{facts}: the halo leaves a gap under the ring")
        for side in (halo_colour, ring["beneath"]):
            if contrast.ratio(ring_colour, contrast.parse(side)) < contrast.NON_TEXT:
                problems.append(f"{facts}: under 3:1 against {side}")
    assert problems == []
    # One ring for everything, so that focus never reads as another state (the chat open).
    assert len({(r["colour"], r["width"], r["style"]) for r in rings.values()}) == 1, rings


_TEXT = """selectors => {
  const found = [];
  const background = (node) => {
    for (let up = node; up; up = up.parentElement) {
      const colour = getComputedStyle(up).backgroundColor;
      if (colour !== 'rgba(0, 0, 0, 0)') return colour;
    }
    return 'rgb(255, 255, 255)';
  };
  for (const selector of selectors) {
    for (const node of document.querySelectorAll(selector)) {
      if (!node.getClientRects().length || !node.textContent.trim()) continue;
      found.push({ what: selector, colour: getComputedStyle(node).color, on: background(node) });
    }
  }
  for (const input of document.querySelectorAll('input[placeholder]')) {
    if (!input.getClientRects().length) continue;
    found.push({
      what: 'the placeholder of #' + input.id,
      colour: getComputedStyle(input, '::placeholder').color,
      on: background(input),
    });
  }
  return found;
}"""
QUIET_TEXT = (
    ".hint",
    ".meta",
    ".empty",
    ".pick",
    ".item__line",
    ".item__time",
    ".bar__filter",
    ".brand__sub",
    ".who__email",
    ".chat-item__email",
    ".chat-item__meta",
    ".person__company",
    ".person__email",
    ".person__note",
    ".person__meta",
    ".msg__head",
    ".badge",
    ".card__label",
    ".days th",
)
"""The stylesheet's quieter text: muted and hint colours, small type, badges."""


def test_muted_hint_and_placeholder_text_reads_4_5_to_1_on_its_background(
    session: Session,  # noqa: F811
    db: Any,
    function_client: Any,
) -> None:
    lead = a_bit_of_everything(session, db, function_client)
    page = session.open(f"#/chats/{lead}")
    signed_in(page)
    expect(page.locator("[data-person-body] .person__company")).to_be_visible()
    measured = page.evaluate(_TEXT, list(QUIET_TEXT))
    for view in ("spam", "grants", "deliveries", "privacy", "status"):
        page.click(f".nav a[data-view={view}]")
        expect(
            page.locator(f"[data-section={view}] .item, [data-section={view}] form").first
        ).to_be_visible()
        measured += page.evaluate(_TEXT, list(QUIET_TEXT))

    seen = {(m["what"], m["colour"], m["on"]) for m in measured}
    assert {what for what, _, _ in seen} >= {".hint", ".meta", ".badge", ".person__note"}
    faint = [
        f"{what}: {colour} on {on} is {contrast.ratio(colour, on):.2f}:1"
        for what, colour, on in sorted(seen)
        if contrast.ratio(contrast.parse(colour), contrast.parse(on)) < contrast.TEXT
    ]
    assert faint == []


# -- motion and zoom -----------------------------------------------------------------------


@pytest.fixture
def still(stack: Stack, db: Any, request: pytest.FixtureRequest) -> Iterator[Session]:  # noqa: F811
    """A desktop browser whose member asked for reduced motion."""
    stack.standins.reset()
    width, height = SIZES["desktop"]
    viewport = {"width": width, "height": height}
    yield from open_session(stack, request, viewport=viewport, reduced_motion="reduce")


_MOTION = """() => {
  const moving = [];
  for (const node of document.querySelectorAll('*')) {
    for (const pseudo of [null, '::before', '::after']) {
      const style = getComputedStyle(node, pseudo);
      const lasts = (list) => list.split(',').some((t) => parseFloat(t) > 0);
      if (lasts(style.transitionDuration) || style.animationName !== 'none') {
        moving.push((node.className || node.tagName) + (pseudo || ''));
      }
    }
  }
  return moving.concat(document.getAnimations().map((a) => 'running: ' + a.constructor.name));
}"""


def test_with_reduced_motion_asked_for_nothing_in_the_console_moves(
    still: Session, db: Any, function_client: Any
) -> None:
    a_bit_of_everything(still, db, function_client)
    page = still.open()
    signed_in(page)
    assert page.evaluate("() => matchMedia('(prefers-reduced-motion: reduce)').matches")
    for view in VIEWS:
        page.click(f".nav a[data-view={view}]")
        expect(page.locator(f"[data-section={view}]")).to_be_visible()
        assert page.evaluate(_MOTION) == [], view
    # The check sees motion where there is some: an animation started by script.
    page.evaluate("() => document.querySelector('h1').animate([{opacity: 0}, {opacity: 1}], 60000)")
    assert page.evaluate(_MOTION) != []


LISTED = {
    "chats": "[data-chat-items] .chat-item",
    "spam": "[data-spam-items] .spam-item",
    "grants": "[data-grant-items] .grant-item",
    "deliveries": "[data-delivery-items] .delivery-item",
    "privacy": "[data-privacy=delete] button[type=submit]",
    "audit": "[data-section=audit] h1",
    "status": "[data-channel-items] .item",
}
"""What each view shows once its content is there."""


def no_sideways_scroll(page: Page) -> bool:
    """Nothing wider than the screen: on a phone the browser widens its layout to hold
    what overflows (`innerWidth` grows with it), so the screen's own width is the measure."""
    width = page.viewport_size["width"]  # type: ignore[index]
    return bool(page.evaluate("w => document.documentElement.scrollWidth <= w", width))


@pytest.fixture
def large_text(stack: Stack, db: Any, request: pytest.FixtureRequest) -> Iterator[Session]:  # noqa: F811
    """A phone's 375 px with the browser's text size at 200% (32 px for 16)."""
    stack.standins.reset()
    width, height = SIZES["phone"]
    options = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    for opened in open_session(
        stack, request, viewport={"width": width, "height": height}, **options
    ):
        cdp = opened.context.new_cdp_session(opened.page)
        cdp.send("Page.enable")
        cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
        yield opened


def test_at_375_px_with_text_at_200_percent_no_view_scrolls_sideways_and_the_nav_is_reachable(
    large_text: Session, db: Any, function_client: Any
) -> None:
    lead = a_bit_of_everything(large_text, db, function_client)
    page = large_text.open()
    signed_in(page)
    size = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert size == 32, "the text is not at 200%"

    for view in VIEWS:
        link = page.locator(f".nav a[data-view={view}]")
        in_view(page, link)
        link.click()
        expect(page.locator(LISTED[view]).first).to_be_visible()
        assert no_sideways_scroll(page), view
    page.click(".nav a[data-view=chats]")
    chat_item(page, VISITOR).locator("a").click()
    expect(page).to_have_url(re.compile(f"#/chats/{lead}$"))
    expect(thread_messages(page)).to_have_count(1)
    in_view(page, page.locator(".back"))
    in_view(page, page.locator("[data-reply] button[type=submit]"))
    assert no_sideways_scroll(page), "thread"
