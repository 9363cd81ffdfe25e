"""The logging convention: every message is a named function in logs.py whose arguments
cannot carry personal data, and lines are Cloud Logging JSON."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest
from factoryops import errors, logs

pytestmark = pytest.mark.unit

UTILITIES = {"logger", "error_name", "stack_trace", "to_terminal"}
# Every argument a message may take, by name, with its annotation: names from the code's
# own vocabulary, ids the code minted, numbers, flags, counts, and exceptions (logged by
# class only). A new message needing another argument belongs in this list only if it is
# of one of these sorts.
ALLOWED = {
    "function": "str",
    "kind": "str",
    "channel": "str",
    "state": "str",
    "reason": "str",
    "author": "str",
    "what": "str",
    "record_id": "str",
    "lead_id": "str",
    "grant": "str",
    "caller": "str",
    "last_error": "str",
    "attempts": "int",
    "seq": "int",
    "redemptions": "int",
    "budget": "int",
    "hour": "str",
    "with_text": "bool",
    "dry_run": "bool",
    "outcome": "str",
    "error": "BaseException",
    "deleted": "Mapping[str, int]",
    "deliveries": "Mapping[str, int]",
    "counts": "Mapping[str, int]",
    "tasks": "Sequence[str]",
    "settings": "Mapping[str, str]",
}


def messages() -> dict[str, Any]:
    return {
        name: fn
        for name, fn in vars(logs).items()
        if inspect.isfunction(fn)
        and fn.__module__ == logs.__name__
        and not name.startswith("_")
        and name not in UTILITIES
    }


def test_every_message_takes_only_keyword_arguments_of_the_allowed_sorts() -> None:
    found = messages()
    assert len(found) >= 20
    for name, fn in found.items():
        for parameter in inspect.signature(fn).parameters.values():
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (name, parameter.name)
            assert ALLOWED.get(parameter.name) == parameter.annotation, (name, parameter.name)


def test_no_module_writes_a_log_line_except_through_logs() -> None:
    import pathlib

    package = pathlib.Path(logs.__file__).parent
    for path in package.rglob("*.py"):
        if path.name == "logs.py":
            continue
        text = path.read_text()
        for call in (r"logging\.getLogger", r"logger\(\)\.", r"\bprint\(", r"logs\._emit"):
            assert not re.search(call, text), (path.name, call)


def test_an_error_is_logged_by_its_class_and_a_downstream_by_service_and_status() -> None:
    assert logs.error_name(ValueError("asha@plant.example")) == "ValueError"
    failure = errors.DownstreamError("emailjs", "400", retryable=False, detail="quoted asha")
    assert logs.error_name(failure) == "emailjs 400"


def test_a_line_is_one_json_object_with_severity_and_named_fields(captured_logs: Any) -> None:
    logs.delivery_result(
        kind="contact", record_id="abc", channel="email", state="failed", attempts=3, last_error="x"
    )
    line = json.loads(captured_logs.getvalue().strip().splitlines()[-1])
    assert line["severity"] == "WARNING" and line["message"] == "delivery attempt"
    assert (line["record_id"], line["attempts"]) == ("abc", 3)


def test_a_stack_trace_keeps_frames_and_class_but_not_the_exception_text() -> None:
    typed = "asha@plant.example"
    try:
        raise KeyError(typed)
    except KeyError as exc:
        trace = logs.stack_trace(exc)
    assert trace.startswith("Traceback (most recent call last):")
    assert trace.endswith("KeyError") and "asha@plant.example" not in trace


def test_on_a_terminal_only_warnings_show_and_in_words_not_json() -> None:
    import io
    import logging

    stream = io.StringIO()
    log = logging.getLogger("factoryops")
    saved = (list(log.handlers), log.level, log.propagate)
    try:
        logs.to_terminal(stream)
        logs.record_stored(kind="contact", record_id="abc123")
        logs.firestore_unavailable(function="contact_submit", error=TimeoutError())
    finally:
        log.handlers[:] = saved[0]
        log.setLevel(saved[1])
        log.propagate = saved[2]
    lines = stream.getvalue().splitlines()
    assert lines == ["warning: firestore unavailable (function contact_submit, error TimeoutError)"]


def test_siteadmin_logs_in_words_when_its_errors_go_to_a_terminal(
    monkeypatch: Any,
) -> None:
    import logging
    import types

    from click.testing import CliRunner
    from factoryops import cli

    log = logging.getLogger("factoryops")
    saved = (list(log.handlers), log.level, log.propagate)
    try:
        terminal = types.SimpleNamespace(isatty=lambda: True)
        monkeypatch.setattr(cli, "sys", types.SimpleNamespace(stderr=terminal))
        CliRunner().invoke(cli.main, ["grants"])
        formatters = [type(h.formatter) for h in log.handlers]
    finally:
        log.handlers[:] = saved[0]
        log.setLevel(saved[1])
        log.propagate = saved[2]
    assert formatters == [logs.WordsFormatter]
