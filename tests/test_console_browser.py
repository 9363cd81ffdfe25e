"""The team console in a real browser, against the local stack.

Debian's Chromium, driven by Playwright, opens the page that team_console serves; the
team member signs in through the local sign-in stand-in, which signs a real RS256 ID
token that the console verifies against the stand-in's certificate exactly as it does
against Google's. The demo page runs on its own origin in the same browser, so a chat
goes from a visitor's page to the console and back through the real functions and the
real Firestore emulator. Nothing outside the machine is reachable: any request off
loopback is refused and counted. Every test also fails on a script error or a
Content-Security-Policy violation on any of its pages.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.apps_script import AppsScript
from devstack.emulator import Emulator, free_port
from devstack.eventarc import Eventarc
from devstack.functions import Served, serve
from devstack.signin import LOCAL_CLIENT_ID
from devstack.site import Site, SiteConfig
from devstack.standins import StandIns
from tests.conftest import PROJECT, ROOT
from tests.test_browser import (
    CSP_WATCH,
    OUTPUT,
    browser,  # noqa: F401  (the fixture: Debian's Chromium, as `browser`)
    chat_messages,
    function_env,
    post_direct,
    send_chat,
    start_chat,
)

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Request, expect  # noqa: E402

pytestmark = pytest.mark.browser
# Waits, not timing claims: generous, since the machine running the tests may be busy.
expect.set_options(timeout=30_000)

MEMBER = "asha@factoryops.example"
STRANGER = "someone@elsewhere.example"
VISITOR = "ravi@plant.example"


# -- the local stack -----------------------------------------------------------------


@dataclass
class Stack:
    site: Site
    standins: StandIns
    chat: Served
    console: Served
    eventarc: Eventarc
    """Forwards what the chat stores to forward_record, as in production."""
    env: dict[str, str]
    logs: Path

    @property
    def site_origin(self) -> str:
        return f"http://localhost:{self.site.port}"

    @property
    def console_origin(self) -> str:
        return self.console.url.rstrip("/")


@pytest.fixture(scope="module")
def stack(
    emulator: Emulator, apps_script: AppsScript, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    ports = {name: free_port() for name in ("chat_message", "team_console", "forward_record")}
    chat_url = f"http://127.0.0.1:{ports['chat_message']}/"
    # The visitor's widget polls faster than on the site, so replies show up promptly.
    config = SiteConfig(contact_url="", chat_url=chat_url, access_url="", chat_poll_ms=500)
    site = Site(config, quiet=True)
    standins = StandIns(crm=apps_script).start()
    env = {
        **function_env(emulator.address, f"http://localhost:{site.port}", standins),
        **standins.signin_env(f"http://127.0.0.1:{ports['team_console']}"),
        "TEAM_EMAILS": MEMBER,
    }
    logs = tmp_path_factory.mktemp("console-stack")
    served = {
        name: serve(name, env=env, log=logs / f"{name}.log", port=port, cwd=ROOT)
        for name, port in ports.items()
    }
    eventarc = Eventarc(
        target=served["forward_record"].url, project=PROJECT, emulator_host=emulator.address
    )
    try:
        for function in served.values():
            function.wait_until_serving(timeout=60)
        eventarc.start()
        site.start()
        yield Stack(
            site, standins, served["chat_message"], served["team_console"], eventarc, env, logs
        )
    finally:
        eventarc.stop()
        site.stop()
        for function in served.values():
            function.stop()
        standins.stop()


@pytest.fixture(scope="module")
def google_console(stack: Stack) -> Iterator[Served]:
    """The console as deployed: no local sign-in, so its page signs in with Google."""
    env = {k: v for k, v in stack.env.items() if k != "TEAM_CERTS_URL"}
    served = serve(
        "team_console", env=env, log=stack.logs / "google.log", port=free_port(), cwd=ROOT
    )
    try:
        served.wait_until_serving(timeout=60)
        yield served
    finally:
        served.stop()


# -- the browser ---------------------------------------------------------------------


class Session:
    """One fresh browser profile with the console page; what its pages requested, and
    every problem seen on them: a script error, a CSP violation, a dialog, a request
    off loopback."""

    def __init__(self, context: BrowserContext, stack: Stack) -> None:
        self.context = context
        self.stack = stack
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self.page = self.watch(context.new_page())

    def watch(self, page: Page) -> Page:
        page.on("request", lambda sent: self.requests.append(sent))
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and self.problems.append(f"CSP: {message.text}")
            ),
        )

        def dialog(shown: Any) -> None:
            self.problems.append(f"dialog: {shown.message}")
            shown.dismiss()

        page.on("dialog", dialog)
        return page

    def open(self, fragment: str = "") -> Page:
        self.page.goto(self.stack.console.url + fragment)
        return self.page

    def visitor(self) -> Page:
        """The demo page in a second tab of the same browser."""
        page = self.watch(self.context.new_page())
        page.goto(self.stack.site_origin + "/")
        return page

    def api_calls(self, method: str, path: str) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.method == method and urllib.parse.urlsplit(r.url).path == path
        ]


def _is_local(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in ("localhost", "127.0.0.1")


def open_session(stack: Stack, request: pytest.FixtureRequest, **options: Any) -> Iterator[Session]:
    chromium: Browser = request.getfixturevalue("browser")
    context = chromium.new_context(**options)
    context.add_init_script(CSP_WATCH)
    session = Session(context, stack)

    def refuse(route: Any) -> None:
        session.problems.append(f"off loopback: {route.request.url}")
        route.abort("blockedbyclient")

    context.route(lambda url: not _is_local(url), refuse)
    screenshot = OUTPUT / f"{request.node.name}.png"
    screenshot.unlink(missing_ok=True)
    failed_before = request.session.testsfailed
    yield session
    try:
        if request.session.testsfailed > failed_before:
            OUTPUT.mkdir(exist_ok=True)
            session.page.screenshot(path=str(screenshot), full_page=True)
        for page in context.pages:
            session.problems.extend(
                f"CSP: {v}" for v in page.evaluate("() => window.cspViolations || []")
            )
    finally:
        context.close()
    assert session.problems == []


@pytest.fixture
def session(stack: Stack, db: Any, request: pytest.FixtureRequest) -> Iterator[Session]:
    stack.standins.reset()
    yield from open_session(stack, request, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(stack: Stack, db: Any, request: pytest.FixtureRequest) -> Iterator[Session]:
    stack.standins.reset()
    yield from open_session(
        stack,
        request,
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )


# -- helpers -------------------------------------------------------------------------


def sign_in(page: Page, email: str = MEMBER) -> None:
    page.fill("#local-email", email)
    page.click("[data-local-signin] button[type=submit]")


def signed_in(page: Page, email: str = MEMBER) -> None:
    sign_in(page, email)
    expect(page.locator("[data-who]")).to_have_text(email)


def visitor_starts_a_chat(session: Session, text: str) -> Page:
    """The demo page in a second tab, where a visitor starts a chat."""
    visitor = session.visitor()
    start_chat(visitor, VISITOR, text)
    expect(chat_messages(visitor)).to_have_count(1)
    return visitor


def start_chat_directly(stack: Stack, email: str, text: str) -> None:
    """A chat as a visitor's page starts one, without a page."""
    status, _ = post_direct(stack.chat.url, {"email": email, "page": "/pricing", "text": text})
    assert status == 201


def stored_chats(db: Any) -> list[dict[str, Any]]:
    return [d.to_dict() for d in db.collection("chat_sessions").stream()]


def lead_of(db: Any, email: str) -> str:
    [session] = [s for s in stored_chats(db) if s["email"] == email]
    return str(session["lead_id"])


def stored_chat(db: Any, lead_id: str) -> dict[str, Any]:
    [session] = [s for s in stored_chats(db) if s["lead_id"] == lead_id]
    return session


def chat_item(page: Page, email: str) -> Locator:
    return page.locator("[data-chat-items] .chat-item", has_text=email)


def thread_messages(page: Page) -> Locator:
    return page.locator("[data-messages] .msg")


def fits_the_width(page: Page) -> bool:
    return bool(
        page.evaluate(
            "() => document.documentElement.scrollWidth <= window.innerWidth"
            " && document.body.scrollWidth <= window.innerWidth"
        )
    )


def in_view(page: Page, target: Locator) -> None:
    """Visible, inside the screen's width, and not covered by anything."""
    expect(target).to_be_visible()
    box = target.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]  # type: ignore[index]
    target.click(trial=True)


# -- signing in ----------------------------------------------------------------------

GOOGLE_SCRIPT = "https://accounts.google.com/gsi/client"
# A stand-in for Google's sign-in script, not Google's: it records how the page calls
# the documented API (initialize, renderButton) and, when its button is clicked, hands
# the page's callback a credential as Google's would.
GSI_STUB = """
window.gsiStub = { initialized: [], rendered: 0 };
window.google = { accounts: { id: {
  initialize: function (config) {
    window.gsiStub.initialized.push({ client_id: config.client_id });
    window.gsiStub.callback = config.callback;
  },
  renderButton: function (parent, options) {
    var button = document.createElement('button');
    button.className = 'gsi-stub';
    button.textContent = 'Sign in with Google';
    button.addEventListener('click', function () {
      window.gsiStub.callback({ credential: 'credential-from-google', select_by: 'btn' });
    });
    parent.appendChild(button);
    window.gsiStub.rendered += 1;
    window.gsiStub.options = options;
  },
  disableAutoSelect: function () {}
} } };
"""


def test_as_deployed_the_page_signs_in_with_google_identity_services(
    session: Session, google_console: Served
) -> None:
    page = session.page
    referers: list[str | None] = []

    def google(route: Any) -> None:
        referers.append(route.request.headers.get("referer"))
        route.fulfill(status=200, content_type="text/javascript", body=GSI_STUB)

    page.route(GOOGLE_SCRIPT, google)
    page.goto(google_console.url)

    expect(page.locator("[data-google-button] .gsi-stub")).to_be_visible()
    expect(page.locator("[data-local-signin]")).to_be_hidden()
    assert page.evaluate("() => window.gsiStub.initialized") == [{"client_id": LOCAL_CLIENT_ID}]
    assert referers == [google_console.url]  # Google's sign-in learns the page's origin
    page.click(".gsi-stub")

    # Google's credential is what the API gets; this one is no token, so: sign in again.
    expect(page.locator("[data-signin-status]")).to_have_text(re.compile("sign in again"))
    [me] = session.api_calls("GET", "/api/me")
    assert me.header_value("authorization") == "Bearer credential-from-google"
    expect(page.locator("[data-google-button] .gsi-stub")).to_have_count(1)
    assert page.evaluate("() => window.gsiStub.initialized.length") == 1


def test_the_token_lives_in_memory_only_and_goes_with_every_api_call_as_a_bearer(
    session: Session,
) -> None:
    page = session.open()
    signed_in(page)
    expect(page.locator(".nav")).to_be_visible()

    [me] = session.api_calls("GET", "/api/me")
    credential = me.header_value("authorization")
    assert credential is not None and credential.startswith("Bearer ey")
    [listing] = session.api_calls("GET", "/api/chats")
    assert listing.header_value("authorization") == credential
    assert session.context.cookies() == []
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert credential.split()[1] not in page.content()

    page.reload()  # memory only: a reload forgets the sign-in
    expect(page.locator("#local-email")).to_be_visible()
    expect(page.locator(".nav")).to_be_hidden()


def test_an_address_not_in_team_emails_is_told_it_may_not_use_the_console(
    session: Session,
) -> None:
    page = session.open()
    sign_in(page, STRANGER)

    expect(page.locator("[data-signin-status]")).to_have_text(
        "This account may not use the team console."
    )
    expect(page.locator(".nav")).to_be_hidden()
    expect(page.locator("[data-section=chats]")).to_be_hidden()
    [me] = session.api_calls("GET", "/api/me")
    response = me.response()
    assert response is not None and response.status == 403


def test_a_token_the_api_refuses_sends_the_member_back_to_sign_in(session: Session) -> None:
    page = session.open()
    signed_in(page)

    def tamper(route: Any) -> None:
        # As an expired token would: the real API answers the real 401.
        headers = {**route.request.headers, "authorization": "Bearer not.a.token"}
        route.continue_(headers=headers)

    page.route(re.compile(r".*/api/grants$"), tamper)
    page.click(".nav a[data-view=grants]")

    expect(page.locator("[data-signin-status]")).to_have_text(re.compile("Please sign in again"))
    expect(page.locator("#local-email")).to_be_visible()
    expect(page.locator(".nav")).to_be_hidden()
    page.unroute(re.compile(r".*/api/grants$"))
    signed_in(page)  # and on signing in again, the same view
    expect(page.locator("[data-section=grants]")).to_be_visible()


# -- chats ---------------------------------------------------------------------------


def test_a_chat_from_the_demo_page_is_answered_in_the_console_and_the_visitor_sees_the_reply(
    session: Session, db: Any
) -> None:
    visitor = visitor_starts_a_chat(session, "Do you read Siemens S7 PLCs?")

    page = session.open()
    signed_in(page)
    item = chat_item(page, VISITOR)
    expect(item).to_have_class(re.compile("chat-item--awaiting"))
    expect(item.locator(".badge--awaiting")).to_have_text("Awaiting reply")
    expect(page.locator("[data-awaiting]")).to_have_text("1")
    item.locator("a").click()

    lead_id = lead_of(db, VISITOR)
    assert page.url.endswith(f"#/chats/{lead_id}")
    expect(page.locator("[data-thread-title]")).to_have_text(VISITOR)
    expect(thread_messages(page)).to_have_count(1)
    expect(thread_messages(page).first).to_contain_text("Do you read Siemens S7 PLCs?")

    # The open thread picks up what the visitor writes next, without a reload.
    send_chat(visitor, "And Allen-Bradley?")
    expect(thread_messages(page)).to_have_count(2)
    expect(thread_messages(page).last).to_contain_text("And Allen-Bradley?")
    polls = [r for r in session.requests if f"/api/chats/{lead_id}?after=" in r.url]
    assert polls

    page.fill("#reply-text", "Yes to both: S7 over OPC UA, Allen-Bradley over EtherNet/IP.")
    page.click("[data-reply] button[type=submit]")

    expect(thread_messages(page)).to_have_count(3)
    expect(page.locator("[data-messages] .msg--team")).to_contain_text("EtherNet/IP")
    expect(page.locator("#reply-text")).to_have_value("")
    expect(visitor.locator(".fo-msg--team")).to_contain_text("EtherNet/IP")
    expect(item).not_to_have_class(re.compile("chat-item--awaiting"))
    [reply] = session.api_calls("POST", f"/api/chats/{lead_id}/reply")
    assert reply.header_value("content-type") == "application/json"
    assert reply.header_value("idempotency-key")
    assert reply.post_data_json == {
        "text": "Yes to both: S7 over OPC UA, Allen-Bradley over EtherNet/IP."
    }


def test_the_nudge_link_opens_its_chat_after_sign_in_and_closing_it_ends_the_visitors_chat(
    session: Session, db: Any
) -> None:
    visitor = visitor_starts_a_chat(session, "Can we see a demo next week?")
    lead_id = lead_of(db, VISITOR)

    page = session.open(f"#/chats/{lead_id}")
    signed_in(page)
    expect(page.locator("[data-thread-title]")).to_have_text(VISITOR)
    expect(thread_messages(page)).to_have_count(1)

    page.click("[data-thread-actions] button:has-text('Close chat')")
    expect(page.locator("[data-thread-actions]")).to_contain_text("Close this chat?")
    page.click("[data-thread-actions] .button--danger")

    expect(page.locator("[data-closed-note]")).to_be_visible()
    expect(page.locator("[data-reply]")).to_be_hidden()
    expect(visitor.locator(".fo-chat__closed")).to_be_visible()
    assert stored_chat(db, lead_id)["status"] == "closed"


def test_visitor_markup_shows_as_text_and_runs_nothing(session: Session, db: Any) -> None:
    markup = "<img src=x onerror=alert(1)>"
    start_chat_directly(session.stack, VISITOR, markup)

    page = session.open(f"#/chats/{lead_of(db, VISITOR)}")
    signed_in(page)

    expect(thread_messages(page).locator(".msg__text")).to_have_text(markup)
    assert page.locator("#console img").count() == 0
    assert not [p for p in session.problems if p.startswith("dialog")]
    assert not [r.url for r in session.requests if urllib.parse.urlsplit(r.url).path == "/x"]


# -- grants, deliveries, privacy -------------------------------------------------------


def test_a_new_grant_link_is_shown_once_and_the_copy_button_puts_it_on_the_clipboard(
    session: Session, db: Any
) -> None:
    session.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=session.stack.console_origin
    )
    page = session.open("#/grants")
    signed_in(page)
    page.fill("#grant-lead", "Asha Rao")
    page.fill("#grant-sections", "pricing,case-studies")
    page.fill("#grant-email", "asha.rao@plant.example")
    page.fill("#grant-uses", "3")
    page.click("[data-grant-form] button[type=submit]")

    url_box = page.locator("[data-grant-url]")
    expect(page.locator("[data-grant-link]")).to_be_visible()
    link = url_box.input_value()
    assert link.startswith(session.stack.site_origin) and "access=" in link
    page.click("[data-copy-link]")
    expect(page.locator("[data-copy-status]")).to_have_text("Copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    grant = page.locator("[data-grant-items] .grant-item", has_text="Asha Rao")
    expect(grant).to_contain_text("0 of 3 uses")
    expect(grant.locator(".badge")).to_have_text("active")

    page.click("[data-grant-done]")
    expect(page.locator("[data-grant-link]")).to_be_hidden()
    assert url_box.input_value() == ""
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["access"][0]
    assert token not in page.content()
    [stored] = [d.to_dict() for d in db.collection("access_grants").stream()]
    assert token not in str(stored)  # only its hash is kept: the link is gone for good


def test_a_failed_delivery_is_put_back_in_the_queue_from_the_console(
    session: Session, db: Any
) -> None:
    session.stack.standins.state.fail["emailjs"] = "400"  # refused for good: failed at once
    start_chat_directly(session.stack, VISITOR, "Is there an on-premises option?")
    lead_id = lead_of(db, VISITOR)
    assert session.stack.eventarc.settle()
    session.stack.standins.state.fail.clear()

    page = session.open("#/deliveries")
    signed_in(page)
    line = page.locator("[data-delivery-items] .delivery-item", has_text=lead_id)
    expect(line.locator(".badge")).to_have_text("failed")
    expect(line).to_contain_text("Channel: email")
    line.locator("button", has_text="Retry").click()

    expect(page.locator("[data-delivery-status]")).to_contain_text(
        "Put back in the queue: 1 delivery"
    )
    expect(line).to_have_count(0)
    # Back in the queue, due now: the session's write reaches forward_record at once.
    assert session.stack.eventarc.settle()
    assert stored_chat(db, lead_id)["deliveries"]["email"]["state"] == "sent"
    [email] = session.stack.standins.state.emails
    assert email["template_params"]["record_id"] == lead_id
    [retry] = session.api_calls("POST", "/api/deliveries/retry")
    assert retry.post_data_json == {"kind": "chat", "id": lead_id}


def test_privacy_delete_goes_ahead_only_with_the_address_typed_again(
    session: Session, db: Any
) -> None:
    start_chat_directly(session.stack, VISITOR, "Please forget me after this.")
    page = session.open("#/privacy")
    signed_in(page)
    form = page.locator("[data-privacy=delete]")

    form.locator("#delete-email").fill(VISITOR)
    form.locator("#delete-confirm").fill("ravi@plant.example.com")
    form.locator("button[type=submit]").click()
    expect(form.locator(".field-error")).to_have_text("confirm must repeat the address, to confirm")
    assert session.api_calls("POST", "/api/privacy/delete") == []
    assert len(stored_chats(db)) == 1

    form.locator("#delete-confirm").fill(VISITOR.upper())
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-result]")).to_contain_text("chat sessions: 1")
    expect(form.locator("[data-result] .json")).to_contain_text(f'"{VISITOR}"')
    assert stored_chats(db) == []

    page.click(".nav a[data-view=audit]")
    expect(page.locator("[data-audit-items] .audit-item").first).to_contain_text("privacy.delete")


def test_privacy_correct_shows_what_changed_and_the_search_for_the_old_copies(
    session: Session,
) -> None:
    start_chat_directly(session.stack, VISITOR, "My address is changing next month.")
    page = session.open("#/privacy")
    signed_in(page)
    form = page.locator("[data-privacy=correct]")

    form.locator("#correct-email").fill(VISITOR)
    form.locator("#correct-new-email").fill("ravi@newplant.example.com")
    form.locator("button[type=submit]").click()

    expect(form.locator("[data-result]")).to_contain_text("chat sessions: 1")
    expect(form.locator("[data-result]")).to_contain_text("keep the old values")
    expect(form.locator("[data-result] .json")).to_contain_text(f'"{VISITOR}"')


def test_privacy_export_shows_what_is_held_as_json(session: Session) -> None:
    start_chat_directly(session.stack, VISITOR, "What do you keep about me?")
    page = session.open("#/privacy")
    signed_in(page)
    form = page.locator("[data-privacy=export]")
    form.locator("#export-email").fill(VISITOR)
    form.locator("button[type=submit]").click()

    exported = form.locator("[data-export-json]")
    expect(exported).to_contain_text("What do you keep about me?")
    assert '"chat_sessions"' in exported.inner_text()


# -- every screen ----------------------------------------------------------------------

VIEWS = ("chats", "grants", "deliveries", "privacy", "audit", "status")


def test_every_view_loads_under_the_strict_policy_with_no_inline_style(
    session: Session,
) -> None:
    start_chat_directly(session.stack, VISITOR, "Hello")
    page = session.open()
    response = page.reload()
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    signed_in(page)
    for view in VIEWS:
        page.click(f".nav a[data-view={view}]")
        expect(page.locator(f"[data-section={view}]")).to_be_visible()
        expect(page.locator(f".nav a[data-view={view}]")).to_have_attribute("aria-current", "page")
    expect(page.locator("[data-status-cards] .card").first).to_be_visible()
    assert page.locator("[style]").count() == 0
    assert page.evaluate("() => window.cspViolations") == []


def test_the_console_works_on_a_phone_sized_screen(phone: Session, db: Any) -> None:
    start_chat_directly(phone.stack, VISITOR, "Sent from the shop floor " + "x" * 120)
    page = phone.open()
    signed_in(page)
    assert fits_the_width(page)
    for view in VIEWS:
        link = page.locator(f".nav a[data-view={view}]")
        in_view(page, link)
        link.click()
        expect(page.locator(f"[data-section={view}]")).to_be_visible()
        assert fits_the_width(page), view

    page.locator(".nav a[data-view=chats]").click()
    chat_item(page, VISITOR).locator("a").click()
    # One column: the thread replaces the list, with a way back.
    expect(page.locator("[data-chat-items]")).to_be_hidden()
    in_view(page, page.locator(".back"))
    in_view(page, page.locator("#reply-text"))
    in_view(page, page.locator("[data-reply] button[type=submit]"))
    in_view(page, page.locator("[data-thread-actions] button"))
    assert fits_the_width(page)

    page.click(".nav a[data-view=grants]")
    in_view(page, page.locator("[data-grant-form] button[type=submit]"))
    page.click(".nav a[data-view=privacy]")
    in_view(page, page.locator("[data-privacy=delete] button[type=submit]"))
    assert fits_the_width(page)


def test_the_link_in_the_link_opened_note_shows_its_grant(session: Session, db: Any) -> None:
    from factoryops import grants

    grants.create(lead="Trade fair", sections="demo", no_email=True)
    named = grants.create(lead="Asha Rao", sections="pricing", email="asha.rao@plant.example")
    page = session.open(f"#/grants/{named.grant.id}")
    signed_in(page)
    item = page.locator(f'[data-grant="{named.grant.id}"]')
    expect(item).to_have_class(re.compile(r"\bis-target\b"))
    expect(item).to_be_focused()
    other = page.locator("[data-grant-items] .grant-item", has_text="Trade fair")
    expect(other).not_to_have_class(re.compile(r"\bis-target\b"))
