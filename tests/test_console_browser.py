"""The team console in a real browser, against the local stack.

Debian's Chromium, driven by Playwright, opens the page that team_console serves; the
team member signs in through the local sign-in stand-in, which signs a real RS256 ID
token that the console verifies against the stand-in's certificate exactly as it does
against Google's. The demo page runs on its own origin in the same browser, so a chat
goes from a visitor's page to the console and back through the real functions and the
real Firestore emulator. Nothing outside the machine is reachable: any request off
loopback is refused and counted. Every test also fails on a script error, an error in
the browser's console or a Content-Security-Policy violation on any of its pages.

Where the point is the layout, a test runs at a desktop's 1280x800 and a phone's
375x812 (the `sized` fixture).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack import proofs
from devstack.apps_script import AppsScript
from devstack.emulator import Emulator, free_port
from devstack.eventarc import Eventarc
from devstack.functions import Served, serve
from devstack.signin import COOKIE_PATH, LOCAL_CLIENT_ID
from devstack.site import Site, SiteConfig
from devstack.standins import StandIns
from tests.conftest import PROJECT, ROOT
from tests.test_browser import (
    CSP_WATCH,
    OUTPUT,
    SHOTS,
    browser,  # noqa: F401  (the fixture: Debian's Chromium, as `browser`)
    chat_messages,
    function_env,
    post_direct,
    send_chat,
    start_chat,
)

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    expect,
)

pytestmark = pytest.mark.browser
# Waits, not timing claims: generous, since the machine running the tests may be busy.
expect.set_options(timeout=30_000)

MEMBER = "asha@factoryops.example"
MEMBER_NAME = "Asha"  # as the sign-in's token names her (Google's `name` claim)
STRANGER = "someone@elsewhere.example"
VISITOR = "ravi@plant.example"
OTHER = "meera@mill.example"
TITLE = "FactoryOps AI · Team console"
SIZES = {"desktop": (1280, 800), "phone": (375, 812)}
# The browser says so of every 4xx answer; the page handles those (a refused token, a
# form filled wrongly on purpose) and the tests check the ones they expect.
HANDLED_REFUSAL = re.compile(
    r"^Failed to load resource: the server responded with a status of 4\d\d"
)


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
        page.on("console", self.console)

        def dialog(shown: Any) -> None:
            self.problems.append(f"dialog: {shown.message}")
            shown.dismiss()

        page.on("dialog", dialog)
        return page

    def console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")
        # The console's errors; the demo page's are test_browser's business (here it
        # says, rightly, that this stack serves no contact form).
        elif (
            message.type == "error"
            and message.page is self.page
            and not HANDLED_REFUSAL.match(message.text)
        ):
            self.problems.append(f"console error: {message.text}")

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
    width, height = SIZES["desktop"]
    yield from open_session(stack, request, viewport={"width": width, "height": height})


@pytest.fixture
def phone(stack: Stack, db: Any, request: pytest.FixtureRequest) -> Iterator[Session]:
    stack.standins.reset()
    width, height = SIZES["phone"]
    yield from open_session(
        stack,
        request,
        viewport={"width": width, "height": height},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )


@pytest.fixture(params=sorted(SIZES))
def sized(stack: Stack, db: Any, request: pytest.FixtureRequest) -> Iterator[Session]:
    """A desktop's screen, then a phone's."""
    stack.standins.reset()
    width, height = SIZES[request.param]
    phone = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    yield from open_session(
        stack,
        request,
        viewport={"width": width, "height": height},
        **(phone if request.param == "phone" else {}),
    )


def is_phone(session: Session) -> bool:
    return session.page.viewport_size == {"width": 375, "height": 812}


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


def start_chat_directly(stack: Stack, email: str, text: str, page: str = "/pricing") -> None:
    """A chat as a visitor's page starts one, without a page: with the proof of work the
    site script solves, of a challenge the chat function gave."""
    challenge_url = stack.chat.url.rstrip("/") + "/challenge"
    with urllib.request.urlopen(challenge_url, timeout=20) as answer:
        solution = proofs.solve(json.load(answer))
    body = {"email": email, "page": page, "text": text, "altcha": solution}
    status, _ = post_direct(stack.chat.url, body)
    assert status == 201


def visitor_writes(stack: Stack, db: Any, lead_id: str, text: str) -> int:
    """A visitor's next message, as their page sends it to the chat function."""
    [ref] = [
        d.reference
        for d in db.collection("chat_sessions").stream()
        if d.to_dict()["lead_id"] == lead_id
    ]
    request = urllib.request.Request(
        stack.chat.url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json", "X-Chat-Session": ref.id},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def contact_form(
    db: Any,
    message: str,
    *,
    email: str = VISITOR,
    name: str = "Ravi Kumar",
    company: str = "Pune Stamping Works",
) -> None:
    """A contact submission as contact_submit stores one (by default, the visitor's)."""
    from factoryops.documents import ContactSubmission
    from factoryops.validation import search_terms

    submission = ContactSubmission(
        name=name,
        email=email,
        email_key=email.strip().lower(),
        company=company,
        message=message,
        search_terms=search_terms(name, company),
        expire_at=None,
    )
    db.collection("contact_submissions").document().create(submission.to_dict())


MARKUP = "<img src=x onerror=alert(1)>"
NO_SCRIPT_POST = {
    "name": "Ravi Kumar",
    "email": VISITOR,
    "company": "Pune Stamping Works",
    "message": "We run 14 presses.\nOur browser blocks scripts.\nPlease call me.\nRavi",
}
SPAM_POST = {
    "name": MARKUP,
    "email": "offers@seo.example",
    "company": "",
    "message": f"Buy backlinks {MARKUP} http://seo.example/a http://seo.example/b "
    "http://seo.example/c",
}


def held_as_spam(function_client: Any, post: dict[str, str], *, proved: bool = False) -> str:
    """The id of a contact post that contact_submit holds in the quarantine: one without
    the site script's proof of work, or (`proved`) one with it whose content reads as
    spam."""
    response = function_client("contact_submit", proving=proved).post("/", json=post)
    assert response.status_code == 201
    return str(response.get_json()["id"])


def held_reason(db: Any, record_id: str) -> str:
    snap = db.collection("contact_submissions").document(record_id).get()
    return str(snap.to_dict()["quarantine_reason"])


def spam_items(page: Page) -> Locator:
    return page.locator("[data-spam-items] .spam-item")


def reply_in_console(page: Page, text: str) -> None:
    before = page.locator("[data-messages] .msg--team").count()
    page.fill("#reply-text", text)
    page.click("[data-reply] button[type=submit]")
    expect(page.locator("[data-messages] .msg--team")).to_have_count(before + 1)


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


def listed_leads(page: Page) -> list[str]:
    return list(
        page.locator("[data-chat-items] .chat-item").evaluate_all(
            "items => items.map(item => item.dataset.lead)"
        )
    )


def within_the_screen(page: Page, target: Locator) -> None:
    """Wholly on the screen as it is, without scrolling to it."""
    expect(target).to_be_visible()
    box = target.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


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
# the documented API (initialize, prompt, renderButton, disableAutoSelect) and, when its
# button is clicked, hands the page's callback a credential as Google's would.
GSI_STUB = """
window.gsiStub = { initialized: [], rendered: 0, prompted: 0, autoSelectDisabled: 0 };
window.google = { accounts: { id: {
  initialize: function (config) {
    window.gsiStub.initialized.push({
      client_id: config.client_id, auto_select: config.auto_select
    });
    window.gsiStub.callback = config.callback;
  },
  prompt: function () { window.gsiStub.prompted += 1; },
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
  disableAutoSelect: function () { window.gsiStub.autoSelectDisabled += 1; }
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
    # A returning member is signed in without a click: auto_select, and One Tap on load.
    assert page.evaluate("() => window.gsiStub.initialized") == [
        {"client_id": LOCAL_CLIENT_ID, "auto_select": True}
    ]
    assert page.evaluate("() => window.gsiStub.prompted") == 1
    assert referers == [google_console.url]  # Google's sign-in learns the page's origin
    page.click(".gsi-stub")

    # Google's credential is what the API gets; this one is no token, so: sign in again.
    expect(page.locator("[data-signin-status]")).to_have_text(re.compile("sign in again"))
    [me] = session.api_calls("GET", "/api/me")
    assert me.header_value("authorization") == "Bearer credential-from-google"
    expect(page.locator("[data-google-button] .gsi-stub")).to_have_count(1)
    assert page.evaluate("() => window.gsiStub.initialized.length") == 1
    # A token refused asks again, but never prompts again by itself: no loop.
    assert page.evaluate("() => window.gsiStub.prompted") == 1


def test_the_token_lives_in_memory_only_and_goes_with_every_api_call_as_a_bearer(
    session: Session,
) -> None:
    page = session.open()
    signed_in(page)
    expect(page.locator(".nav")).to_be_visible()

    [me] = session.api_calls("GET", "/api/me")
    credential = me.header_value("authorization")
    assert credential is not None and credential.startswith("Bearer ey")
    [listing, *_] = session.api_calls("GET", "/api/chats")
    assert listing.header_value("authorization") == credential
    for call in session.requests:
        if call.url.startswith(session.stack.console_origin):
            assert call.header_value("cookie") is None
    assert session.context.cookies(session.stack.console.url) == []
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert credential.split()[1] not in page.content()


def test_a_reload_signs_back_in_through_the_local_sign_in_without_a_click(
    session: Session,
) -> None:
    page = session.open()
    signed_in(page)
    page.evaluate("() => { window.beforeTheReload = true; }")

    page.reload()

    expect(page.locator("[data-who]")).to_have_text(MEMBER)  # no click, no typing
    expect(page.locator("[data-section=chats]")).to_be_visible()
    assert page.evaluate("() => window.beforeTheReload") is None
    [*_, auto] = [r for r in session.requests if r.url.endswith("/signin/auto")]
    response = auto.response()
    assert response is not None and response.status == 200
    # The sign-in remembers the browser with a cookie of its own origin, which the
    # console's page can neither read nor send; the token itself is in memory only.
    assert session.context.cookies(session.stack.console.url) == []
    assert page.evaluate("() => document.cookie") == ""
    assert [(c["path"], c["httpOnly"]) for c in session.context.cookies()] == [(COOKIE_PATH, True)]
    storage = page.evaluate(
        "() => [localStorage, sessionStorage].flatMap(s => Object.keys(s).map(k => s[k]))"
    )
    token = auto.response().json()["credential"]  # type: ignore[union-attr]
    assert not [value for value in storage if token in value]
    assert token not in page.content()

    # Signing out forgets the browser too: the next visit asks again.
    with page.expect_response(lambda answer: answer.url.endswith("/signin/forget")):
        page.click("[data-signout]")
    expect(page.locator("#local-email")).to_be_visible()
    page.reload()
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
    expect(item.locator(".badge--awaiting")).to_have_text(re.compile("^Awaiting reply"))
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


def test_the_list_says_who_each_chat_is_with_and_what_was_said_last_awaiting_first(
    session: Session, db: Any
) -> None:
    contact_form(db, "We run 14 presses.")
    start_chat_directly(session.stack, VISITOR, "Do you read Siemens S7 PLCs?\nOr only OPC UA?")
    start_chat_directly(session.stack, OTHER, "Hello there", page="/case-studies")
    page = session.open(f"#/chats/{lead_of(db, OTHER)}")
    signed_in(page)
    reply_in_console(page, "Hello Meera, how can we help?")
    third = "sam@foundry.example"
    start_chat_directly(session.stack, third, "Is there a trial?")
    ravi, meera, sam = (lead_of(db, email) for email in (VISITOR, OTHER, third))

    item = chat_item(page, VISITOR)
    expect(item.locator(".chat-item__title")).to_have_text("Ravi Kumar · Pune Stamping Works")
    expect(item.locator(".chat-item__email")).to_have_text(VISITOR)
    expect(item.locator(".chat-item__preview")).to_have_text("Do you read Siemens S7 PLCs?")
    expect(item.locator(".chat-item__page")).to_have_text("/pricing")
    expect(item.locator(".badge--awaiting .badge__age")).to_be_visible()  # how long it waits
    answered = chat_item(page, OTHER)
    expect(answered.locator(".chat-item__title")).to_have_text(OTHER)  # no name known
    expect(answered.locator(".chat-item__preview")).to_have_text(
        "You: Hello Meera, how can we help?"
    )
    expect(answered.locator(".badge--awaiting")).to_have_count(0)
    # Awaiting first, the longest-waiting first; then the others.
    expect(chat_item(page, third)).to_be_visible()
    assert listed_leads(page) == [ravi, sam, meera]
    # Once listed, the page asks only for what changed since.
    with page.expect_request(
        lambda sent: "/api/chats?" in sent.url and "changed_after=" in sent.url
    ):
        pass


def test_search_finds_chats_by_name_company_or_address_and_clearing_it_lists_them_all(
    session: Session, db: Any
) -> None:
    contact_form(db, "Hi")
    start_chat_directly(session.stack, VISITOR, "Do you read Siemens S7 PLCs?")
    start_chat_directly(session.stack, OTHER, "Hello there")
    page = session.open()
    signed_in(page)
    expect(page.locator("[data-chat-items] .chat-item")).to_have_count(2)
    search = page.get_by_role("searchbox", name="Search chats")

    search.fill("Pune")  # a word of the company, typed: sent once typing pauses
    expect(page.locator("[data-chat-items] .chat-item")).to_have_count(1)
    expect(chat_item(page, VISITOR)).to_be_visible()
    expect(page.locator("[data-chat-status]")).to_have_text(
        "1 chat matches “Pune”, open or closed."
    )

    search.fill("meera")  # the start of an address, and Enter: at once
    search.press("Enter")
    expect(page.locator("[data-chat-items] .chat-item")).to_have_count(1)
    expect(chat_item(page, OTHER)).to_be_visible()
    asked = [urllib.parse.urlsplit(r.url).query for r in session.api_calls("GET", "/api/chats")]
    assert [q for q in asked if "q=meera" in q]

    search.fill("")
    expect(page.locator("[data-chat-items] .chat-item")).to_have_count(2)
    expect(page.locator("[data-chat-status]")).to_be_hidden()


def test_the_person_beside_the_thread_shows_their_contact_form_other_chat_and_access_link(
    sized: Session, db: Any
) -> None:
    from factoryops import grants

    contact_form(db, "We run 14 presses.\nDowntime is our problem.\nCall me on Monday.")
    start_chat_directly(sized.stack, VISITOR, "An earlier question", page="/about")
    [earlier] = [s["lead_id"] for s in stored_chats(db)]
    from factoryops.chat import team

    closed = team.find_by_lead(earlier)
    assert closed is not None
    team.close(closed)  # one open chat of an address at a time: the earlier one answered
    start_chat_directly(sized.stack, VISITOR, "Do you read Siemens S7 PLCs?")
    [current] = [s["lead_id"] for s in stored_chats(db) if s["lead_id"] != earlier]
    link = grants.create(lead="Ravi Kumar", sections="pricing", email=VISITOR)
    page = sized.open(f"#/chats/{current}")
    signed_in(page)
    expect(thread_messages(page)).to_have_count(1)

    person = page.locator("[data-person]")
    toggle = page.locator("[data-person-toggle]")
    body = page.locator("[data-person-body]")
    if is_phone(sized):
        # Folded above the thread until asked for.
        expect(toggle).to_have_text("About Ravi Kumar")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(body).to_be_hidden()
        assert_above(toggle, page.locator("[data-thread]"))
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    else:
        expect(toggle).to_be_hidden()
        assert_beside(page.locator("[data-thread]"), person)
    expect(body).to_be_visible()
    expect(body.locator(".person__name")).to_have_text("Ravi Kumar")
    expect(body.locator(".person__company")).to_have_text("Pune Stamping Works")
    expect(body.locator(".person__email")).to_have_text(VISITOR)
    expect(body.locator("[data-person-submissions] li")).to_contain_text(
        "We run 14 presses. Downtime is our problem."
    )
    other = body.locator(f'[data-person-chats] a[href="#/chats/{earlier}"]')
    expect(other).to_have_text("An earlier question")
    grant = body.locator("[data-person-grants] li")
    expect(grant.locator(f'a[href="#/grants/{link.grant.id}"]')).to_have_text("pricing")
    expect(grant.locator(".badge")).to_have_text("active")
    assert fits_the_width(page)

    other.click()
    expect(thread_messages(page).first).to_contain_text("An earlier question")
    expect(
        page.locator(f'[data-person-body] [data-person-chats] a[href="#/chats/{current}"]')
    ).to_have_count(1)


def assert_above(upper: Locator, lower: Locator) -> None:
    a, b = upper.bounding_box(), lower.bounding_box()
    assert a is not None and b is not None
    assert a["y"] + a["height"] <= b["y"]


def assert_beside(left: Locator, right: Locator) -> None:
    a, b = left.bounding_box(), right.bounding_box()
    assert a is not None and b is not None
    assert a["x"] + a["width"] <= b["x"]


# Counts the beeps the page plays (each is one oscillator started).
BEEPS = """
(function () {
  window.beeps = 0;
  var start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function () {
    window.beeps += 1;
    return start.apply(this, arguments);
  };
})();
"""


def test_the_thread_the_list_the_count_and_the_title_keep_up_without_a_reload(
    session: Session, db: Any
) -> None:
    session.context.add_init_script(BEEPS)
    start_chat_directly(session.stack, VISITOR, "Do you read Siemens S7 PLCs?")
    lead_id = lead_of(db, VISITOR)
    page = session.open(f"#/chats/{lead_id}")
    signed_in(page)
    expect(thread_messages(page)).to_have_count(1)
    expect(page).to_have_title(f"(1) {TITLE}")
    sound = page.get_by_role("checkbox", name="Sound")
    expect(sound).not_to_be_checked()  # off unless asked for
    sound.check()
    page.wait_for_function("() => window.beeps === 1")  # what it sounds like
    page.evaluate("() => { window.beforeTheChanges = true; }")

    assert visitor_writes(session.stack, db, lead_id, "And Allen-Bradley?") == 201
    expect(thread_messages(page)).to_have_count(2)
    expect(thread_messages(page).last).to_contain_text("And Allen-Bradley?")

    start_chat_directly(session.stack, OTHER, "Hello there")
    expect(chat_item(page, OTHER)).to_be_visible()
    expect(page).to_have_title(f"(2) {TITLE}")
    expect(page.locator("[data-awaiting]")).to_have_text("2")
    expect(page.locator("[data-awaiting-status]")).to_have_text("2 chats await a reply.")
    page.wait_for_function("() => window.beeps === 2")

    # On any other view too.
    page.click(".nav a[data-view=grants]")
    start_chat_directly(session.stack, "sam@foundry.example", "Is there a trial?")
    expect(page.locator("[data-awaiting]")).to_have_text("3")
    expect(page).to_have_title(f"(3) {TITLE}")
    assert page.evaluate("() => window.beforeTheChanges") is True  # never reloaded
    assert page.evaluate("() => Object.keys(localStorage)") == ["factoryops.console.sound"]


def test_the_header_and_the_teams_messages_name_the_member_who_answered(
    session: Session, db: Any
) -> None:
    start_chat_directly(session.stack, VISITOR, "Who am I talking to?")
    page = session.open(f"#/chats/{lead_of(db, VISITOR)}")
    signed_in(page)
    expect(page.locator("[data-who-name]")).to_have_text(MEMBER_NAME)

    reply_in_console(page, "Asha here, from the team.")

    expect(page.locator("[data-messages] .msg--team .msg__author")).to_have_text(MEMBER_NAME)
    expect(page.locator("[data-messages] .msg--visitor .msg__author")).to_have_text("Visitor")


def test_the_thread_says_the_visitor_is_on_the_page_and_what_they_have_seen(
    session: Session, db: Any
) -> None:
    visitor = visitor_starts_a_chat(session, "Anyone there?")
    page = session.open(f"#/chats/{lead_of(db, VISITOR)}")
    signed_in(page)
    expect(page.locator("[data-thread-meta] .badge--online")).to_have_text("On the page now")

    reply_in_console(page, "Yes, Asha here.")

    expect(visitor.locator(".fo-msg--team")).to_contain_text("Yes, Asha here.")
    seen = page.locator("[data-messages] .msg__seen")
    expect(seen).to_have_text("Seen")
    expect(page.locator("[data-messages] .msg--team").last.locator(".msg__seen")).to_have_count(1)


def test_reopening_a_closed_chat_brings_back_the_reply_box_and_the_visitor_may_write_again(
    session: Session, db: Any
) -> None:
    start_chat_directly(session.stack, VISITOR, "Thanks, that is all.")
    lead_id = lead_of(db, VISITOR)
    page = session.open(f"#/chats/{lead_id}")
    signed_in(page)
    page.click("[data-thread-actions] button:has-text('Close chat')")
    page.click("[data-thread-actions] .button--danger")
    expect(page.locator("[data-closed-note]")).to_be_visible()
    assert visitor_writes(session.stack, db, lead_id, "One more thing") != 201

    page.get_by_role("button", name="Reopen chat").click()

    expect(page.locator("[data-reply]")).to_be_visible()
    expect(page.locator("[data-closed-note]")).to_be_hidden()
    expect(page.locator("#reply-text")).to_be_focused()
    expect(page.locator("[data-thread-actions] button")).to_have_text("Close chat")
    [reopen] = session.api_calls("POST", f"/api/chats/{lead_id}/reopen")
    assert reopen.header_value("idempotency-key")
    assert stored_chat(db, lead_id)["status"] == "open"
    assert visitor_writes(session.stack, db, lead_id, "One more thing") == 201
    expect(thread_messages(page).last).to_contain_text("One more thing")


def stored(lead_id: str) -> Any:
    from factoryops.chat import team

    found = team.find_by_lead(lead_id)
    assert found is not None
    return found


def test_a_chat_another_member_closes_and_reopens_changes_in_the_open_thread(
    session: Session, db: Any
) -> None:
    from factoryops.chat import team

    start_chat_directly(session.stack, VISITOR, "Is anyone there?")
    lead_id = lead_of(db, VISITOR)
    page = session.open(f"#/chats/{lead_id}")
    signed_in(page)
    expect(page.locator("[data-reply]")).to_be_visible()

    # As siteadmin, or another member's console, does: the chat read afresh each time.
    team.close(stored(lead_id))
    expect(page.locator("[data-closed-note]")).to_be_visible()
    team.reopen(stored(lead_id))
    expect(page.locator("[data-reply]")).to_be_visible()
    expect(page.locator("[data-closed-note]")).to_be_hidden()


# -- grants, deliveries, privacy -------------------------------------------------------


def create_link(page: Page, lead: str, email: str, *, uses: str = "") -> Locator:
    """A new grant made in the console; the box that shows its link, once shown."""
    page.fill("#grant-lead", lead)
    page.fill("#grant-sections", "pricing,case-studies")
    page.fill("#grant-email", email)
    if uses:
        page.fill("#grant-uses", uses)
    page.click("[data-grant-form] button[type=submit]")
    expect(page.locator("[data-grant-link]")).to_be_visible()
    return page.locator("[data-grant-url]")


def test_a_new_grant_link_is_shown_once_and_the_copy_button_puts_it_on_the_clipboard(
    session: Session, db: Any
) -> None:
    session.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=session.stack.console_origin
    )
    page = session.open("#/grants")
    signed_in(page)

    url_box = create_link(page, "Asha Rao", "asha.rao@plant.example", uses="3")
    link = url_box.input_value()
    assert link.startswith(f"{session.stack.site_origin}/#access=")  # the fragment: no server
    page.click("[data-copy-link]")
    expect(page.locator("[data-copy-status]")).to_have_text("Copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    grant = page.locator("[data-grant-items] .grant-item", has_text="Asha Rao")
    expect(grant).to_contain_text("0 of 3 uses")
    expect(grant.locator(".badge")).to_have_text("active")

    page.click("[data-grant-done]")
    expect(page.locator("[data-grant-link]")).to_be_hidden()
    assert url_box.input_value() == ""
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).fragment)["access"][0]
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


def export(page: Page, email: str) -> Locator:
    """The export's result, once shown."""
    form = page.locator("[data-privacy=export]")
    form.locator("#export-email").fill(email)
    form.locator("button[type=submit]").click()
    result = form.locator("[data-result]")
    expect(result).to_be_visible()
    return result


def test_privacy_delete_goes_ahead_only_with_the_address_typed_again(
    session: Session, db: Any
) -> None:
    start_chat_directly(session.stack, VISITOR, "Please forget me after this.")
    page = session.open("#/privacy")
    signed_in(page)
    exported = export(page, VISITOR)
    expect(exported).to_contain_text("Please forget me after this.")
    form = page.locator("[data-privacy=delete]")

    form.locator("#delete-email").fill(VISITOR)
    form.locator("#delete-confirm").fill("ravi@plant.example.com")
    form.locator("button[type=submit]").click()
    expect(form.locator(".field-error")).to_have_text("confirm must repeat the address, to confirm")
    assert session.api_calls("POST", "/api/privacy/delete") == []
    assert len(stored_chats(db)) == 1

    form.locator("#delete-confirm").fill(VISITOR.upper())
    form.locator("button[type=submit]").click()
    # What it did heads the view, and the export shown before is gone with the data.
    outcome = page.locator("[data-privacy-outcome]")
    expect(outcome).to_contain_text(f"Deleted everything about {VISITOR}")
    expect(outcome).to_contain_text("chat sessions: 1")
    expect(outcome.locator(".json")).to_contain_text(f'"{VISITOR}"')
    # The sheet's version history keeps the deleted rows: the hand-over says how to purge it.
    expect(outcome).to_contain_text("version history still shows the deleted rows")
    expect(outcome).to_contain_text("File → Make a copy; a copy has no history")
    expect(outcome).to_be_focused()
    expect(exported).to_be_hidden()
    assert "Please forget me after this." not in page.content()
    first = page.locator("[data-section=privacy] .panel:visible").first
    expect(first).to_have_attribute("data-privacy-outcome", "")
    assert stored_chats(db) == []

    page.click(".nav a[data-view=audit]")
    expect(page.locator("[data-audit-items] .audit-item").first).to_contain_text("privacy.delete")


def test_an_export_shows_where_each_record_went_the_teams_actions_and_earlier_requests(
    session: Session,
) -> None:
    start_chat_directly(session.stack, VISITOR, "What do you keep about me?")
    assert session.stack.eventarc.settle()
    page = session.open("#/privacy")
    signed_in(page)
    export(page, VISITOR)

    again = export(page, VISITOR)

    expect(again.locator("[data-export-chats]")).to_contain_text("email sent")
    expect(again.locator("[data-export-requests]")).to_contain_text("export")
    expect(again).to_contain_text("privacy requests: 1")
    expect(again.locator("[data-export-actions]")).to_contain_text(
        "the team exported the data held on you"
    )


def test_an_erasure_that_needs_more_than_one_call_is_called_again_by_the_page_until_done(
    session: Session, db: Any
) -> None:
    start_chat_directly(session.stack, VISITOR, "Please forget me.")
    page = session.open("#/privacy")
    signed_in(page)
    so_far = {"contact_submissions": 40, "chat_sessions": 0, "chat_messages": 0}
    first: list[Any] = []

    def part_done(route: Any) -> None:
        # The first call answers as one cut at its time budget does; the rest are real.
        if first:
            route.continue_()
            return
        first.append(route.request)
        body = {"done": False, "counts": so_far, "mailbox_search": f'"{VISITOR}"'}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(re.compile(r".*/api/privacy/delete$"), part_done)
    form = page.locator("[data-privacy=delete]")
    form.locator("#delete-email").fill(VISITOR)
    form.locator("#delete-confirm").fill(VISITOR)
    form.locator("button[type=submit]").click()

    outcome = page.locator("[data-privacy-outcome]")
    expect(outcome).to_contain_text(f"Deleted everything about {VISITOR}")
    assert len(session.api_calls("POST", "/api/privacy/delete")) == 2, "called again at once"
    assert stored_chats(db) == []


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
    expect(form.locator("[data-result]")).to_contain_text("replacing the sheet by a copy")
    expect(form.locator("[data-result] .json")).to_contain_text(f'"{VISITOR}"')


def test_privacy_export_reads_as_a_summary_and_downloads_as_a_json_file(
    session: Session, db: Any
) -> None:
    start_chat_directly(session.stack, VISITOR, "What do you keep about me?\nAnd for how long?")
    contact_form(db, "Hello")
    page = session.open("#/privacy")
    signed_in(page)

    result = export(page, VISITOR)

    expect(result).to_contain_text("contact submissions: 1")
    expect(result).to_contain_text("chat sessions: 1")
    expect(result).to_contain_text("chat messages: 1")
    expect(result.locator("[data-export-contacts] li")).to_contain_text(
        "Ravi Kumar, Pune Stamping Works · Hello"
    )
    chats = result.locator("[data-export-chats] li")
    expect(chats).to_contain_text("from /pricing · open · 1 message")
    expect(chats).to_contain_text("1 message · What do you keep about me?")
    expect(result).to_contain_text("Outside this system")
    expect(result).to_contain_text("the CRM sheet's version history")
    assert '"chat_sessions"' not in page.content()  # a summary, not the JSON itself

    with page.expect_download() as downloading:
        result.get_by_role("button", name="Download JSON").click()
    download = downloading.value
    assert download.suggested_filename.endswith(".json")
    data = json.loads(Path(download.path()).read_text())
    assert data["email"] == VISITOR
    [chat] = data["chat_sessions"]
    assert chat["messages"][0]["text"] == "What do you keep about me?\nAnd for how long?"
    assert page.evaluate("() => window.cspViolations") == []


def test_the_audit_says_in_words_who_did_what_and_links_to_it(session: Session, db: Any) -> None:
    start_chat_directly(session.stack, VISITOR, "Do you read Siemens S7 PLCs?")
    lead_id = lead_of(db, VISITOR)
    page = session.open(f"#/chats/{lead_id}")
    signed_in(page)
    reply_in_console(page, "Yes, over OPC UA.")

    page.click(".nav a[data-view=audit]")

    record = page.locator("[data-audit-items] .audit-item").first
    said = record.locator(f'a.item__title[href="#/chats/{lead_id}"]')
    expect(said).to_contain_text(MEMBER_NAME)
    expect(said).not_to_contain_text("chat.reply")  # words, not the action's code
    expect(record.locator("time")).to_have_attribute("datetime", re.compile("."))
    said.click()
    expect(page.locator("[data-thread-title]")).to_have_text(VISITOR)


# -- spam ----------------------------------------------------------------------------


def test_spam_shows_each_post_as_text_with_why_it_is_held_and_not_spam_sends_it_to_the_inbox(
    session: Session, db: Any, function_client: Any
) -> None:
    kept = held_as_spam(function_client, NO_SCRIPT_POST)
    bot = held_as_spam(function_client, SPAM_POST, proved=True)
    page = session.open("#/spam")
    signed_in(page)

    expect(spam_items(page)).to_have_count(2)
    expect(page.locator("[data-spam-count]")).to_have_text("2")
    newest, oldest = spam_items(page).first, spam_items(page).nth(1)
    expect(newest).to_have_attribute("data-spam", bot)  # newest first
    expect(newest.locator(".spam-item__who")).to_have_text(MARKUP)  # as text
    expect(newest.locator(".spam-item__message")).to_have_text(SPAM_POST["message"])
    expect(newest.locator(".spam-item__reason")).to_have_text(
        f"Held because: {held_reason(db, bot)}"
    )
    expect(oldest.locator(".spam-item__who")).to_have_text("Ravi Kumar · Pune Stamping Works")
    expect(oldest).to_contain_text(VISITOR)
    expect(oldest.locator(".spam-item__reason")).to_have_text("Held because: no proof of work")
    [listing] = session.api_calls("GET", "/api/spam")
    answer = listing.response()
    assert answer is not None
    expires = answer.json()["posts"][1]["expires_at"]
    expect(oldest.locator(f'time[datetime="{expires}"]')).to_be_visible()
    expect(oldest).to_contain_text("Deleted by itself on")
    assert page.locator("#console img").count() == 0
    assert not [r.url for r in session.requests if urllib.parse.urlsplit(r.url).path == "/x"]

    # Four lines: the first three, and the whole message on asking.
    message = oldest.locator(".spam-item__message")
    expect(message).to_have_text("We run 14 presses. Our browser blocks scripts. Please call me.")
    show = oldest.get_by_role("button", name="Show all of it")
    expect(show).to_have_attribute("aria-expanded", "false")
    show.click()
    expect(message).to_have_text(NO_SCRIPT_POST["message"])
    expect(oldest.get_by_role("button", name="Show less")).to_have_attribute(
        "aria-expanded", "true"
    )

    oldest.get_by_role("button", name="Not spam").click()

    note = page.locator("[data-spam-items] .spam-note")
    expect(note).to_have_text("Sent to the inbox: the post from Ravi Kumar · Pune Stamping Works.")
    expect(note).to_be_focused()
    expect(spam_items(page)).to_have_count(1)
    expect(page.locator("[data-spam-count]")).to_have_text("1")
    assert session.stack.eventarc.settle()
    [email] = session.stack.standins.state.emails
    assert email["template_params"]["record_id"] == kept
    assert email["template_params"]["message"] == NO_SCRIPT_POST["message"]
    crm = session.stack.standins.crm
    assert crm is not None and [row for row in crm.rows() if kept in row]
    [release] = session.api_calls("POST", f"/api/spam/{kept}/release")
    assert release.header_value("idempotency-key")
    released = db.collection("contact_submissions").document(kept).get().to_dict()
    assert "quarantined_at" not in released and "quarantine_reason" not in released


def test_delete_in_spam_asks_first_then_erases_the_post_and_says_nothing_is_held(
    session: Session, db: Any, function_client: Any
) -> None:
    bot = held_as_spam(function_client, SPAM_POST, proved=True)
    page = session.open("#/spam")
    signed_in(page)
    item = spam_items(page).first
    expect(item).to_have_attribute("data-spam", bot)
    expect(page.locator("[data-spam-empty]")).to_be_hidden()

    item.get_by_role("button", name="Delete").click()
    expect(item).to_contain_text("Delete this post for good?")
    expect(item.locator(".button--danger")).to_be_focused()
    item.get_by_role("button", name="Keep").click()
    assert session.api_calls("POST", f"/api/spam/{bot}/delete") == []
    item.get_by_role("button", name="Delete").click()
    item.locator(".button--danger").click()

    expect(page.locator("[data-spam-items] .spam-note")).to_have_text(
        f"Deleted: the post from {MARKUP}."
    )
    expect(spam_items(page)).to_have_count(0)
    empty = page.locator("[data-spam-empty]")
    expect(empty).to_contain_text("Nothing is held as spam")
    expect(empty).to_contain_text("deleted by themselves after 30 days")
    expect(page.locator("[data-spam-count]")).to_be_hidden()
    assert not db.collection("contact_submissions").document(bot).get().exists
    assert session.stack.standins.state.emails == []
    [delete] = session.api_calls("POST", f"/api/spam/{bot}/delete")
    assert delete.header_value("idempotency-key")

    page.click(".nav a[data-view=audit]")
    expect(page.locator("[data-audit-items] .audit-item").first).to_contain_text(
        f"{MEMBER_NAME} deleted contact post {bot[:8]}… from the quarantine"
    )


def test_a_post_another_member_handled_first_reads_as_already_handled_and_leaves_the_list(
    session: Session, function_client: Any
) -> None:
    from factoryops import quarantine

    bot = held_as_spam(function_client, SPAM_POST, proved=True)
    kept = held_as_spam(function_client, NO_SCRIPT_POST)
    page = session.open("#/spam")
    signed_in(page)
    expect(spam_items(page)).to_have_count(2)
    assert quarantine.delete(bot) and quarantine.release(kept)  # as another console does

    page.locator(f'[data-spam="{bot}"]').get_by_role("button", name="Not spam").click()
    page.locator(f'[data-spam="{kept}"]').get_by_role("button", name="Delete").click()
    page.locator(f'[data-spam="{kept}"] .button--danger').click()

    # Each in its place: the newest first.
    expect(page.locator("[data-spam-items] .spam-note")).to_have_text(
        [
            "Already handled by someone else: the post from Ravi Kumar · Pune Stamping Works.",
            f"Already handled by someone else: the post from {MARKUP}.",
        ]
    )
    expect(spam_items(page)).to_have_count(0)
    expect(page.locator("[data-spam-empty]")).to_be_visible()


def test_spam_is_counted_beside_its_tab_and_per_day_in_the_status_and_loads_a_page_at_a_time(
    session: Session, function_client: Any
) -> None:
    import datetime as dt

    held_as_spam(function_client, NO_SCRIPT_POST)
    held_as_spam(function_client, SPAM_POST, proved=True)
    page = session.open("#/status")
    signed_in(page)

    count = page.locator("[data-spam-count]")
    expect(count).to_have_text("2")
    expect(count).to_have_attribute("aria-label", "2 posts held as spam")
    days = page.locator("[data-quarantine-items] tr")
    expect(days).to_have_count(7)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    expect(days.first.locator("time")).to_have_attribute("datetime", today)
    expect(days.first.locator(".days__count")).to_have_text("2")
    expect(days.nth(1).locator(".days__count")).to_have_text("0")

    # One post a page: "1+" beside the tab until the last page is in.
    def one_a_page(route: Any) -> None:
        route.continue_(url=route.request.url.replace("limit=50", "limit=1"))

    page.route(re.compile(r".*/api/spam\?limit=50.*"), one_a_page)
    page.click(".nav a[data-view=spam]")
    expect(spam_items(page)).to_have_count(1)
    expect(count).to_have_text("1+")
    page.get_by_role("button", name="Load more").click()
    expect(spam_items(page)).to_have_count(2)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    expect(spam_items(page).nth(1)).to_be_focused()
    expect(count).to_have_text("2")


# -- every screen ----------------------------------------------------------------------

VIEWS = ("chats", "spam", "grants", "deliveries", "privacy", "audit", "status")


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
    # This hour's emails against FORWARD_BUDGET, and how many wait for a later hour.
    expect(page.locator("[data-status-cards]")).to_contain_text("emails sent this hour, of")
    expect(page.locator("[data-status-cards]")).to_contain_text("emails held for a later hour")
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


def test_the_reply_box_stays_in_view_under_a_long_thread(sized: Session, db: Any) -> None:
    start_chat_directly(sized.stack, VISITOR, "Message 1")
    lead_id = lead_of(db, VISITOR)
    for n in range(2, 31):
        assert visitor_writes(sized.stack, db, lead_id, f"Message {n}\nwith a second line") == 201
    page = sized.open(f"#/chats/{lead_id}")
    signed_in(page)

    expect(thread_messages(page)).to_have_count(30)
    within_the_screen(page, page.locator("#reply-text"))
    within_the_screen(page, page.locator("[data-reply] button[type=submit]"))
    within_the_screen(page, thread_messages(page).last)  # the newest message, above it
    assert fits_the_width(page)


def test_a_new_access_link_is_never_cut_off(sized: Session) -> None:
    page = sized.open("#/grants")
    signed_in(page)

    box = create_link(
        page, "Pune Stamping Works, plant 2", "purchasing.department@pune-stamping-works.example"
    )

    assert "access=" in box.input_value()
    box.scroll_into_view_if_needed()
    assert box.evaluate("box => box.scrollWidth <= box.clientWidth")  # it wraps
    assert box.evaluate("box => box.scrollHeight <= box.clientHeight")  # all of it shown
    within_the_screen(page, box)
    within_the_screen(page, page.locator("[data-copy-link]"))
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


# -- a tour, for the eye --------------------------------------------------------------


def shot(session: Session, view: str) -> None:
    """A screenshot of what the member sees, when SCREENSHOTS_DIR asks for them."""
    if SHOTS:
        size = "phone" if is_phone(session) else "desktop"
        session.page.screenshot(path=str(Path(SHOTS) / f"console-{view}-{size}.png"))


def test_a_tour_of_the_inbox_the_thread_with_its_person_the_audit_the_export_and_spam(
    sized: Session, db: Any, function_client: Any
) -> None:
    from factoryops import grants

    contact_form(db, "We run 14 presses and lose a shift a week to downtime.")
    held_as_spam(function_client, NO_SCRIPT_POST)
    held_as_spam(function_client, SPAM_POST, proved=True)
    start_chat_directly(sized.stack, OTHER, "Do you have a case study for foundries?")
    start_chat_directly(sized.stack, VISITOR, "Do you read Siemens S7 PLCs?\nWe have forty.")
    grants.create(lead="Ravi Kumar", sections="pricing", email=VISITOR)
    answered, waiting = lead_of(db, OTHER), lead_of(db, VISITOR)
    page = sized.open(f"#/chats/{answered}")
    signed_in(page)
    reply_in_console(page, "Yes: a 40-furnace foundry in Kolhapur. I will send it today.")

    page.click(".nav a[data-view=chats]")
    items = page.locator("[data-chat-items] .chat-item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Ravi Kumar")  # awaiting a reply, so first
    expect(items.first).to_contain_text("Do you read Siemens S7 PLCs?")
    expect(items.nth(1)).to_contain_text("You: Yes: a 40-furnace foundry")  # her own reply
    assert fits_the_width(page)
    shot(sized, "list")

    items.first.click()
    expect(page).to_have_url(re.compile(f"#/chats/{waiting}$"))
    expect(thread_messages(page)).to_have_count(1)
    if is_phone(sized):
        page.locator("[data-person-toggle]").click()
    expect(page.locator("[data-person-body] .person__company")).to_have_text("Pune Stamping Works")
    expect(page.locator("#reply-text")).to_be_in_viewport()
    assert fits_the_width(page)
    shot(sized, "thread")

    page.click(".nav a[data-view=audit]")
    expect(page.locator("[data-audit-items] .audit-item").first).to_contain_text(
        f"{MEMBER_NAME} replied to meera@…"
    )
    assert fits_the_width(page)
    shot(sized, "audit")

    page.click(".nav a[data-view=privacy]")
    result = export(page, VISITOR)
    expect(result).to_contain_text("chat sessions: 1")
    expect(result.get_by_role("button", name="Download JSON")).to_be_visible()
    assert fits_the_width(page)
    shot(sized, "export")

    page.click(".nav a[data-view=spam]")
    expect(spam_items(page)).to_have_count(2)
    in_view(page, spam_items(page).first.get_by_role("button", name="Not spam"))
    in_view(page, spam_items(page).first.get_by_role("button", name="Delete"))
    assert fits_the_width(page)
    shot(sized, "spam")
