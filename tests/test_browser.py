"""The site script in a real browser, against the local stack.

Debian's Chromium (never a downloaded browser), driven by Playwright, loads the demo
page from its own origin; the functions run in functions-framework subprocesses on
other ports, so every call is a real cross-origin request with a real CORS preflight;
they talk to the real Firestore emulator, the EmailJS stand-in and the CRM web app (the
real Code.gs under Node.js). Google's tag and analytics hosts are unreachable here, so
requests to them are intercepted and counted. A failing test leaves a screenshot of the
page in test-output/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devstack import proofs
from devstack.apps_script import AppsScript
from devstack.emulator import Emulator, free_port
from devstack.functions import Served, serve
from devstack.site import Site, SiteConfig
from devstack.standins import StandIns
from tests.conftest import PROJECT, ROOT

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Route,
    expect,
)

pytestmark = pytest.mark.browser
# Waits, not timing claims: generous, since the machine running the tests may be busy.
expect.set_options(timeout=30_000)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = ROOT / "test-output"
GA_ID = "G-TEST000000"
GOOGLE_TAG = re.compile(r"^https://([a-z0-9-]+\.)*googletagmanager\.com/")
GOOGLE_ANALYTICS = re.compile(
    r"^https://([a-z0-9-]+\.)*(google-analytics\.com|analytics\.google\.com)/"
)
# What the privacy notice allows in browser storage, and nothing else.
STORAGE_KEYS = {"factoryops.consent", "factoryops.chat", "factoryops.access"}
SERVED = ("contact_submit", "chat_message", "access_grant")
# Where the page's configuration names each function.
SITE_SETTING = {
    "contact_submit": "contact_url",
    "chat_message": "chat_url",
    "access_grant": "access_url",
}
LOCAL_HOSTS = ("localhost", "127.0.0.1")

CONTACT = {
    "name": "Asha Rao",
    "email": "asha.rao@plant.example",
    "company": "Pune Stamping Works",
    "message": "We run 14 presses and want to talk about downtime.",
}


def exists(name: str) -> bool:
    return (ROOT / "functions" / name / "main.py").exists()


# -- the local stack -----------------------------------------------------------------


def function_env(emulator_host: str, site_origin: str, standins: StandIns | None) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "FIRESTORE_EMULATOR_HOST": emulator_host,
            "ALLOWED_ORIGINS": site_origin,
            "SITE_URL": site_origin,
            "SWEEP_AUTH": "off",
            # The page polls every 300 ms here, far faster than on the site: the chat's
            # usual limit would be reached by the tests' own pace.
            "CHAT_RATE_LIMIT": "1000/60",
            "PYTHONPATH": str(ROOT / "lib"),
        }
    )
    if standins is not None:
        env.update(standins.env())
    return env


def start_function(name: str, env: dict[str, str], logs: Path) -> Served:
    # The port in the log's name: the outage test serves contact_submit a second time.
    port = free_port()
    return serve(name, env=env, log=logs / f"{name}-{port}.log", port=port, cwd=ROOT)


@dataclass
class Stack:
    site: Site
    standins: StandIns
    functions: dict[str, Served]
    emulator: Emulator
    logs: Path

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.site.port}"

    def url(self, name: str) -> str:
        return self.functions[name].url


@pytest.fixture(scope="module")
def stack(
    emulator: Emulator, apps_script: AppsScript, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("browser-stack")
    standins = StandIns(crm=apps_script).start()
    site = Site(SiteConfig(contact_url="", chat_url="", access_url=""), quiet=True)
    origin = f"http://localhost:{site.port}"
    env = function_env(emulator.address, origin, standins)
    functions = {name: start_function(name, env, logs) for name in SERVED if exists(name)}
    try:
        for function in functions.values():
            function.wait_until_serving(timeout=60)
        site.config = SiteConfig(
            contact_url=functions["contact_submit"].url,
            chat_url=functions["chat_message"].url if "chat_message" in functions else "",
            access_url=functions["access_grant"].url if "access_grant" in functions else "",
            ga_id=GA_ID,
            chat_poll_ms=300,
        )
        site.start()
        yield Stack(site, standins, functions, emulator, logs)
    finally:
        site.stop()
        for function in functions.values():
            function.stop()
        standins.stop()


@pytest.fixture
def serve_instead(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, dict[str, str]], Served]]:
    """Serves a function a second time with an environment of its own; the page uses it
    instead of the stack's for the rest of the test."""
    started: list[Served] = []

    def start(name: str, env: dict[str, str]) -> Served:
        served = start_function(name, env, stack.logs)
        started.append(served)
        served.wait_until_serving(timeout=60)
        monkeypatch.setattr(stack.site.config, SITE_SETTING[name], served.url)
        return served

    yield start
    for served in started:
        served.stop()


# -- the browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Visit:
    """One fresh browser profile on the demo page, and what it sent where."""

    page: Page
    context: BrowserContext
    stack: Stack
    requests: list[Request] = field(default_factory=list)
    google_tag: list[str] = field(default_factory=list)
    google_analytics: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)  # the URL of each worker started
    script_errors: list[str] = field(default_factory=list)
    tag_script: str = ""  # what Google's tag host answers for gtag.js

    def google(self) -> list[str]:
        """Every request that reached Google's tag or analytics hosts, in order."""
        return self.google_tag + self.google_analytics

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.stack.origin + path)
        return self.page

    def posts_to(self, name: str) -> list[Request]:
        url = self.stack.url(name)
        return [r for r in self.requests if r.method == "POST" and r.url == url]

    def storage(self) -> dict[str, str]:
        return dict(self.page.evaluate("() => Object.assign({}, window.localStorage)"))

    def assert_only_documented_storage(self) -> None:
        assert set(self.storage()) <= STORAGE_KEYS
        assert self.page.evaluate("() => document.cookie") == ""
        assert self.context.cookies() == []
        assert self.page.evaluate("() => window.sessionStorage.length") == 0


def _is_local(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in LOCAL_HOSTS


@pytest.fixture
def visit(
    stack: Stack, browser: Browser, db: Any, request: pytest.FixtureRequest
) -> Iterator[Visit]:
    stack.standins.reset()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Visit(page, context, stack)

    def outside(route: Route) -> None:
        url = route.request.url
        if GOOGLE_TAG.match(url):
            seen.google_tag.append(url)
            route.fulfill(status=200, content_type="text/javascript", body=seen.tag_script)
        elif GOOGLE_ANALYTICS.match(url):
            seen.google_analytics.append(url)
            route.fulfill(status=204, headers={"Access-Control-Allow-Origin": "*"})
        else:
            seen.elsewhere.append(url)
            route.abort("blockedbyclient")

    context.route(lambda url: not _is_local(url), outside)
    page.on("request", lambda sent: seen.requests.append(sent))
    page.on("worker", lambda worker: seen.workers.append(worker.url))
    page.on("pageerror", lambda error: seen.script_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            message.text.startswith("factoryops:") and seen.script_errors.append(message.text)
        ),
    )
    screenshot = OUTPUT / f"{request.node.name}.png"
    screenshot.unlink(missing_ok=True)  # from an earlier failing run
    # The call phase's report is counted before fixture teardown runs.
    failed_before = request.session.testsfailed
    yield seen
    try:
        if request.session.testsfailed > failed_before:
            OUTPUT.mkdir(exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    assert seen.script_errors == []
    assert seen.elsewhere == []


def challenge_url(visit: Visit, name: str) -> str:
    """Where the page asks a function for a proof-of-work challenge."""
    return visit.stack.url(name).rstrip("/") + "/challenge"


def contact_records(db: Any) -> list[dict[str, Any]]:
    return [d.to_dict() for d in db.collection("contact_submissions").stream()]


def fill_contact(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f"form[data-factoryops=contact] [name={name}]", value)


def submit_contact(page: Page) -> None:
    page.click("form[data-factoryops=contact] button[type=submit]")


def contact_status(page: Page) -> Any:
    return page.locator("form[data-factoryops=contact] [data-status]")


def send_contact(page: Page) -> None:
    """A visitor fills the form with CONTACT and sends it, and is thanked."""
    fill_contact(page, CONTACT)
    submit_contact(page)
    expect(contact_status(page)).to_have_text(re.compile("Thank you"))


def post_direct(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers)


def exhaust_rate_limit(url: str) -> None:
    """Use up this client's contact_submit window, with time to spare before it ends."""
    for _ in range(3):
        statuses = [post_direct(url, CONTACT) for _ in range(6)]
        status, headers = statuses[-1]
        assert status == 429
        retry_after = int(headers["Retry-After"])
        if retry_after >= 30:
            return
        time.sleep(retry_after + 1)  # the window is about to roll over: start a fresh one
    raise AssertionError("could not use up a rate-limit window")


# -- contact form --------------------------------------------------------------------


def test_contact_form_posts_json_cross_origin_with_an_idempotency_key_and_is_stored(
    visit: Visit, db: Any
) -> None:
    page = visit.open()
    send_contact(page)

    [post] = visit.posts_to("contact_submit")
    headers = post.all_headers()
    assert headers["content-type"] == "application/json"
    assert headers["origin"] == visit.stack.origin
    assert 1 <= len(headers["idempotency-key"]) <= 255
    sent = post.post_data_json
    assert sent.pop("altcha")  # the proof of work: see the tests at the end
    assert sent == {**CONTACT, "website": ""}
    response = post.response()
    assert response is not None and response.status == 201
    assert response.headers["access-control-allow-origin"] == visit.stack.origin
    [record] = contact_records(db)
    assert {k: record[k] for k in CONTACT} == CONTACT
    assert page.input_value("[name=name]") == ""  # the form is cleared for the next message
    visit.assert_only_documented_storage()


def test_honeypot_field_is_out_of_sight_and_out_of_the_tab_order(visit: Visit) -> None:
    visit.open()
    honeypot = visit.page.locator("input[name=website]")

    box = honeypot.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0
    assert honeypot.get_attribute("tabindex") == "-1"
    assert visit.page.locator("[data-honeypot]").get_attribute("aria-hidden") == "true"


def test_server_field_errors_appear_beside_their_fields_and_clear_once_corrected(
    visit: Visit, db: Any
) -> None:
    page = visit.open()
    # Both pass the browser's own checks; only the server's validation catches them.
    fill_contact(page, {**CONTACT, "email": "asha@plant", "message": "   "})
    submit_contact(page)

    expect(contact_status(page)).to_have_text("Please correct the highlighted fields.")
    email_error = page.locator("#contact-email + .fo-field-error")
    message_error = page.locator("#contact-message + .fo-field-error")
    expect(email_error).to_contain_text("Work email is not a valid email address")
    expect(email_error).not_to_contain_text("..")
    expect(message_error).to_have_text("Message is required.")
    assert page.get_attribute("#contact-email", "aria-invalid") == "true"
    assert email_error.get_attribute("id") in page.get_attribute(
        "#contact-email", "aria-describedby"
    )
    assert page.get_attribute("#contact-name", "aria-invalid") is None
    assert contact_records(db) == []

    fill_contact(page, {"email": CONTACT["email"], "message": CONTACT["message"]})
    expect(email_error).to_be_hidden()
    submit_contact(page)

    expect(contact_status(page)).to_have_text(re.compile("Thank you"))
    first, second = visit.posts_to("contact_submit")
    assert first.header_value("idempotency-key") != second.header_value("idempotency-key")
    assert len(contact_records(db)) == 1


def test_a_lost_response_is_retried_with_the_same_idempotency_key_and_stored_once(
    visit: Visit, db: Any
) -> None:
    page = visit.open()
    lost: list[int] = []

    def lose_first_response(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            # The server receives and stores the submission; its answer never arrives.
            lost.append(route.fetch().status)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(visit.stack.url("contact_submit"), lose_first_response)
    fill_contact(page, CONTACT)
    submit_contact(page)

    expect(contact_status(page)).to_have_text(re.compile("Thank you"))
    assert lost == [201]
    first, second = visit.posts_to("contact_submit")
    assert first.header_value("idempotency-key") == second.header_value("idempotency-key")
    assert len(contact_records(db)) == 1


def test_rate_limited_submission_tells_the_visitor_when_to_try_again(visit: Visit, db: Any) -> None:
    exhaust_rate_limit(visit.stack.url("contact_submit"))  # from the browser's address too
    page = visit.open()
    fill_contact(page, CONTACT)
    submit_contact(page)

    expect(contact_status(page)).to_have_text(
        re.compile(r"Too many requests .* try again in \d+ (seconds|minutes)\.")
    )
    assert contact_status(page).get_attribute("data-tone") == "error"
    response = visit.posts_to("contact_submit")[0].response()
    assert response is not None and response.status == 429


def test_firestore_outage_tells_the_visitor_the_message_was_not_sent(
    stack: Stack, visit: Visit, db: Any, serve_instead: Callable[[str, dict[str, str]], Served]
) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    outage = serve_instead("contact_submit", function_env(dead, stack.origin, stack.standins))
    page = visit.open()
    fill_contact(page, CONTACT)
    submit_contact(page)

    expect(contact_status(page)).to_have_text(
        re.compile(r"briefly unavailable and your message was not sent.*try again in \d+"),
        timeout=60_000,
    )
    [post] = [r for r in visit.requests if r.method == "POST" and r.url == outage.url]
    response = post.response()
    assert response is not None and response.status == 503
    assert stack.standins.state.snapshot()["emails"] == []
    assert stack.standins.crm is not None and stack.standins.crm.rows() == []


def test_a_page_on_an_origin_not_allowed_cannot_submit_and_nothing_is_stored(
    stack: Stack, visit: Visit, db: Any
) -> None:
    # The same page from another port: a different origin, absent from ALLOWED_ORIGINS.
    other = Site(stack.site.config, quiet=True).start()
    try:
        page = visit.page
        page.goto(f"http://localhost:{other.port}/")
        fill_contact(page, CONTACT)
        submit_contact(page)

        expect(contact_status(page)).to_have_text(re.compile("could not reach our server"))
    finally:
        other.stop()
    assert contact_records(db) == []


# -- consent -------------------------------------------------------------------------

DENIED_DEFAULT = [
    "consent",
    "default",
    {
        "analytics_storage": "denied",
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
    },
]
GRANTED_UPDATE = ["consent", "update", {"analytics_storage": "granted"}]
DENIED_UPDATE = ["consent", "update", {"analytics_storage": "denied"}]
# The privacy notice's 24 months, in seconds (730 days).
CONFIG = ["config", GA_ID, {"cookie_expires": 63072000}]
OPT_OUT_FLAG = f"() => window['ga-disable-{GA_ID}']"

# A stub of gtag.js, not Google's tag: it behaves like the real one in what the tests
# look at. It runs the dataLayer's commands, those queued before it loaded and those
# pushed later, and sends a hit for each `config` and `event` command, each click and
# each in-page navigation (GA4's enhanced measurement), whether analytics_storage is
# granted or not (Consent Mode's cookieless pings), unless `window['ga-disable-<ID>']`
# is true. Each event it sees is listed in window.tagStub.observed after its hit, if
# any, is sent: a blocking request, so the hit has been counted by then.
TAG_STUB = """
(function () {
  var id = new URL(document.currentScript.src).searchParams.get('id');
  var layer = (window.dataLayer = window.dataLayer || []);
  var stub = (window.tagStub = { observed: [] });
  var storage = 'denied';
  function observe(name) {
    if (window['ga-disable-' + id] !== true) {
      var hit = new XMLHttpRequest();
      hit.open('POST', 'https://region1.google-analytics.com/g/collect?v=2&tid=' + id +
        '&en=' + name + '&analytics_storage=' + storage, false);
      try { hit.send(); } catch (error) { /* counted all the same */ }
    }
    stub.observed.push(name);
  }
  function run(command) {
    if (command[0] === 'consent') storage = command[2].analytics_storage || storage;
    if (command[0] === 'config') observe('page_view');
    if (command[0] === 'event') observe(command[1]);
  }
  Array.prototype.forEach.call(layer, run);
  layer.push = function () {
    Array.prototype.forEach.call(arguments, run);
    return Array.prototype.push.apply(layer, arguments);
  };
  document.addEventListener('click', function () { observe('click'); });
  window.addEventListener('hashchange', function () { observe('hashchange'); });
})();
"""


def data_layer(page: Page) -> list[Any]:
    return list(
        page.evaluate(
            """() => (window.dataLayer || []).map(entry => Array.from(entry).map(
                   value => value instanceof Date ? 'date' : value))"""
        )
    )


def test_consent_is_denied_by_default_and_google_tag_loads_only_after_accept(
    visit: Visit,
) -> None:
    page = visit.open()
    banner = page.locator("#fo-consent")

    expect(banner).to_be_visible()
    assert data_layer(page) == [DENIED_DEFAULT]
    assert visit.google_tag == []
    visit.assert_only_documented_storage()
    assert visit.storage() == {}

    page.click("#fo-consent [data-choice=denied]")
    expect(banner).to_be_hidden()
    assert visit.storage() == {"factoryops.consent": "denied"}

    page.reload()
    expect(page.locator("html")).to_have_attribute("data-consent", "denied")
    expect(banner).to_be_hidden()
    assert data_layer(page) == [DENIED_DEFAULT]
    assert visit.google_tag == []
    visit.assert_only_documented_storage()

    page.click("[data-consent-open]")  # the footer control changes the choice later
    expect(banner).to_be_visible()
    expect(page.get_by_role("switch", name="Analytics")).to_have_attribute("aria-checked", "false")
    with page.expect_response(GOOGLE_TAG):  # answered by the route, so it has counted it
        page.click("#fo-consent [data-choice=granted]")

    expect(page.locator("html")).to_have_attribute("data-consent", "granted")
    assert visit.google_tag == [f"https://www.googletagmanager.com/gtag/js?id={GA_ID}"]
    layer = data_layer(page)
    assert layer[0] == DENIED_DEFAULT
    assert layer[1:] == [GRANTED_UPDATE, ["js", "date"], CONFIG]
    assert visit.storage() == {"factoryops.consent": "granted"}
    visit.assert_only_documented_storage()

    with page.expect_response(GOOGLE_TAG):
        page.reload()  # the stored choice loads the tag on the next visit, after the default
    assert len(visit.google_tag) == 2
    assert data_layer(page)[:2] == [DENIED_DEFAULT, GRANTED_UPDATE]
    expect(banner).to_be_hidden()

    page.click("[data-consent-open]")
    expect(page.get_by_role("switch", name="Analytics")).to_have_attribute("aria-checked", "true")
    page.click("#fo-consent [data-choice=denied]")
    assert data_layer(page)[-1] == DENIED_UPDATE
    assert visit.storage() == {"factoryops.consent": "denied"}
    visit.assert_only_documented_storage()


def test_withdrawing_consent_expires_google_analytics_cookies(visit: Visit) -> None:
    page = visit.open()
    page.click("#fo-consent [data-choice=granted]")
    # What GA4's tag would have set once analytics was granted.
    page.evaluate("() => { document.cookie = '_ga=GA1.1.1.1; path=/'; "
                  "document.cookie = '_ga_TEST000000=GS1.1.1; path=/'; }")  # fmt: skip
    assert "_ga=" in page.evaluate("() => document.cookie")

    page.click("[data-consent-open]")
    page.click("#fo-consent [data-choice=denied]")

    assert page.evaluate("() => document.cookie") == ""
    assert visit.storage() == {"factoryops.consent": "denied"}


GA_COOKIE_ASKED_DAYS = 730  # the script's cookie_expires, 63072000 s: the notice's 24 months
CHROMIUM_COOKIE_CAP_DAYS = 400


def test_chromium_stores_the_ga_cookie_for_400_days_whatever_the_24_months_asked(
    visit: Visit,
) -> None:
    """GA4's tag writes `_ga` through document.cookie on the site's own origin, with the
    expiry the script configures. Chromium caps every cookie's lifetime at 400 days, so
    the notice's 24 months cannot hold there (docs/privacy.md says so). Measured against
    a cookie asked for 300 days, set the same way at the same moment: no clock involved."""
    page = visit.open()
    page.click("#fo-consent [data-choice=granted]")
    page.evaluate(
        """([asked, short]) => {
             const at = Date.now(), day = 86400000;
             const expires = days => new Date(at + days * day).toUTCString();
             document.cookie = `_ga=GA1.1.1.1; expires=${expires(asked)}; path=/`;
             document.cookie = `short=1; expires=${expires(short)}; path=/`;
           }""",
        [GA_COOKIE_ASKED_DAYS, 300],
    )
    stored = {c["name"]: c["expires"] for c in visit.context.cookies()}
    days = 300 + (stored["_ga"] - stored["short"]) / 86400
    print(f"_ga asked for {GA_COOKIE_ASKED_DAYS} days, stored by Chromium for {days:.2f} days")
    assert round(days) == CHROMIUM_COOKIE_CAP_DAYS


def analytics_switch(page: Page) -> Locator:
    return page.locator("#fo-consent").get_by_role("switch", name="Analytics")


def test_the_banner_offers_reject_accept_all_and_an_analytics_switch_the_keyboard_toggles(
    visit: Visit,
) -> None:
    page = visit.open()
    banner = page.locator("#fo-consent")
    switch = analytics_switch(page)

    expect(banner).to_be_visible()
    expect(banner.get_by_role("button")).to_have_text(["Reject", "Accept all"])
    expect(banner.get_by_role("switch")).to_have_count(1)
    expect(banner.locator("input, select, textarea")).to_have_count(0)
    expect(switch).to_have_attribute("aria-checked", "false")  # off by default

    for _ in range(30):  # the keyboard alone reaches it
        page.keyboard.press("Tab")
        if switch.evaluate("node => node === document.activeElement"):
            break
    expect(switch).to_be_focused()
    assert switch.evaluate(
        "node => node.matches(':focus-visible') && getComputedStyle(node).outlineStyle !== 'none'"
    )

    with page.expect_response(GOOGLE_TAG):
        page.keyboard.press("Space")
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(banner).to_be_visible()  # the switch stays, showing the choice
    assert visit.storage() == {"factoryops.consent": "granted"}
    assert data_layer(page)[1:] == [GRANTED_UPDATE, ["js", "date"], CONFIG]
    assert page.evaluate(OPT_OUT_FLAG) is False

    page.keyboard.press("Enter")
    expect(switch).to_have_attribute("aria-checked", "false")
    assert visit.storage() == {"factoryops.consent": "denied"}
    assert data_layer(page)[-1] == DENIED_UPDATE
    assert page.evaluate(OPT_OUT_FLAG) is True

    page.keyboard.press("Space")
    expect(switch).to_have_attribute("aria-checked", "true")
    assert visit.storage() == {"factoryops.consent": "granted"}
    assert data_layer(page)[-1] == GRANTED_UPDATE
    assert page.evaluate(OPT_OUT_FLAG) is False
    assert len(visit.google_tag) == 1  # the tag on the page serves again, not a second copy
    visit.assert_only_documented_storage()


def test_the_switch_state_is_saved_restored_on_reload_and_shown_when_reopened(
    visit: Visit,
) -> None:
    page = visit.open()
    banner = page.locator("#fo-consent")
    switch = analytics_switch(page)
    choice = page.get_by_role("button", name="Analytics choice")

    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    assert visit.storage() == {"factoryops.consent": "granted"}
    page.get_by_role("button", name="Keep my current choice").click()
    expect(banner).to_be_hidden()

    page.reload()
    expect(banner).to_be_hidden()  # asked once
    expect(page.locator("html")).to_have_attribute("data-consent", "granted")
    expect(choice).to_be_visible()
    choice.click()
    expect(banner).to_be_visible()
    expect(switch).to_be_focused()
    expect(switch).to_have_attribute("aria-checked", "true")

    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    assert visit.storage() == {"factoryops.consent": "denied"}

    page.reload()
    expect(banner).to_be_hidden()
    expect(page.locator("html")).to_have_attribute("data-consent", "denied")
    choice.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    assert visit.storage() == {"factoryops.consent": "denied"}
    visit.assert_only_documented_storage()


@pytest.mark.parametrize("control", ["Accept all", "the Analytics switch"])
def test_consenting_configures_ga4_with_cookies_that_expire_after_24_months(
    visit: Visit, control: str
) -> None:
    page = visit.open()
    with page.expect_response(GOOGLE_TAG):
        if control == "Accept all":
            page.click("#fo-consent [data-choice=granted]")
        else:
            analytics_switch(page).click()

    assert data_layer(page) == [DENIED_DEFAULT, GRANTED_UPDATE, ["js", "date"], CONFIG]
    assert visit.storage() == {"factoryops.consent": "granted"}


@pytest.mark.parametrize("withdraw_with", ["the Analytics switch", "Reject"])
def test_after_withdrawal_no_request_reaches_google_and_the_opt_out_flag_is_set_until_consent(
    visit: Visit, withdraw_with: str
) -> None:
    """Google's tag is answered with TAG_STUB, a stub of gtag.js that, like the real tag,
    keeps sending hits once analytics_storage is denied (cookieless pings) unless
    Google's opt-out flag is set. What is asserted is what our script does: the flag it
    sets and clears, the dataLayer commands it pushes, the requests the page makes."""
    visit.tag_script = TAG_STUB
    page = visit.open()
    origin = visit.stack.origin

    def observed() -> list[str]:
        return list(page.evaluate("() => window.tagStub.observed"))

    with page.expect_request(GOOGLE_ANALYTICS):  # the stub's page view, once configured
        page.click("#fo-consent [data-choice=granted]")
    page.click("h1")
    assert observed() == ["page_view", "click"]
    assert len(visit.google_analytics) == 2  # while consent holds, the stub reports

    page.click("[data-consent-open]")
    seen = len(observed())  # the opener's click, reported while consent still held
    if withdraw_with == "Reject":
        page.click("#fo-consent [data-choice=denied]")
    else:
        analytics_switch(page).click()
        expect(analytics_switch(page)).to_have_attribute("aria-checked", "false")
    expect(page.locator("html")).to_have_attribute("data-consent", "denied")
    assert page.evaluate(OPT_OUT_FLAG) is True
    layer = data_layer(page)
    assert layer[-1] == DENIED_UPDATE
    before = visit.google()

    # Using the page: the tag still sees every click and in-page navigation...
    page.click("h1")
    page.click("header.site")
    page.goto(origin + "/#contact")
    page.go_back()
    page.wait_for_function("n => window.tagStub.observed.length === n", arg=seen + 5)
    assert observed()[seen:] == ["click", "click", "click", "hashchange", "hashchange"]
    # ...and sends nothing, and our script pushes nothing more.
    assert visit.google() == before
    assert data_layer(page) == layer

    # Later pages: the flag is set on each, the tag is not requested.
    for later in (page.reload, lambda: page.goto(origin + "/index.html")):
        later()
        expect(page.locator("html")).to_have_attribute("data-consent", "denied")
        page.click("h1")
        assert page.evaluate(OPT_OUT_FLAG) is True
        assert data_layer(page) == [DENIED_DEFAULT]
    assert visit.google() == before
    visit.assert_only_documented_storage()

    # Consenting again clears the flag, and the tag reports again.
    page.click("[data-consent-open]")
    with page.expect_request(GOOGLE_ANALYTICS):
        page.click("#fo-consent [data-choice=granted]")
    assert page.evaluate(OPT_OUT_FLAG) is False
    assert observed() == ["page_view"]
    assert data_layer(page)[1:] == [GRANTED_UPDATE, ["js", "date"], CONFIG]


def test_the_banner_fits_a_phone_screen_with_its_three_controls_in_reach(visit: Visit) -> None:
    width, height = 375, 667
    visit.page.set_viewport_size({"width": width, "height": height})
    page = visit.open()
    banner = page.locator("#fo-consent")
    expect(banner).to_be_visible()

    box = banner.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert box["y"] >= 0 and box["y"] + box["height"] <= height
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    controls = [
        analytics_switch(page),
        banner.get_by_role("button", name="Reject"),
        banner.get_by_role("button", name="Accept all"),
    ]
    for control in controls:
        control.click(trial=True)  # visible, and nothing (the chat launcher) covers it
        inner = control.bounding_box()
        assert inner is not None
        assert inner["height"] >= 24  # WCAG 2.2's minimum target size
        assert box["x"] <= inner["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"]
    # The end of the page scrolls clear of the banner: the form can still be sent.
    page.locator("form[data-factoryops=contact] button[type=submit]").click(trial=True)
    expect(banner).to_be_visible()


# -- chat and per-lead unlock, with the team's side done through `siteadmin` ----------


def needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not exists(name), reason=f"functions/{name} does not exist yet")


@pytest.fixture
def siteadmin(stack: Stack, db: Any, configure: Callable[..., None]) -> Callable[..., Any]:
    """Runs a `siteadmin ... --json` command against the stack's emulator."""
    from click.testing import CliRunner
    from factoryops.cli import main

    configure(SITE_URL=stack.origin)

    def run(*args: str) -> Any:
        result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return run


def chat_messages(page: Page) -> Locator:
    return page.locator(".fo-chat__messages .fo-msg")


def authors(page: Page) -> list[str]:
    return list(chat_messages(page).evaluate_all(
        "items => items.map(item => item.dataset.author)"
    ))  # fmt: skip


def start_chat(page: Page, email: str, text: str = "") -> None:
    page.click(".fo-chat__launcher")
    page.fill("#fo-chat-email", email)
    if text:
        page.fill("#fo-chat-first", text)
    page.click(".fo-chat__start button[type=submit]")


def send_chat(page: Page, text: str) -> None:
    page.fill("#fo-chat-text", text)
    page.click(".fo-chat__compose button[type=submit]")


def chat_gets(visit: Visit, since: int = 0) -> list[Request]:
    """The chat GETs the page made, from its `since`th request on: polls and peeks (not
    the proof of work's challenges)."""
    url = visit.stack.url("chat_message")
    challenge = challenge_url(visit, "chat_message")
    return [
        r
        for r in visit.requests[since:]
        if r.method == "GET" and r.url.startswith(url) and r.url != challenge
    ]


def chat_polls(visit: Visit, since: int = 0) -> list[Request]:
    """The polls that read the thread (and record what the visitor has seen)."""
    return [r for r in chat_gets(visit, since) if not is_peek(r.url)]


def chat_peeks(visit: Visit, since: int = 0) -> list[Request]:
    """The folded widget's `?peek=1` asks, which record nothing."""
    return [r for r in chat_gets(visit, since) if is_peek(r.url)]


def is_peek(url: str) -> bool:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("peek") == ["1"]


# What the server sends, for the tests' own answers: the team in or away (back
# Monday 09:00 in Kolkata), and the count of team replies the visitor has not seen.
TEAM_HOURS = "Mon-Fri 09:00-18:00"
TEAM_IN: dict[str, Any] = {
    "available": True,
    "back_at": None,
    "hours": TEAM_HOURS,
    "timezone": "Asia/Kolkata",
}
TEAM_AWAY: dict[str, Any] = {
    "available": False,
    "back_at": "2026-12-07T03:30:00Z",  # Monday 09:00 IST
    "hours": TEAM_HOURS,
    "timezone": "Asia/Kolkata",
}
TEAM_ABSENT: dict[str, Any] = {}  # an older server: no `team` at all


def fulfill(route: Route, response: Any, body: Any) -> None:
    """Answers with the real response's status and headers and `body` (its own length)."""
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    route.fulfill(status=response.status, headers=headers, body=json.dumps(body))


@dataclass
class ServerAnswers:
    """The chat and contact answers as the issue-22 server gives them, on the real
    functions: `team` (set to `team`, or removed for TEAM_ABSENT, or left as the server
    said when None) and, when the server does not say it yet, `unseen` on a poll and a
    peek answered as the server would: the team replies no poll has delivered, no
    messages, nothing recorded."""

    stack: Stack
    team: dict[str, Any] | None = None
    delivered: set[str] = field(default_factory=set)  # team messages a poll has delivered

    def attach(self, page: Page) -> ServerAnswers:
        chat_url = self.stack.url("chat_message")
        page.route(lambda url: url.startswith(chat_url), self.chat)
        page.route(self.stack.url("contact_submit"), self.contact)
        return self

    def with_team(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.team == TEAM_ABSENT:
            body.pop("team", None)
        elif self.team is not None:
            body["team"] = self.team
        return body

    def contact(self, route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch()
        body = response.json()
        if response.status == 201:
            body = self.with_team(body)
        fulfill(route, response, body)

    def chat(self, route: Route) -> None:
        request = route.request
        if request.method not in ("GET", "POST"):
            route.continue_()
            return
        response = route.fetch()
        if response.status == 400 and is_peek(request.url):
            # A server that does not know the parameter refuses it: read the thread instead, and
            # answer the peek from it below.
            response = route.fetch(url=request.url.split("?")[0])
        body = response.json()
        if not response.ok or not isinstance(body, dict):
            fulfill(route, response, body)
            return
        if request.method == "POST" and "session_id" not in body:
            fulfill(route, response, body)  # a visitor message: no team
            return
        if request.method == "GET" and "unseen" not in body:
            team_ids = [m["id"] for m in body.get("messages", []) if m["author"] == "team"]
            if is_peek(request.url):
                unseen = len([i for i in team_ids if i not in self.delivered])
                body = {
                    "status": body["status"],
                    "unseen": unseen,
                    **({"team": body["team"]} if "team" in body else {}),
                }
            else:
                self.delivered.update(team_ids)
                body["unseen"] = 0
        fulfill(route, response, self.with_team(body))


@needs("chat_message")
def test_chat_asks_for_the_email_first_shows_a_siteadmin_reply_and_survives_a_reload(
    visit: Visit, db: Any, siteadmin: Callable[..., Any]
) -> None:
    ServerAnswers(visit.stack).attach(visit.page)
    page = visit.open()
    messages = chat_messages(page)
    page.click(".fo-chat__launcher")
    expect(page.locator("#fo-chat-email")).to_be_visible()
    expect(page.locator("#fo-chat-text")).to_be_hidden()  # no chatting before the email

    page.fill("#fo-chat-email", "ravi@plant.example")
    page.fill("#fo-chat-first", "Do you read Siemens S7 PLCs?")
    page.click(".fo-chat__start button[type=submit]")

    expect(messages).to_have_count(1)
    expect(messages.first).to_contain_text("Do you read Siemens S7 PLCs?")
    session_id = visit.storage()["factoryops.chat"]
    session = db.collection("chat_sessions").document(session_id).get().to_dict()
    assert session["email"] == "ravi@plant.example"
    assert session["page"] == "/"  # the site's path, never a URL
    [start] = visit.posts_to("chat_message")
    sent = start.post_data_json
    assert sent.pop("altcha")  # the proof of work: see the tests at the end
    assert sent == {
        "email": "ravi@plant.example",
        "page": "/",
        "text": "Do you read Siemens S7 PLCs?",
    }
    assert start.header_value("idempotency-key")

    [listed] = siteadmin("chats", "list", "--open")
    lead_id = listed["lead_id"]
    siteadmin("chats", "reply", lead_id, "Yes: S7-1200 and S7-1500, over OPC UA.")
    expect(messages).to_have_count(2)
    expect(page.locator(".fo-msg--team")).to_contain_text("S7-1200 and S7-1500, over OPC UA.")

    page.fill("#fo-chat-text", "And Allen-Bradley?")
    page.click(".fo-chat__compose button[type=submit]")
    expect(messages).to_have_count(3)
    later = visit.posts_to("chat_message")[-1]
    assert later.post_data_json == {"text": "And Allen-Bradley?"}
    assert later.header_value("x-chat-session") == session_id

    since = len(visit.requests)
    with page.expect_response(lambda r: is_peek(r.url)):
        page.reload()  # folded away, the widget only peeks: nothing unseen, no badge
    badge = page.locator(".fo-chat__badge")
    expect(badge).to_be_hidden()
    siteadmin("chats", "reply", lead_id, "Yes, through an EtherNet/IP gateway.")
    expect(badge).to_have_text("1 new reply")  # a reply while the widget is folded away
    assert chat_polls(visit, since) == []  # peeks alone: the reply stays unseen
    expect(messages).to_have_count(0)
    page.click(".fo-chat__launcher")
    expect(messages).to_have_count(4)  # the thread comes back from the stored session id
    expect(badge).to_be_hidden()
    assert authors(page) == ["visitor", "team", "visitor", "team"]
    expect(page.locator("#fo-chat-text")).to_be_visible()

    siteadmin("chats", "close", lead_id)
    expect(page.locator(".fo-chat__closed")).to_be_visible()
    expect(page.locator(".fo-chat__compose")).to_be_hidden()
    assert page.locator(".fo-chat").get_attribute("data-chat") == "closed"
    siteadmin("chats", "reopen", lead_id)  # the widget still reads, and sees it open again
    expect(page.locator(".fo-chat__compose")).to_be_visible()
    page.fill("#fo-chat-text", "One more question.")
    page.click(".fo-chat__compose button[type=submit]")
    expect(messages).to_have_count(5)

    # The session id is a bearer secret: headers and bodies only, never a URL or a log.
    assert not [r.url for r in visit.requests if session_id in r.url]
    polls = chat_polls(visit)
    assert polls and all(r.header_value("x-chat-session") == session_id for r in polls)
    assert any("?after=" in r.url for r in polls)
    log = visit.stack.functions["chat_message"].log_text()
    assert session_id not in log and "ravi@plant.example" not in log and "Siemens" not in log
    assert visit.storage() == {"factoryops.chat": session_id}
    visit.assert_only_documented_storage()


@needs("chat_message")
def test_chat_start_shows_the_server_email_error_beside_the_email_field(visit: Visit) -> None:
    page = visit.open()
    start_chat(page, "ravi@plant")  # the browser accepts it; the server does not

    expect(page.locator("#fo-chat-email + .fo-field-error")).to_contain_text(
        "Work email is not a valid email address"
    )
    assert visit.storage() == {}


@needs("chat_message")
def test_a_second_chat_for_an_address_whose_chat_is_open_says_to_continue_that_one(
    visit: Visit,
) -> None:
    # The address's first chat, started from another browser (the stack's own client).
    with urllib.request.urlopen(challenge_url(visit, "chat_message"), timeout=20) as answer:
        solution = proofs.solve(json.load(answer))
    first = {"email": "meera@foundry.example", "page": "/", "text": "Hi", "altcha": solution}
    request = urllib.request.Request(
        visit.stack.url("chat_message"),
        data=json.dumps(first).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as started:
        assert started.status == 201

    page = visit.open()
    start_chat(page, "Meera@Foundry.example", "Hello again")

    expect(page.locator(".fo-chat__start .fo-status")).to_contain_text(
        "You already have a chat open with us"
    )
    assert visit.storage() == {}


@needs("chat_message")
def test_chat_start_posts_the_site_path_alone_never_the_origin_or_the_query(
    visit: Visit, db: Any
) -> None:
    page = visit.open("/index.html?utm_source=mail#contact")
    start_chat(page, "ravi@plant.example")

    expect(page.locator("#fo-chat-text")).to_be_visible()
    [start] = visit.posts_to("chat_message")
    assert start.post_data_json["page"] == "/index.html"
    session_id = visit.storage()["factoryops.chat"]
    session = db.collection("chat_sessions").document(session_id).get().to_dict()
    assert session["page"] == "/index.html"


def seed_thread(session_id: str, count: int) -> list[str]:
    """`count` more messages in a chat, the team's and the visitor's in turn, written as
    the function and `siteadmin` write them; returns their authors."""
    from factoryops.chat import team, thread

    session = team.find(session_id)
    assert session is not None
    last_seq = session.last_seq
    written = []
    for n in range(count):
        author = thread.TEAM if n % 2 == 0 else thread.VISITOR
        message = thread.append(
            session.ref,
            author=author,
            text=f"Message {last_seq + 1}",
            last_seq=last_seq,
            lead_id=session.lead_id,
        ).message
        last_seq = message.seq
        written.append(author)
    return written


@needs("chat_message")
def test_a_thread_longer_than_one_poll_page_arrives_in_full_after_a_reload_and_is_not_news(
    stack: Stack, visit: Visit, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryops.chat import thread

    page = visit.open()
    start_chat(page, "ravi@plant.example", "Do you read Siemens S7 PLCs?")
    expect(chat_messages(page)).to_have_count(1)
    session_id = visit.storage()["factoryops.chat"]
    page.goto("about:blank")
    later = seed_thread(session_id, thread.PAGE_LIMIT + 30)
    # Regular polls now come a minute apart, longer than any wait below: only the
    # server's `more` brings page two.
    monkeypatch.setattr(stack.site.config, "chat_poll_ms", 60_000)
    since = len(visit.requests)
    visit.open()
    page.click(".fo-chat__launcher")

    expect(chat_messages(page)).to_have_count(1 + len(later))
    assert authors(page) == ["visitor", *later]
    expect(chat_messages(page).last).to_contain_text(f"Message {1 + len(later)}")
    expect(page.locator(".fo-chat__badge")).to_be_hidden()  # restored, not announced
    first, second = chat_polls(visit, since)
    assert "after=" not in first.url
    assert second.url.endswith(f"?after={thread.message_id(thread.PAGE_LIMIT)}")


@needs("chat_message")
def test_a_chat_at_its_message_cap_shows_the_server_message_and_a_start_a_new_chat_button(
    stack: Stack,
    visit: Visit,
    siteadmin: Callable[..., Any],
    serve_instead: Callable[[str, dict[str, str]], Served],
) -> None:
    from factoryops import errors

    env = function_env(stack.emulator.address, stack.origin, stack.standins)
    capped = serve_instead("chat_message", {**env, "CHAT_MAX_MESSAGES": "2"})
    page = visit.open()
    status = page.locator(".fo-chat__compose .fo-status")
    start_chat(page, "ravi@plant.example", "Do you read Siemens S7 PLCs?")
    send_chat(page, "And Allen-Bradley?")
    expect(chat_messages(page)).to_have_count(2)
    send_chat(page, "And Mitsubishi?")

    expect(status).to_have_text(f"{errors.ChatLimitReached.message} Start a new chat")
    refused = [r for r in visit.requests if r.method == "POST" and r.url == capped.url][-1]
    response = refused.response()
    assert response is not None and response.status == 429
    assert response.json()["error"]["code"] == "chat_limit_reached"
    assert int(response.headers["retry-after"]) >= 3600
    expect(chat_messages(page)).to_have_count(2)

    # The cap stops posting, not reading: its long Retry-After holds no poll back. The
    # reply is written after a poll that follows the refusal, so only a later one finds it.
    with page.expect_response(lambda r: r.url.startswith(capped.url) and r.request.method == "GET"):
        pass
    [listed] = siteadmin("chats", "list", "--open")
    siteadmin("chats", "reply", listed["lead_id"], "Yes, over MC protocol.")
    expect(chat_messages(page)).to_have_count(3)

    status.get_by_role("button", name="Start a new chat").click()
    expect(page.locator("#fo-chat-email")).to_be_focused()
    expect(page.locator(".fo-chat__start")).to_be_visible()
    assert "factoryops.chat" not in visit.storage()
    page.fill("#fo-chat-first", "Mitsubishi iQ-R?")
    page.fill("#fo-chat-email", "ravi@plant.example")
    page.click(".fo-chat__start button[type=submit]")
    expect(chat_messages(page)).to_have_count(1)
    expect(status).to_be_hidden()  # the old chat's cap does not greet the new one


POLL_RETRY_AFTER = 5


@needs("chat_message")
def test_a_poll_answered_429_waits_at_least_its_retry_after_and_shows_the_visitor_no_error(
    visit: Visit, siteadmin: Callable[..., Any]
) -> None:
    from factoryops import errors

    refusal = {"error": {"code": errors.RateLimited.code, "message": errors.RateLimited.message}}
    page = visit.open()
    chat_url = visit.stack.url("chat_message")
    polled: list[float] = []  # when each poll reached the route

    def refuse_the_first_poll(route: Route) -> None:
        if route.request.method != "GET" or route.request.url == challenge_url(
            visit, "chat_message"
        ):
            route.continue_()
            return
        polled.append(time.monotonic())
        if len(polled) > 1:
            route.continue_()
            return
        route.fulfill(
            status=429,
            headers={
                "Retry-After": str(POLL_RETRY_AFTER),
                "Access-Control-Allow-Origin": visit.stack.origin,
                "Access-Control-Expose-Headers": "Retry-After",
            },
            content_type="application/json",
            body=json.dumps(refusal),
        )

    page.route(lambda url: url.startswith(chat_url), refuse_the_first_poll)
    with page.expect_response(lambda r: r.url.startswith(chat_url) and r.status == 429):
        start_chat(page, "ravi@plant.example", "Do you read Siemens S7 PLCs?")
    # Opening the panel asks for a poll at once; the Retry-After still comes first.
    page.click(".fo-chat__close")
    page.click(".fo-chat__launcher")
    expect(page.locator(".fo-chat .fo-status:visible")).to_have_count(0)
    with page.expect_response(
        lambda r: r.url.startswith(chat_url) and r.request.method == "GET" and r.ok,
        timeout=30_000,
    ):
        pass  # the next poll, let through to the function

    assert polled[1] - polled[0] >= POLL_RETRY_AFTER
    [listed] = siteadmin("chats", "list", "--open")
    siteadmin("chats", "reply", listed["lead_id"], "Yes: S7-1200 and S7-1500.")
    expect(chat_messages(page)).to_have_count(2)  # polling goes on as usual
    expect(page.locator(".fo-chat .fo-status:visible")).to_have_count(0)
    expect(page.locator(".fo-chat")).not_to_contain_text("Too many")


def grant_link(siteadmin: Callable[..., Any], **options: str) -> dict[str, Any]:
    """A grant for the section `pricing`, made as the team makes one: its url, token, id."""
    args = ["grants", "create", "--lead", "Pune Stamping Works", "--sections", "pricing"]
    for name, value in {"days": "30", **options}.items():
        args += [f"--{name.replace('_', '-')}", value]
    created: dict[str, Any] = siteadmin(*args, "--no-email")
    return created


def stored_grant(db: Any, grant_id: str) -> dict[str, Any]:
    return dict(db.collection("access_grants").document(grant_id).get().to_dict())


def access_posts(visit: Visit) -> list[Request]:
    return visit.posts_to("access_grant")


def expect_unlocked(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("data-access", "unlocked")
    expect(page.locator("[data-gated=pricing]")).to_be_visible()
    expect(page.locator("[data-gated-teaser=pricing]")).to_be_hidden()


@needs("access_grant")
def test_access_link_unlocks_its_sections_later_visits_recheck_recording_nothing_and_a_revoke_locks(
    visit: Visit, db: Any, siteadmin: Callable[..., Any]
) -> None:
    created = grant_link(siteadmin)
    token, url = created["token"], created["url"]
    assert url == f"{visit.stack.origin}/#access={token}"
    page = visit.page
    html = page.locator("html")
    page.goto(url)

    expect_unlocked(page)
    assert page.url == visit.stack.origin + "/"  # the token left the address bar
    expect(page.locator("[data-gated=case-studies]")).to_be_hidden()  # not in this grant
    expect(page.locator("[data-access-status]")).to_contain_text("Welcome")
    flag = json.loads(visit.storage()["factoryops.access"])
    assert set(flag) == {"token", "receipt", "sections", "expires_at", "checked_at"}
    assert flag["token"] == token and flag["sections"] == ["pricing"] and flag["receipt"]
    [redeem] = access_posts(visit)
    assert redeem.post_data_json == {"token": token}
    assert [r.url for r in visit.requests if token in r.url] == []  # the fragment stays home

    page.reload()  # the same visit: no second check, no use of the grant spent
    expect_unlocked(page)
    assert len(access_posts(visit)) == 1

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)
    page.clock.set_system_time(later)  # a later visit checks again
    access_url = visit.stack.url("access_grant")
    with page.expect_response(
        lambda r: r.url == access_url and r.request.method == "POST"
    ) as check:
        page.reload()
    assert check.value.status == 200
    expect(html).to_have_attribute("data-access", "unlocked")
    assert len(access_posts(visit)) == 2
    assert access_posts(visit)[1].post_data_json == {"token": token, "receipt": flag["receipt"]}
    after_visit = stored_grant(db, created["id"])
    assert after_visit["redemptions"] == 1, "a later visit is not a use"
    assert after_visit["last_redeemed_at"] == after_visit["first_redeemed_at"], "nor a time"

    siteadmin("grants", "revoke", created["id"])
    page.clock.set_system_time(later + dt.timedelta(minutes=31))
    page.reload()

    expect(html).to_have_attribute("data-access", "locked")
    expect(page.locator("[data-gated=pricing]")).to_be_hidden()
    expect(page.locator("[data-gated-teaser=pricing]")).to_be_visible()
    expect(page.locator("[data-access-status]")).to_contain_text("has ended")
    assert "factoryops.access" not in visit.storage()
    assert stored_grant(db, created["id"])["redemptions"] == 1
    assert token not in visit.stack.functions["access_grant"].log_text()
    visit.assert_only_documented_storage()


@needs("access_grant")
@pytest.mark.parametrize("max_uses", [None, "2"])
def test_opening_the_link_again_in_a_browser_that_holds_its_unlock_counts_no_use(
    visit: Visit, db: Any, siteadmin: Callable[..., Any], max_uses: str | None
) -> None:
    created = grant_link(siteadmin, **({"max_uses": max_uses} if max_uses else {}))
    page = visit.page
    page.goto(created["url"])
    expect_unlocked(page)
    receipt = json.loads(visit.storage()["factoryops.access"])["receipt"]
    first = stored_grant(db, created["id"])

    page.goto(created["url"])  # the same visit: nothing asked at all
    expect_unlocked(page)
    assert page.url == visit.stack.origin + "/"
    assert len(access_posts(visit)) == 1

    page.clock.set_system_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31))
    access_url = visit.stack.url("access_grant")
    with page.expect_response(lambda r: r.url == access_url and r.request.method == "POST"):
        page.goto(created["url"])  # a later visit, through the link again
    expect_unlocked(page)

    assert [p.post_data_json for p in access_posts(visit)] == [
        {"token": created["token"]},
        {"token": created["token"], "receipt": receipt},
    ]
    assert stored_grant(db, created["id"]) == first, "a return visit leaves the grant as it was"
    assert first["redemptions"] == 1


def assert_no_request_carries(visit: Visit, requests: list[Request], secret: str) -> None:
    """Neither in its URL nor in any header (the Referer above all), to any host."""
    assert requests, "the page made requests"
    for request in requests:
        assert secret not in request.url, request.url
        headers = request.all_headers()
        assert secret not in json.dumps(headers), (request.url, headers)
    assert any(r.url.startswith(visit.stack.origin) for r in requests), "the site's own files"


@needs("access_grant")
def test_a_link_with_the_token_in_the_fragment_sends_it_to_no_server_not_even_as_referer(
    visit: Visit, db: Any, siteadmin: Callable[..., Any]
) -> None:
    created = grant_link(siteadmin)
    seen: list[Request] = []
    visit.context.on("request", lambda sent: seen.append(sent))  # workers and frames too
    page = visit.page

    page.goto(created["url"])

    expect_unlocked(page)
    assert page.url == visit.stack.origin + "/"
    # The stylesheet and the script are asked for before the script can strip anything.
    own = [urllib.parse.urlsplit(r.url).path for r in seen if r.url.startswith(visit.stack.origin)]
    assert {"/", "/factoryops.css", "/factoryops.js"} <= set(own)
    [redeem] = access_posts(visit)
    assert redeem.post_data_json == {"token": created["token"]}  # in the body, to the function
    assert_no_request_carries(visit, [r for r in seen if r is not redeem], created["token"])
    assert stored_grant(db, created["id"])["redemptions"] == 1


@needs("access_grant")
def test_a_link_of_the_old_query_form_still_unlocks_and_leaves_the_address_bar(
    visit: Visit, db: Any, siteadmin: Callable[..., Any]
) -> None:
    created = grant_link(siteadmin)
    page = visit.page

    page.goto(f"{visit.stack.origin}/?access={created['token']}")

    expect_unlocked(page)
    assert page.url == visit.stack.origin + "/"
    [redeem] = access_posts(visit)
    assert redeem.post_data_json == {"token": created["token"]}
    assert stored_grant(db, created["id"])["redemptions"] == 1


@needs("access_grant")
def test_a_link_pasted_into_a_page_already_open_unlocks_without_a_reload(
    visit: Visit, db: Any, siteadmin: Callable[..., Any]
) -> None:
    created = grant_link(siteadmin)
    page = visit.open()
    expect(page.locator("html")).to_have_attribute("data-access", "locked")

    # The same page with only a new fragment: the browser does not load it again.
    page.goto(created["url"])

    expect_unlocked(page)
    assert page.url == visit.stack.origin + "/"
    assert stored_grant(db, created["id"])["redemptions"] == 1


@needs("access_grant")
@pytest.mark.parametrize(
    ("opened", "left"),
    [
        ("/?utm_source=mail#access={token}", "/?utm_source=mail"),
        ("/?utm_source=mail&access={token}#contact", "/?utm_source=mail#contact"),
    ],
    ids=["fragment", "query"],
)
def test_an_unknown_access_link_leaves_the_address_bar_and_unlocks_nothing(
    visit: Visit, opened: str, left: str
) -> None:
    page = visit.page
    page.goto(visit.stack.origin + opened.format(token="x" * 43))

    expect(page.locator("html")).to_have_attribute("data-access", "locked")
    assert page.url == visit.stack.origin + left
    expect(page.locator("[data-access-status]")).to_contain_text("not valid any more")
    expect(page.locator("[data-gated=pricing]")).to_be_hidden()
    assert visit.storage() == {}


# -- when to expect a reply ---------------------------------------------------------

SHOTS = os.environ.get("SCREENSHOTS_DIR", "")
"""Where the greeting's screenshots go, when asked for (for a person to look at)."""
SIZES = {"desktop": (1280, 800), "phone": (375, 812)}
# Records every violation of the page's Content-Security-Policy, before any script runs
# (the console's browser tests use it too).
CSP_WATCH = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', function (event) {
  window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
});
"""


@dataclass
class Watch:
    """Every console error and CSP violation on a page."""

    page: Page
    console_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console_errors == []
        assert self.page.evaluate("() => window.cspViolations") == []


def sized(visit: Visit, size: str) -> Watch:
    width, height = SIZES[size]
    visit.page.set_viewport_size({"width": width, "height": height})
    watch = Watch(visit.page)
    visit.page.add_init_script(CSP_WATCH)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.console_errors.append(message.text)

    visit.page.on("console", console)
    return watch


def reject_analytics(page: Page) -> None:
    """The visitor answers the consent banner first: on a phone it covers the chat button."""
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#fo-consent")).to_be_hidden()


def in_view(page: Page, locator: Locator) -> None:
    box = locator.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= viewport["width"]
    assert box["y"] + box["height"] <= viewport["height"]


EMAIL = "ravi@plant.example"
PROMISE = {
    "inside": "Thanks, we're in. We usually reply within minutes; if you've left by then, "
    f"we'll email you our reply at {EMAIL}.",
    "outside": f"Thanks. We're back Mon 09:00 IST; we'll email you our reply at {EMAIL}.",
}


@needs("chat_message")
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("hours", ["inside", "outside"])
def test_the_chat_greets_the_visitor_and_says_when_to_expect_a_reply(
    visit: Visit, hours: str, size: str
) -> None:
    watch = sized(visit, size)
    ServerAnswers(visit.stack, team=TEAM_IN if hours == "inside" else TEAM_AWAY).attach(visit.page)
    page = visit.open()
    reject_analytics(page)
    page.click(".fo-chat__launcher")
    # The promise the start form makes stays true: the reply reaches the address.
    expect(page.locator(".fo-chat__note")).to_contain_text(
        "We ask for your email first so we can reply even after you leave"
    )
    page.fill("#fo-chat-email", EMAIL)
    page.fill("#fo-chat-first", "Do you read Siemens S7 PLCs?")
    page.click(".fo-chat__start button[type=submit]")

    promise = page.locator(".fo-chat__expect")
    expect(promise).to_have_text(PROMISE[hours])
    expect(promise).to_have_attribute("role", "status")
    expect(chat_messages(page)).to_have_count(1)
    with page.expect_response(lambda r: r.request.method == "GET" and not is_peek(r.url)):
        pass  # a poll's `team` says the same: the promise stays
    expect(promise).to_have_text(PROMISE[hours])
    in_view(page, promise)
    in_view(page, page.locator("#fo-chat-text"))
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"chat-greeting-{hours}-hours-{size}.png"))

    # The address lives in the page's memory only: the browser keeps the session id.
    stored = visit.storage()
    assert sorted(stored) == ["factoryops.chat", "factoryops.consent"]
    assert EMAIL not in json.dumps(stored)
    visit.assert_only_documented_storage()

    # Back later, the thread's first poll brings the promise again, without the address.
    page.reload()
    page.click(".fo-chat__launcher")
    expect(chat_messages(page)).to_have_count(1)
    expect(promise).to_have_text(PROMISE[hours].replace(EMAIL, "the address you gave us"))
    watch.assert_clean()


@needs("chat_message")
def test_with_no_team_in_the_answers_the_chat_promises_nothing_more(visit: Visit) -> None:
    watch = sized(visit, "desktop")
    ServerAnswers(visit.stack, team=TEAM_ABSENT).attach(visit.page)
    page = visit.open()
    start_chat(page, EMAIL, "Do you read Siemens S7 PLCs?")
    expect(chat_messages(page)).to_have_count(1)
    with page.expect_response(lambda r: r.request.method == "GET" and not is_peek(r.url)):
        pass
    expect(page.locator(".fo-chat__expect")).to_be_hidden()
    expect(page.locator(".fo-chat__expect")).to_have_text("")
    watch.assert_clean()


@needs("chat_message")
@pytest.mark.parametrize("size", SIZES)
def test_a_returning_visitor_sees_replies_waiting_on_the_folded_chat_until_opening_it(
    visit: Visit, siteadmin: Callable[..., Any], size: str
) -> None:
    watch = sized(visit, size)
    ServerAnswers(visit.stack).attach(visit.page)
    page = visit.open()
    reject_analytics(page)
    start_chat(page, EMAIL, "Do you read Siemens S7 PLCs?")
    expect(chat_messages(page)).to_have_count(1)
    session_id = visit.storage()["factoryops.chat"]
    page.goto("about:blank")  # the visitor leaves; the team replies twice
    [listed] = siteadmin("chats", "list", "--open")
    siteadmin("chats", "reply", listed["lead_id"], "Yes: S7-1200 and S7-1500.")
    siteadmin("chats", "reply", listed["lead_id"], "Over OPC UA.")

    since = len(visit.requests)
    visit.open()  # back in the same browser
    launcher = page.locator(".fo-chat__launcher")
    badge = page.locator(".fo-chat__badge")
    expect(badge).to_have_text("2 new replies")
    expect(badge).to_be_visible()
    in_view(page, badge)
    expect(launcher).to_have_accessible_name(re.compile("2 new replies"))
    expect(page.get_by_role("button", name=re.compile("2 new replies"))).to_have_count(1)
    # Folded away, the widget peeks (with the session in a header) and reads nothing.
    peeks = chat_peeks(visit, since)
    assert peeks and all(r.header_value("x-chat-session") == session_id for r in peeks)
    assert chat_polls(visit, since) == []
    assert not [r.url for r in visit.requests if session_id in r.url]

    launcher.click()  # opening reads the thread, which marks the replies seen
    expect(chat_messages(page)).to_have_count(3)
    assert authors(page) == ["visitor", "team", "team"]
    expect(badge).to_be_hidden()
    expect(launcher).to_have_accessible_name("Chat with us")
    assert chat_polls(visit, since)

    # Seen now: folded again, or on the next visit, there is no badge.
    page.click(".fo-chat__close")
    since = len(visit.requests)
    with page.expect_response(lambda r: is_peek(r.url)):
        page.reload()
    expect(badge).to_be_hidden()
    expect(launcher).to_have_accessible_name("Chat with us")
    assert chat_polls(visit, since) == []
    watch.assert_clean()


@needs("chat_message")
def test_a_failed_peek_is_silent_and_shows_no_badge(visit: Visit) -> None:
    watch = sized(visit, "desktop")
    page = visit.open()
    start_chat(page, EMAIL)
    expect(page.locator("#fo-chat-text")).to_be_visible()
    chat_url = visit.stack.url("chat_message")
    page.route(
        lambda url: url.startswith(chat_url) and is_peek(url),
        lambda route: route.abort("connectionreset"),
    )
    with page.expect_event("requestfailed", lambda r: is_peek(r.url)):
        page.reload()
    expect(page.locator(".fo-chat__badge")).to_be_hidden()
    expect(page.locator(".fo-chat .fo-status:visible")).to_have_count(0)
    # A network failure is reported by the browser itself; the script adds nothing.
    assert [e for e in watch.console_errors if "factoryops" in e] == []
    assert page.evaluate("() => window.cspViolations") == []


@pytest.mark.parametrize(
    ("hours", "size"),
    [(hours, size) for hours in ("inside", "outside") for size in SIZES] + [("absent", "desktop")],
)
def test_the_contact_thanks_says_when_to_expect_a_reply(
    visit: Visit, db: Any, hours: str, size: str
) -> None:
    teams: dict[str, dict[str, Any]] = {
        "inside": TEAM_IN,
        "outside": TEAM_AWAY,
        "absent": TEAM_ABSENT,
    }
    team = teams[hours]
    watch = sized(visit, size)
    ServerAnswers(visit.stack, team=team).attach(visit.page)
    page = visit.open()
    fill_contact(page, CONTACT)
    submit_contact(page)

    expected = {
        "inside": "Thank you. We have your message and will reply by email within the working day.",
        "outside": "Thank you. We have your message. We're back Mon 09:00 IST and will reply "
        "by email then.",
        "absent": "Thank you. We have your message and will reply by email.",
    }[hours]
    expect(contact_status(page)).to_have_text(expected)
    assert len(contact_records(db)) == 1
    watch.assert_clean()


def test_a_visitor_who_left_gets_one_email_with_both_replies_and_one_who_stays_gets_none(
    visit: Visit,
    browser: Browser,
    db: Any,
    siteadmin: Callable[..., Any],
    configure: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from factoryops import deliveries, store
    from factoryops.sweep import DELIVERY_SOURCES

    configure(
        **visit.stack.standins.env(),
        EMAILJS_REPLY_TEMPLATE_ID="template_reply",
        TEAM_INBOX="team@factoryops.example",
        SITE_URL=visit.stack.origin,
    )
    visit.stack.standins.state.reset()

    def replied_by_email() -> list[dict[str, Any]]:
        sent = visit.stack.standins.state.emails
        return [e for e in sent if e["template_id"] == "template_reply"]

    # Ravi writes, then closes the tab; the team answers twice.
    page = visit.open()
    start_chat(page, "ravi@plant.example", "Do you read Siemens S7 PLCs?")
    expect(chat_messages(page)).to_have_count(1)
    page.close()
    [ravi] = siteadmin("chats", "list", "--open")
    siteadmin("chats", "reply", ravi["lead_id"], "Yes: S7-1200 and S7-1500.")
    siteadmin("chats", "reply", ravi["lead_id"], "Over OPC UA, with no gateway.")

    # Meera keeps hers open: the widget shows the replies, so the server knows she saw them.
    elsewhere = browser.new_context(viewport={"width": 1280, "height": 900})
    other = elsewhere.new_page()
    other.goto(visit.stack.origin + "/")
    start_chat(other, "meera@foundry.example", "And Allen-Bradley?")
    expect(chat_messages(other)).to_have_count(1)
    meera = next(c for c in siteadmin("chats", "list", "--open") if c["lead_id"] != ravi["lead_id"])
    siteadmin("chats", "reply", meera["lead_id"], "Yes, through EtherNet/IP.")
    siteadmin("chats", "reply", meera["lead_id"], "Which PLC family?")
    expect(chat_messages(other)).to_have_count(3)
    time.sleep(1)  # one more poll after both replies arrived: the seen point is stored

    later = store.now() + dt.timedelta(minutes=5)  # past REPLY_EMAIL_AFTER (180 s)
    monkeypatch.setattr(store, "now", lambda: later)
    deliveries.run_due(DELIVERY_SOURCES)
    deliveries.run_due(DELIVERY_SOURCES)

    elsewhere.close()
    [email] = replied_by_email()
    params = email["template_params"]
    assert set(params) == {"to_email", "replies", "page_url", "reply_to"}
    assert params["to_email"] == "ravi@plant.example"
    replies = params["replies"]
    assert replies.index("S7-1200 and S7-1500") < replies.index("Over OPC UA, with no gateway.")
    assert params["page_url"] == visit.stack.origin + "/"
    assert params["reply_to"] == "team@factoryops.example"


# -- the proof of work ---------------------------------------------------------------

SOLVER = "/factoryops-pow.js"
# What a visitor must never read about the proof of work.
PROOF_WORDS = re.compile(r"proof|challenge|altcha|captcha|robot|verif", re.IGNORECASE)


def challenges_asked(visit: Visit, name: str) -> list[Request]:
    url = challenge_url(visit, name)
    return [r for r in visit.requests if r.method == "GET" and r.url == url]


def proof_sent(post: Request) -> dict[str, Any]:
    """The payload of a post's `altcha` field: the challenge as issued, and its solution."""
    import base64

    payload: dict[str, Any] = json.loads(base64.b64decode(post.post_data_json["altcha"]))
    return payload


def issued(request: Request) -> dict[str, Any]:
    response = request.response()
    assert response is not None and response.status == 200
    challenge: dict[str, Any] = response.json()
    return challenge


def solver_loads(visit: Visit) -> list[Request]:
    return [r for r in visit.requests if r.url == visit.stack.origin + SOLVER]


def assert_nothing_said_about_the_proof(page: Page) -> None:
    assert not PROOF_WORDS.search(page.locator("body").inner_text())


def proved_contact_post(visit: Visit, db: Any) -> Request:
    """The page's one contact post, which carried the solution of the one challenge the
    page asked for and was stored out of the quarantine."""
    [asked] = challenges_asked(visit, "contact_submit")
    [post] = visit.posts_to("contact_submit")
    assert proof_sent(post)["challenge"] == issued(asked)
    [record] = contact_records(db)
    assert "quarantined_at" not in record and "quarantine_reason" not in record
    return post


def test_a_contact_post_solved_while_typing_is_forwarded_not_quarantined_and_nothing_shows(
    visit: Visit, db: Any, forwarder: Any, standins: StandIns
) -> None:
    page = visit.open()
    with page.expect_response(challenge_url(visit, "contact_submit")):
        page.focus("#contact-name")  # the visitor starts on the form
    send_contact(page)

    post = proved_contact_post(visit, db)
    assert set(proof_sent(post)["solution"]) == {"counter", "derivedKey", "time"}
    assert {k: v for k, v in post.post_data_json.items() if k != "altcha"} == {
        **CONTACT,
        "website": "",
    }
    assert visit.workers == [visit.stack.origin + SOLVER]
    forwarder.settle()
    [email] = standins.state.emails
    assert email["template_id"] == "template_contact"
    assert email["template_params"]["message"] == CONTACT["message"]
    assert_nothing_said_about_the_proof(page)
    visit.assert_only_documented_storage()


@needs("chat_message")
def test_a_chat_start_carries_a_proof_solved_after_the_email_field_took_the_focus(
    visit: Visit, db: Any
) -> None:
    page = visit.open()
    with page.expect_response(challenge_url(visit, "chat_message")):
        page.click(".fo-chat__launcher")  # opening the panel puts the focus on the email
    page.fill("#fo-chat-email", "ravi@plant.example")
    page.fill("#fo-chat-first", "Do you read Siemens S7 PLCs?")
    page.click(".fo-chat__start button[type=submit]")

    expect(chat_messages(page)).to_have_count(1)
    [asked] = challenges_asked(visit, "chat_message")
    [start] = visit.posts_to("chat_message")
    response = start.response()
    assert response is not None and response.status == 201
    assert proof_sent(start)["challenge"] == issued(asked)
    session_id = visit.storage()["factoryops.chat"]
    assert db.collection("chat_sessions").document(session_id).get().exists
    send_chat(page, "And Allen-Bradley?")  # later messages need no proof
    expect(chat_messages(page)).to_have_count(2)
    assert "altcha" not in visit.posts_to("chat_message")[-1].post_data_json
    assert len(challenges_asked(visit, "chat_message")) == 1
    assert_nothing_said_about_the_proof(page)


def test_a_spent_solution_is_refused_and_the_script_solves_the_fresh_challenge_and_posts_once_more(
    visit: Visit, db: Any
) -> None:
    url = visit.stack.url("contact_submit")
    with urllib.request.urlopen(challenge_url(visit, "contact_submit"), timeout=20) as answer:
        spent = proofs.solve(json.load(answer))
    assert post_direct(url, {**CONTACT, "altcha": spent})[0] == 201  # spent by someone else
    swapped: list[str] = []

    def reuse_the_spent_solution(route: Route) -> None:
        request = route.request
        if request.method == "POST" and not swapped:
            body = request.post_data_json
            swapped.append(body["altcha"])
            route.continue_(post_data=json.dumps({**body, "altcha": spent}))
        else:
            route.continue_()

    page = visit.open()
    page.route(url, reuse_the_spent_solution)
    mine = {**CONTACT, "message": "A second plant, in Chakan."}
    fill_contact(page, mine)
    submit_contact(page)

    expect(contact_status(page)).to_have_text(re.compile("Thank you"))
    refused, retried = visit.posts_to("contact_submit")
    answer = refused.response()
    assert answer is not None and answer.status == 400
    refusal = answer.json()["error"]
    assert refusal["code"] == "challenge_failed"
    assert proof_sent(retried)["challenge"] == refusal["challenge"]  # the refusal's own
    assert retried.post_data_json["altcha"] not in (spent, swapped[0])
    assert retried.header_value("idempotency-key") != refused.header_value("idempotency-key")
    final = retried.response()
    assert final is not None and final.status == 201
    messages = [r["message"] for r in contact_records(db)]
    assert sorted(messages) == sorted([CONTACT["message"], mine["message"]])  # stored once
    assert [r for r in contact_records(db) if "quarantined_at" in r] == []
    assert_nothing_said_about_the_proof(page)


@needs("chat_message")
def test_a_chat_start_that_arrives_without_its_proof_is_refused_then_solved_and_sent_again(
    visit: Visit, db: Any
) -> None:
    url = visit.stack.url("chat_message")
    stripped: list[bool] = []

    def drop_the_proof(route: Route) -> None:
        request = route.request
        if request.method == "POST" and not stripped:
            body = {k: v for k, v in request.post_data_json.items() if k != "altcha"}
            stripped.append(True)
            route.continue_(post_data=json.dumps(body))
        else:
            route.continue_()

    page = visit.open()
    page.route(url, drop_the_proof)
    start_chat(page, "ravi@plant.example", "Do you read Siemens S7 PLCs?")

    expect(chat_messages(page)).to_have_count(1)
    refused, retried = visit.posts_to("chat_message")
    answer = refused.response()
    assert answer is not None and answer.status == 400
    refusal = answer.json()["error"]
    assert refusal["code"] == "challenge_required"
    assert proof_sent(retried)["challenge"] == refusal["challenge"]
    assert retried.header_value("idempotency-key") != refused.header_value("idempotency-key")
    assert len(list(db.collection("chat_sessions").stream())) == 1
    expect(page.locator(".fo-chat .fo-status:visible")).to_have_count(0)
    assert_nothing_said_about_the_proof(page)


def test_without_web_workers_the_page_solves_on_its_own_thread_and_the_post_is_not_quarantined(
    visit: Visit, db: Any
) -> None:
    page = visit.page
    page.add_init_script("delete window.Worker;")
    visit.open()
    assert page.evaluate("() => typeof window.Worker") == "undefined"
    send_contact(page)

    assert visit.workers == []
    [solver] = solver_loads(visit)
    assert solver.resource_type == "script"
    proved_contact_post(visit, db)


def test_a_form_filled_without_focus_fetches_its_challenge_at_the_submit(
    visit: Visit, db: Any
) -> None:
    page = visit.open()
    # As autofill does: values set with no focus on the form, then the submit.
    page.evaluate(
        """values => { const form = document.querySelector('form[data-factoryops=contact]');
                       for (const [name, value] of Object.entries(values))
                         form.elements.namedItem(name).value = value;
                       form.requestSubmit(); }""",
        CONTACT,
    )

    expect(contact_status(page)).to_have_text(re.compile("Thank you"))
    proved_contact_post(visit, db)


def test_a_challenge_held_past_nine_minutes_is_replaced_at_the_submit(
    visit: Visit, db: Any
) -> None:
    page = visit.open()
    with page.expect_response(challenge_url(visit, "contact_submit")):
        page.focus("#contact-name")
    fill_contact(page, CONTACT)
    page.clock.set_system_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=9, seconds=30))
    submit_contact(page)

    expect(contact_status(page)).to_have_text(re.compile("Thank you"))
    first, second = challenges_asked(visit, "contact_submit")
    [post] = visit.posts_to("contact_submit")
    assert proof_sent(post)["challenge"] == issued(second) != issued(first)


@needs("chat_message")
def test_the_page_and_its_solver_talk_only_to_the_site_and_the_functions(
    visit: Visit, db: Any
) -> None:
    page = visit.open()
    send_contact(page)
    start_chat(page, "ravi@plant.example", "Do you read Siemens S7 PLCs?")
    expect(chat_messages(page)).to_have_count(1)

    def origin(url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    functions = {origin(visit.stack.url(name)) for name in visit.stack.functions}
    reached = {origin(r.url) for r in visit.requests}
    assert reached <= {visit.stack.origin, *functions}
    assert visit.workers == [visit.stack.origin + SOLVER] * 2  # one for each form's challenge
    assert len(solver_loads(visit)) == 2
    assert visit.elsewhere == [] and visit.google() == []


SOLVABLE = [
    ("SHA-256", 1, {"counter": 300}),  # as the functions issue them: a 16-byte prefix
    ("SHA-256", 3, {"key_prefix": "abc"}),  # three rounds; a prefix ending in half a byte
    ("SHA-384", 2, {"counter": 300}),
    ("SHA-512", 1, {"key_prefix": "0f"}),
]


@pytest.mark.parametrize(("algorithm", "cost", "prefix"), SOLVABLE)
def test_the_solver_finds_the_first_counter_the_altcha_library_accepts(
    visit: Visit, algorithm: str, cost: int, prefix: dict[str, Any]
) -> None:
    import altcha

    key = b"test-key"
    made = altcha.create_challenge(
        algorithm, cost, expires_at=int(time.time()) + 600, hmac_secret=key, **prefix
    )
    page = visit.open()
    found = page.evaluate(
        """([challenge, url]) => new Promise(resolve => {
             const worker = new Worker(url);
             worker.onmessage = event => { worker.terminate(); resolve(event.data); };
             worker.postMessage(challenge);
           })""",
        [made.to_dict(), visit.stack.origin + SOLVER],
    )

    expected = altcha.solve_challenge(made)
    assert expected is not None and found is not None
    assert (found["counter"], found["derivedKey"]) == (expected.counter, expected.derived_key)
    payload = altcha.Payload(made, altcha.Solution.from_dict(found))
    assert altcha.verify_solution(payload, key).verified
