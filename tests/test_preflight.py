"""deployment/preflight.py: what the organisation's policy says of `allUsers`, and when
the build account's editor role is worth a warning."""

from __future__ import annotations

import io
from typing import Any

import pytest

from deployment import preflight

pytestmark = pytest.mark.unit

CUSTOMER = "C03abc123"
COMPUTE = "123456789012-compute@developer.gserviceaccount.com"


def rules(*found: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "projects/1/policies/iam.allowedPolicyMemberDomains",
        "spec": {"rules": list(found)},
    }


@pytest.mark.parametrize(
    "policy",
    [
        {},
        {"name": "projects/1/policies/iam.allowedPolicyMemberDomains"},
        rules(),
        rules({"allowAll": True}),
        rules({"allowAll": True}, {"values": {"allowedValues": [CUSTOMER]}}),
        rules({"values": {"deniedValues": ["C0other"]}}),
    ],
    ids=["nothing", "no-spec", "no-rule", "allow-all", "allow-all-wins", "denied-only"],
)
def test_all_users_may_be_named_where_no_rule_lists_who_may(policy: dict[str, Any]) -> None:
    assert preflight.member_domains(policy).allowed


@pytest.mark.parametrize(
    ("policy", "limit"),
    [
        (rules({"values": {"allowedValues": [CUSTOMER, "C0second"]}}), f"{CUSTOMER}, C0second"),
        (rules({"denyAll": True}), "no domain at all"),
    ],
)
def test_a_list_of_customers_or_deny_all_leaves_all_users_out(
    policy: dict[str, Any], limit: str
) -> None:
    verdict = preflight.member_domains(policy)
    assert not verdict.allowed and not verdict.conditional
    assert limit in verdict.detail
    said = preflight.refusal("demo-factoryops", verdict)
    assert "projects/demo-factoryops/policies/iam.allowedPolicyMemberDomains" in said
    assert "allowAll: true" in said and "tag-based condition" in said


def test_an_exception_under_a_condition_is_named_and_left_to_the_deployment() -> None:
    exception = {
        "allowAll": True,
        "condition": {"expression": "resource.matchTag('o/public', 'yes')"},
    }
    verdict = preflight.member_domains(rules(exception, {"values": {"allowedValues": [CUSTOMER]}}))
    assert verdict.conditional and not verdict.allowed
    assert "resource.matchTag('o/public', 'yes')" in verdict.detail


def run(monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return preflight.main(list(argv))


def test_the_command_refuses_with_its_status_and_warns_on_what_is_no_policy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    restricted = '{"spec": {"rules": [{"values": {"allowedValues": ["C03abc123"]}}]}}'
    assert run(monkeypatch, restricted, "member-domains", "--project=p") == preflight.REFUSED
    assert capsys.readouterr().err.startswith("deploy.sh: the organisation policy")
    assert run(monkeypatch, "not json", "member-domains", "--project=p") == 0
    assert capsys.readouterr().out.startswith("WARNING: gcloud's answer is no JSON object")


def binding(role: str, member: str, **more: Any) -> dict[str, Any]:
    return {"role": role, "members": ["user:asha@factoryopsai.com", member], **more}


def warning(policy: dict[str, Any], account: str = COMPUTE) -> list[str]:
    return preflight.build_account_warning(
        policy, project="demo-factoryops", account=account, compute_account=COMPUTE
    )


def test_the_default_compute_account_with_editor_is_warned_of_with_the_command_to_remove_it() -> (
    None
):
    lines = warning({"bindings": [binding("roles/editor", f"serviceAccount:{COMPUTE}")]})
    assert all(line.startswith("WARNING: ") for line in lines)
    assert (
        "gcloud projects remove-iam-policy-binding demo-factoryops"
        f" --member=serviceAccount:{COMPUTE} --role=roles/editor" in "\n".join(lines)
    )


@pytest.mark.parametrize(
    ("policy", "account"),
    [
        ({"bindings": [binding("roles/viewer", f"serviceAccount:{COMPUTE}")]}, COMPUTE),
        (
            {
                "bindings": [
                    binding("roles/editor", "serviceAccount:other@x.iam.gserviceaccount.com")
                ]
            },
            COMPUTE,
        ),
        (
            {
                "bindings": [
                    binding("roles/editor", f"serviceAccount:{COMPUTE}", condition={"t": 1})
                ]
            },
            COMPUTE,
        ),
        (
            {"bindings": [binding("roles/editor", "serviceAccount:b@p.iam.gserviceaccount.com")]},
            "b@p.iam.gserviceaccount.com",
        ),
        ({}, COMPUTE),
    ],
    ids=["no-editor", "another-editor", "conditional", "own-build-account", "no-bindings"],
)
def test_no_warning_unless_the_default_compute_account_holds_editor(
    policy: dict[str, Any], account: str
) -> None:
    assert warning(policy, account) == []
