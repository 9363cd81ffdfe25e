"""What deploy.sh reads of the project before it changes it, standard library only.

    gcloud org-policies describe iam.allowedPolicyMemberDomains --effective --format=json \\
        --project=ID | python3 -m deployment.preflight member-domains --project ID
    gcloud projects get-iam-policy ID --format=json \\
        | python3 -m deployment.preflight build-account --project ID --account EMAIL \\
            --compute-account EMAIL

`member-domains` reads the effective organisation policy that restricts who IAM policies
may name (domain restricted sharing). The public functions and the team console are
deployed with `allUsers` as their invoker, which such a policy refuses: the run would
stop half way, at the first of them. When the policy leaves `allUsers` out, it prints
why on stderr and exits with `REFUSED`, before anything has changed; otherwise it prints
one line for the plan, a `WARNING` when a condition (a tag) may or may not let it in.

`build-account` reads the project's IAM policy and prints a `WARNING`, with how to
remove the role, when Cloud Build's account is the default compute account and holds
`roles/editor`: every build, and whatever else runs as that account, can then change
almost anything in the project. Nothing for the plan otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MEMBER_DOMAINS = "iam.allowedPolicyMemberDomains"
EDITOR = "roles/editor"
REFUSED = 3
"""Exit status when the policy refuses what the deployment needs; the reason is on stderr."""
GUIDE = 'docs/deploying.md, "Organisation policy"'


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    """Whether `allUsers` may be named, as far as the policy says without its conditions."""
    detail: str
    conditional: bool = False
    """A rule with a condition (a tag) allows every member: whether it holds here is not
    read, so the run goes on with a warning."""


def _rules(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = policy.get("spec")
    rules = spec.get("rules") if isinstance(spec, dict) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def member_domains(policy: Mapping[str, Any]) -> Verdict:
    """What the effective `iam.allowedPolicyMemberDomains` policy (Organization Policy
    API v2, as `gcloud org-policies describe --effective` prints it) says of `allUsers`.
    No rule is the default: every member allowed. `allUsers` belongs to no customer, so
    any list of allowed customers leaves it out, as does `denyAll`."""
    rules = _rules(policy)
    plain = [r for r in rules if not r.get("condition")]
    conditional = [r for r in rules if r.get("condition") and r.get("allowAll") is True]
    if not rules or any(r.get("allowAll") is True for r in plain):
        return Verdict(True, "IAM members are not restricted: allUsers may be an invoker")
    allowed: list[str] = []
    for rule in plain:
        values = rule.get("values")
        if isinstance(values, dict):
            allowed.extend(str(v) for v in values.get("allowedValues") or [])
    if not allowed and not any(r.get("denyAll") is True for r in plain):
        return Verdict(True, "no list of allowed members: allUsers may be an invoker")
    limit = f"to {', '.join(allowed)}" if allowed else "to no domain at all (denyAll)"
    if conditional:
        titles = [
            str(r["condition"].get("title") or r["condition"].get("expression") or "a condition")
            for r in conditional
            if isinstance(r.get("condition"), dict)
        ]
        return Verdict(
            False,
            f"IAM members are limited {limit}, except where {'; '.join(titles)} holds",
            conditional=True,
        )
    return Verdict(False, f"IAM members are limited {limit}")


def refusal(project: str, verdict: Verdict) -> str:
    """What to tell the deployer when the policy leaves `allUsers` out, and what to change."""
    return (
        f"the organisation policy {MEMBER_DOMAINS} (domain restricted sharing) applies to"
        f" project {project}: {verdict.detail}. The public functions and the team console"
        " are invoked by allUsers, which it refuses, so the run would stop at the first of"
        " them. Nothing was changed. An organisation policy administrator"
        " (roles/orgpolicy.policyAdmin) can either\n"
        "  - make an exception for this project: a project policy that allows all values,\n"
        f"      name: projects/{project}/policies/{MEMBER_DOMAINS}\n"
        "      spec: {rules: [{allowAll: true}]}\n"
        "    in a file given to: gcloud org-policies set-policy FILE\n"
        "  - or give the organisation's policy a tag-based condition, a rule that allows all"
        " values where a tag is bound, and bind that tag to this project\n"
        f"then run deploy.sh again ({GUIDE})."
    )


def build_account_warning(
    iam_policy: Mapping[str, Any], *, project: str, account: str, compute_account: str
) -> list[str]:
    """Lines for the plan when `account`, the account Cloud Build builds as, is the
    default compute account and holds roles/editor on the project."""
    if account != compute_account:
        return []
    member = f"serviceAccount:{account}"
    bindings = iam_policy.get("bindings")
    editor = isinstance(bindings, list) and any(
        isinstance(b, dict)
        and b.get("role") == EDITOR
        and not b.get("condition")
        and member in (b.get("members") or [])
        for b in bindings
    )
    if not editor:
        return []
    return [
        f"WARNING: Cloud Build builds as the default compute account, {account}, which holds"
        f" {EDITOR} on project {project}",
        "WARNING: so every build, and whatever else runs as that account, can change almost"
        " anything in it; the builds need only roles/cloudbuild.builds.builder (granted below)",
        "WARNING: once this run has finished, and if nothing else in the project relies on it:",
        f"WARNING:   gcloud projects remove-iam-policy-binding {project}"
        f" --member={member} --role={EDITOR}",
        "WARNING: (or build as an account of your own: BUILD_SERVICE_ACCOUNT in deploy.env)",
    ]


def _read_json(text: str) -> dict[str, Any] | None:
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deployment.preflight", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    domains = commands.add_parser("member-domains", help="the effective policy, on stdin")
    domains.add_argument("--project", required=True)
    build = commands.add_parser("build-account", help="the project's IAM policy, on stdin")
    build.add_argument("--project", required=True)
    build.add_argument("--account", required=True, help="the account Cloud Build builds as")
    build.add_argument("--compute-account", required=True, help="the default compute account")
    args = parser.parse_args(argv)
    given = _read_json(sys.stdin.read())
    if given is None:
        print(f"WARNING: gcloud's answer is no JSON object: {args.command} not checked")
        return 0
    if args.command == "member-domains":
        verdict = member_domains(given)
        if verdict.allowed:
            print(f"{MEMBER_DOMAINS}: {verdict.detail}")
        elif verdict.conditional:
            print(
                f"WARNING: {MEMBER_DOMAINS}: {verdict.detail}; if the public functions' allUsers"
                f" invoker is refused, the condition does not hold for this project ({GUIDE})"
            )
        else:
            print(f"deploy.sh: {refusal(args.project, verdict)}", file=sys.stderr)
            return REFUSED
        return 0
    lines = build_account_warning(
        given, project=args.project, account=args.account, compute_account=args.compute_account
    )
    print("\n".join(lines), end="\n" if lines else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
