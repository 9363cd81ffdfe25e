"""The proof of work in a slow visitor's browser: how long the site's solver takes at the
default ALTCHA_COMPLEXITY, and how long a submit waits on it, in Chromium with its CPU
throttled 4x through DevTools (`Emulation.setCPUThrottlingRate`), beside the same
unthrottled. The challenges are contact_submit's own, fetched by the demo page.

Chromium throttles a page's own thread only: it refuses the call for a worker ("only
supported for pages, not workers"), and it computes `crypto.subtle.digest` on a thread
of its own. So the solver is timed twice: in its worker, as visitors get it, whose
figures under 4x are a lower bound for a slow phone; and on the page's thread (the
fallback where workers are missing), which pays the throttled JavaScript between
digests: the budgets are held to the slower of the two.

A submit's wait is the time from the form's `submit` event to the start of its POST,
read on the page's clock, when the visitor submits 3 s after the form first took the
focus (the typing of a short form) and at once (the worst case).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import stack
from bench.report import Row, median, percentile
from devstack import site as site_mod

CHROMIUM = "/usr/bin/chromium"
THROTTLE = 4
SOLVES = 20
SUBMITS = 10
TYPING_S = 3.0
SOLVE_BUDGET_S = TYPING_S
WAIT_BUDGET_S = 1.0
FORM = "form[data-factoryops=contact]"
FIELDS = {
    "name": "Asha Rao",
    "email": "asha.rao@plant.example",
    "message": "We run 14 presses and want to talk about downtime.",
}

# One solve of a challenge the function issues, timed on the page: in a worker started
# for it, as the site script does, or with the solver loaded on the page itself.
SOLVE = """async ([challengeUrl, solverUrl, here]) => {
  const challenge = await (await fetch(challengeUrl, { cache: 'no-store' })).json();
  const started = performance.now();
  const found = here
    ? await window.FactoryOpsPow.solve(challenge)
    : await new Promise(resolve => {
        const worker = new Worker(solverUrl);
        worker.onmessage = event => { worker.terminate(); resolve(event.data); };
        worker.postMessage(challenge);
      });
  return { ms: performance.now() - started, counter: found && found.counter };
}"""

# Notes, on the page's clock, when a form is submitted and when a POST starts;
# `noWorker` takes the page's Worker away, before any script runs.
WATCH = """([noWorker]) => {
  if (noWorker) delete window.Worker;
  const seen = (window.powBench = { submits: [], posts: [] });
  document.addEventListener('submit', () => seen.submits.push(performance.now()), true);
  const fetched = window.fetch;
  window.fetch = function (url, init) {
    if (init && init.method === 'POST') seen.posts.push(performance.now());
    return fetched.apply(this, arguments);
  };
}"""

# The form filled as autofill fills it, without taking the focus.
FILL = """([form, values]) => {
  const fields = document.querySelector(form).elements;
  for (const [name, value] of Object.entries(values)) fields.namedItem(name).value = value;
}"""


def _throttled(page: Any, rate: int) -> None:
    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": rate})


def _solves(context: Any, origin: str, challenge_url: str, rate: int, *, here: bool) -> list[Any]:
    page = context.new_page()
    page.goto(origin + "/")
    solver = origin + "/factoryops-pow.js"
    if here:
        page.add_script_tag(url=solver)
    _throttled(page, rate)
    found = [page.evaluate(SOLVE, [challenge_url, solver, here]) for _ in range(SOLVES)]
    page.close()
    if any(f["counter"] is None for f in found):
        raise RuntimeError("a challenge went unsolved")
    return found


def _submit_wait(context: Any, origin: str, *, typing_s: float, here: bool) -> float:
    """Seconds one submit waited on its proof, `typing_s` after the form took the focus."""
    page = context.new_page()
    page.add_init_script(f"({WATCH})([{'true' if here else 'false'}])")
    page.goto(origin + "/")
    _throttled(page, THROTTLE)
    page.evaluate(FILL, [FORM, FIELDS])
    page.focus(f"{FORM} [name=name]")
    time.sleep(typing_s)
    page.evaluate("form => document.querySelector(form).requestSubmit()", FORM)
    page.wait_for_function("() => window.powBench.posts.length > 0", timeout=60_000)
    page.locator(f"{FORM} [data-status]").filter(has_text="Thank you").wait_for(timeout=60_000)
    seen = page.evaluate("() => window.powBench")
    page.close()
    return float(seen["posts"][0] - seen["submits"][0]) / 1000


def _solve_rows(found: dict[tuple[str, int], list[Any]], complexity: int) -> list[Row]:
    rows = []
    for where, label in (("worker", "in its worker"), ("here", "on the page's thread")):
        slow = [f["ms"] / 1000 for f in found[where, THROTTLE]]
        fast = [f["ms"] / 1000 for f in found[where, 1]]
        counters = [f["counter"] for f in found[where, THROTTLE]]
        for name, measure in (("p50", median), ("p95", lambda v: percentile(v, 0.95))):
            rows.append(
                Row(
                    name=f"proof of work solve {name}, {label}, CPU {THROTTLE}x vs 1x",
                    measured=measure(slow),
                    baseline=measure(fast),
                    unit="s",
                    budget=f"p95 <= {SOLVE_BUDGET_S:g} s (typing a short form)",
                    ok=percentile(slow, 0.95) <= SOLVE_BUDGET_S,
                    note=f"{SOLVES} challenges at ALTCHA_COMPLEXITY {complexity:,}"
                    f" (counters {min(counters):,}-{max(counters):,})",
                )
            )
    return rows


def _wait_rows(waits: dict[tuple[str, float], list[float]]) -> list[Row]:
    rows = []
    for (where, typing_s), values in waits.items():
        label = "worker" if where == "worker" else "no worker"
        when = f"{typing_s:g} s after focus" if typing_s else "at once after focus"
        rows.append(
            Row(
                name=f"submit waits on the proof, {when}, {label}, CPU {THROTTLE}x (p50)",
                measured=median(values),
                baseline=None,
                unit="s",
                budget=f"p95 <= {WAIT_BUDGET_S:g} s",
                ok=percentile(values, 0.95) <= WAIT_BUDGET_S,
                note=f"p95 {percentile(values, 0.95):.2f} s over {len(values)} submits",
            )
        )
    return rows


def _size_row() -> Row:
    sizes = site_mod.gzipped_sizes()
    total = sum(sizes.values())
    before = site_mod.SCRIPT_BEFORE_SOLVER_GZIP
    return Row(
        name="site script and solver, gzipped",
        measured=total / 1024,
        baseline=before / 1024,
        unit="KiB",
        budget=f"<= +{site_mod.SOLVER_BUDGET_GZIP // 1024} KiB",
        ok=total - before <= site_mod.SOLVER_BUDGET_GZIP,
        note=", ".join(f"{name} {size / 1024:.1f} KiB" for name, size in sizes.items()),
    )


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    del functions
    from factoryops.config import settings
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: make bench installs Debian's chromium")
    s.clear()
    site = site_mod.Site(site_mod.SiteConfig("", "", ""), quiet=True)
    origin = f"http://localhost:{site.port}"
    contact = stack.start(
        stack.function_source("contact_submit"),
        s.env(ALLOWED_ORIGINS=origin, SITE_URL=origin),
        s.logs,
    )
    found: dict[tuple[str, int], list[Any]] = {}
    waits: dict[tuple[str, float], list[float]] = {}
    try:
        contact.served.wait_until_serving()
        site.config = site_mod.SiteConfig(contact_url=contact.url, chat_url="", access_url="")
        site.start()
        challenge_url = contact.url.rstrip("/") + "/challenge"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context()
            for where in ("worker", "here"):
                for rate in (1, THROTTLE):
                    found[where, rate] = _solves(
                        context, origin, challenge_url, rate, here=where == "here"
                    )
            for where in ("worker", "here"):
                for typing_s in (TYPING_S, 0.0):
                    waits[where, typing_s] = [
                        _submit_wait(context, origin, typing_s=typing_s, here=where == "here")
                        for _ in range(SUBMITS)
                    ]
            browser.close()
    finally:
        site.stop()
        contact.stop()
    complexity = settings().altcha_complexity
    return [*_solve_rows(found, complexity), *_wait_rows(waits), _size_row()]
