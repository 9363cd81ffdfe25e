"""deployment/monitoring.py: the log-based metrics count the lines the functions write,
and the alerting policies and the request-log exclusion are what the APIs take."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from factoryops import logs

from deployment import monitoring

pytestmark = pytest.mark.unit

SERVICES = ["contact-submit", "chat-message", "access-grant", "team-console", "retention-sweep"]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []
        self.formatter = logs.JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def written() -> Iterator[Callable[[Callable[[], None]], dict[str, Any]]]:
    """The JSON payload of the one line a call writes, as Cloud Logging receives it."""
    handler = _Lines()
    logs.logger().addHandler(handler)

    def payload(write: Callable[[], None]) -> dict[str, Any]:
        handler.lines.clear()
        write()
        [line] = handler.lines
        return line

    try:
        yield payload
    finally:
        logs.logger().removeHandler(handler)


def counted(metric: monitoring.Metric, payload: dict[str, Any]) -> bool:
    return all(m.matches(payload) for m in metric.matches)


def test_the_failed_delivery_metric_counts_a_failed_attempt_only(written: Any) -> None:
    def attempt(state: str) -> dict[str, Any]:
        return written(
            lambda: logs.delivery_result(
                kind="contact", record_id="r1", channel="email", state=state, attempts=8
            )
        )

    assert counted(monitoring.DELIVERY_FAILED, attempt("failed"))
    for state in ("pending", "sent", "disabled"):
        assert not counted(monitoring.DELIVERY_FAILED, attempt(state))


def test_the_budget_metric_counts_the_hours_first_hold_and_no_other_line(written: Any) -> None:
    spent = written(lambda: logs.forward_budget_spent(budget=5, hour="2026030109"))
    assert counted(monitoring.BUDGET_SPENT, spent)
    held = written(
        lambda: logs.delivery_result(
            kind="chat", record_id="r1", channel="email", state="held", attempts=0
        )
    )
    assert not counted(monitoring.BUDGET_SPENT, held)
    assert not counted(monitoring.DELIVERY_FAILED, held)


@pytest.mark.parametrize(
    ("tasks", "outcome", "dry_run", "retention", "deliveries"),
    [
        (["retention"], "ok", False, True, False),
        (["deliveries"], "ok", False, False, True),
        (["retention", "deliveries"], "ok", False, True, True),
        (["retention", "deliveries"], "crm_unavailable", False, False, False),
        (["retention"], "ok", True, False, False),
    ],
)
def test_the_sweep_metrics_count_a_real_successful_run_of_their_task(
    written: Any, tasks: list[str], outcome: str, dry_run: bool, retention: bool, deliveries: bool
) -> None:
    line = written(
        lambda: logs.sweep_finished(
            dry_run=dry_run, tasks=tasks, outcome=outcome, deleted={}, deliveries={}
        )
    )
    assert counted(monitoring.RETENTION_OK, line) is retention
    assert counted(monitoring.DELIVERIES_OK, line) is deliveries


def test_the_metric_filters_say_what_the_matches_test() -> None:
    assert monitoring.RETENTION_OK.filter == (
        'resource.type="cloud_run_revision" AND jsonPayload.message="sweep finished" AND '
        'jsonPayload.outcome="ok" AND jsonPayload.dry_run=false AND jsonPayload.tasks:"retention"'
    )
    assert monitoring.DELIVERY_FAILED.type == (
        "logging.googleapis.com/user/factoryops_delivery_failed"
    )


def test_the_request_log_exclusion_names_only_the_services_and_no_comma() -> None:
    text = monitoring.request_log_filter(SERVICES[:3])
    assert text.startswith('log_id("run.googleapis.com/requests") AND ')
    assert 'service_name=("contact-submit" OR "chat-message" OR "access-grant")' in text
    assert "," not in text + monitoring.EXCLUSION_DESCRIPTION
    with pytest.raises(ValueError, match="comma"):
        monitoring.request_log_filter(["a,b"])
    with pytest.raises(ValueError, match="no service"):
        monitoring.request_log_filter([])


def test_each_policy_notifies_the_channel_within_the_apis_limits() -> None:
    policies = monitoring.policies("p", "projects/p/notificationChannels/7", SERVICES)
    assert len(policies) == 5
    for policy in policies:
        assert policy["notificationChannels"] == ["projects/p/notificationChannels/7"]
        assert policy["displayName"].startswith(monitoring.NAME_PREFIX)
        [condition] = policy["conditions"]
        kind = condition.get("conditionAbsent") or condition["conditionThreshold"]
        [aggregation] = kind["aggregations"]
        assert aggregation["crossSeriesReducer"] == "REDUCE_SUM"
    # tests/test_deploy.py holds every duration to the API's documented limits.
    absences = [p["conditions"][0].get("conditionAbsent", {}).get("duration") for p in policies]
    assert absences == [None, None, "1800s", None, None]
    for n in (0, 3, 4):
        threshold = policies[n]["conditions"][0]["conditionThreshold"]
        assert threshold["comparison"] == "COMPARISON_GT" and threshold["thresholdValue"] == 0
    # The nightly run, counted over the last 25 hours: none, or no data at all, alerts.
    nightly = policies[1]["conditions"][0]["conditionThreshold"]
    assert nightly["filter"].endswith(f'metric.type="{monitoring.RETENTION_OK.type}"')
    assert nightly["aggregations"][0]["alignmentPeriod"] == "90000s"
    assert nightly["comparison"] == "COMPARISON_LT" and nightly["thresholdValue"] == 1
    assert nightly["evaluationMissingData"] == "EVALUATION_MISSING_DATA_ACTIVE"
    server_errors = policies[3]["conditions"][0]["conditionThreshold"]["filter"]
    assert 'metric.labels.response_code_class="5xx"' in server_errors
    assert all(f'"{s}"' in server_errors for s in SERVICES)
    held = policies[4]["conditions"][0]["conditionThreshold"]["filter"]
    assert held.endswith(
        'metric.type="logging.googleapis.com/user/factoryops_forward_budget_spent"'
    )
    assert "FORWARD_BUDGET" in policies[4]["documentation"]["content"]


def test_policy_files_are_written_and_listed(tmp_path: Any, capsys: Any) -> None:
    code = monitoring.main(
        ["policies", "--project=p", "--channel=c", f"--dir={tmp_path}", *SERVICES]
    )
    assert code == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5
    for name, path, body in rows:
        assert json.loads(body)["displayName"] == name
        assert json.loads((tmp_path / path.rsplit("/", 1)[-1]).read_text()) == json.loads(body)
