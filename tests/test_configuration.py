"""The settings' declarations and their deployment manifest, against each other and
their readers: deploy.env.example, the README's table, and what deployment/plan.py
tells deploy.sh. No emulator, no gcloud."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from factoryops import config, store

from deployment import manifest, plan
from deployment.manifest import Source, Variable

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy.env.example"
ASSIGNMENT = re.compile(r"([A-Z][A-Z0-9_]*)=(.*)")
PROJECT = "demo-factoryops"


def example() -> list[tuple[str, str, bool]]:
    """deploy.env.example's (key, value, under a "(defaults shown)" comment), in order."""
    found = []
    defaults_shown = False
    for line in EXAMPLE.read_text().splitlines():
        if not line.strip():
            defaults_shown = False
        elif line.startswith("#"):
            defaults_shown = defaults_shown or "(defaults shown)" in line
        else:
            match = ASSIGNMENT.fullmatch(line)
            assert match, f"deploy.env.example: not KEY=VALUE: {line!r}"
            found.append((match[1], match[2], defaults_shown))
    return found


def by_name() -> dict[str, Variable]:
    return {v.env: v for v in (*manifest.variables(), *plan.file_settings())}


# -- the declarations and the manifest ---------------------------------------------------


def test_every_declared_setting_has_a_manifest_entry_and_every_entry_a_declaration() -> None:
    declared = {s.env for s in config.declared()}
    unplaced = sorted(declared - set(manifest.MANIFEST))
    assert unplaced == [], f"no entry in deployment/manifest.py for {', '.join(unplaced)}"
    undeclared = sorted(set(manifest.MANIFEST) - declared)
    assert undeclared == [], f"deployment/manifest.py names undeclared {', '.join(undeclared)}"


def test_the_manifest_names_functions_settings_and_secrets_that_exist() -> None:
    declared = {s.env for s in config.declared()}
    for name, deploy in manifest.MANIFEST.items():
        assert deploy.functions and set(deploy.functions) <= set(config.FUNCTIONS), name
        assert not deploy.when or (deploy.secret and deploy.when in declared), name
    for name in manifest.GENERATED_SECRETS:
        assert manifest.MANIFEST[name].secret, name
    own = [v.env for v in (*manifest.DEPLOYMENT_SETTINGS, *manifest.secret_files())]
    assert len(set(own)) == len(own) and not set(own) & declared


def test_every_secret_is_private_where_the_functions_read_it() -> None:
    for variable in manifest.variables():
        if variable.deploy.secret:
            assert variable.setting.private, variable.env


def test_a_conditional_secret_is_needed_only_when_its_condition_holds() -> None:
    private_key = manifest.MANIFEST["EMAILJS_PRIVATE_KEY"]
    assert not private_key.needed({}) and not private_key.needed({"EMAILJS_SERVICE_ID": " "})
    assert private_key.needed({"EMAILJS_SERVICE_ID": "s"})
    assert manifest.MANIFEST["RATE_LIMIT_KEY"].needed({})
    assert manifest.MANIFEST["CRM_APPS_SCRIPT_URL"].needed({})


def test_no_function_code_imports_the_deployment_package() -> None:
    # The functions import factoryops.config on every cold start; the manifest stays out.
    sources = [*(ROOT / "lib" / "factoryops").rglob("*.py"), *(ROOT / "functions").glob("*/*.py")]
    assert sources
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "deployment" for n in names), source


# -- deploy.env.example and the README -----------------------------------------------------


def test_the_example_names_only_keys_a_settings_file_may_hold() -> None:
    allowed = {s.env for s in plan.file_settings()}
    keys = [key for key, _, _ in example()]
    assert len(keys) == len(set(keys)), "a key is listed twice"
    for key in keys:
        variable = by_name().get(key)
        reason = plan.refusal(variable) if variable else "not declared"
        assert key in allowed, f"deploy.env.example lists {key}: {reason}"


def test_the_example_names_every_deployment_setting_and_secret_file() -> None:
    keys = {key for key, _, _ in example()}
    missing = [s.env for s in plan.file_settings() if s.env not in keys]
    assert missing == [], f"deploy.env.example does not list {', '.join(missing)}"


def test_defaults_the_example_shows_are_the_declared_defaults() -> None:
    shown = [(key, value) for key, value, defaults in example() if defaults]
    assert shown, 'deploy.env.example has no "(defaults shown)" block'
    for key, value in shown:
        default = plan.shown_default(by_name()[key].setting)
        assert value, f"{key} is under '(defaults shown)' without a value"
        assert value == default, (
            f"deploy.env.example shows {key}={value}; the declared default is {default}"
        )


def test_the_example_passes_the_checks_deploy_sh_makes(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text(EXAMPLE.read_text())
    made = plan.make(plan.read(env_file, {}), PROJECT)
    assert made.from_file == len(example())


def test_the_readme_table_is_rendered_from_the_declarations() -> None:
    table = plan.readme_table((ROOT / "README.md").read_text())
    assert table == plan.configuration_table(), (
        "README.md's configuration table differs from the declarations in "
        f"factoryops.config and deployment.manifest; regenerate it: {plan.REGENERATE}"
    )


def test_the_readme_table_has_a_row_per_setting() -> None:
    table = plan.configuration_table().splitlines()
    variables = (*manifest.variables(), *manifest.DEPLOYMENT_SETTINGS, *manifest.secret_files())
    assert len(table) == 2 + len(variables)
    for row, variable in zip(table[2:], variables, strict=True):
        assert row.startswith(f"| `{variable.env}` | {variable.setting.meaning} |")


# -- what deployment/plan.py answers ------------------------------------------------------


def settings_file(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "deploy.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def make(tmp_path: Path, environ: dict[str, str] | None = None, **values: str) -> plan.Plan:
    values.setdefault("ALLOWED_ORIGINS", "https://factoryopsai.com")
    return plan.make(plan.read(settings_file(tmp_path, **values), environ or {}), PROJECT)


@pytest.mark.parametrize(
    "name",
    [name for name, deploy in manifest.MANIFEST.items() if deploy.source is not Source.DEPLOY_ENV],
)
def test_a_setting_with_no_place_in_deploy_env_is_refused_with_the_reason(
    tmp_path: Path, name: str
) -> None:
    path = settings_file(tmp_path, ALLOWED_ORIGINS="https://a.example", **{name: "x-42"})
    with pytest.raises(plan.Refused) as refused:
        plan.read(path, {})
    message = str(refused.value)
    assert message.startswith(f"{path}:2: {name} ")
    if manifest.MANIFEST[name].secret:
        assert "lives in Secret Manager" in message
    else:
        assert "is not a deployment setting" in message
    assert "x-42" not in message


def test_an_unknown_key_a_bad_line_and_a_control_character_are_refused(tmp_path: Path) -> None:
    with pytest.raises(plan.Refused, match=r":1: unknown setting ALLOWED_ORIGIN$"):
        plan.read(settings_file(tmp_path, ALLOWED_ORIGIN="https://a.example"), {})
    (tmp_path / "bad.env").write_text("# comment\n\nallowed_origins=x\n")
    with pytest.raises(plan.Refused, match=r"bad.env:3: expected KEY=VALUE"):
        plan.read(tmp_path / "bad.env", {})
    with pytest.raises(plan.Refused, match="EMAILJS_SERVICE_ID holds a control character"):
        plan.read(None, {"EMAILJS_SERVICE_ID": "service\tOld"})


def test_quotes_export_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "deploy.env"
    path.write_text("export EMAILJS_SERVICE_ID='service 2026'\r\nSITE_URL=\"https://a.example\"\n")
    given = plan.read(path, {"SITE_URL": "https://b.example", "SWEEP_AUTH": "off"})
    assert given.values == {"EMAILJS_SERVICE_ID": "service 2026", "SITE_URL": "https://b.example"}
    assert given.origin == {"EMAILJS_SERVICE_ID": "file", "SITE_URL": "environment"}


def test_required_settings_bad_values_and_instance_limits_are_refused(tmp_path: Path) -> None:
    required = [v for v in manifest.variables() if v.deploy.required]
    assert required
    for variable in required:
        with pytest.raises(plan.Refused, match=f"^{variable.env} is required"):
            plan.make(plan.read(None, {}), PROJECT)
    with pytest.raises(plan.Refused, match=r"^setting RETENTION_DAYS: expected a whole number"):
        make(tmp_path, RETENTION_DAYS="two years")
    with pytest.raises(plan.Refused, match=r"^setting MAX_INSTANCES_CHAT_MESSAGE: "):
        make(tmp_path, MAX_INSTANCES_CHAT_MESSAGE="0")


def test_each_function_gets_only_the_settings_it_reads(tmp_path: Path) -> None:
    made = make(tmp_path, CONTACT_RATE_LIMIT="3/60", CHAT_MAX_MESSAGES="50", SITE_URL="https://a.b")
    env = {f.name: f.env for f in made.functions}
    assert "CONTACT_RATE_LIMIT" in env[config.CONTACT]
    assert "CHAT_MAX_MESSAGES" not in env[config.CONTACT]
    assert "CHAT_MAX_MESSAGES" in env[config.CHAT]
    assert "ALLOWED_ORIGINS" not in env[config.SWEEP]
    assert "SWEEP_AUDIENCE" in env[config.SWEEP] and "SWEEP_INVOKER" in env[config.SWEEP]
    assert "CONSOLE_URL" in env[config.SWEEP]
    # The console prints per-lead links; the sweep's reply emails link to the page.
    site_readers = [name for name, names in env.items() if "SITE_URL" in names]
    assert site_readers == [config.CONSOLE, config.SWEEP]
    assert all(names[0] == "GOOGLE_CLOUD_PROJECT" for names in env.values())
    # Unset settings are left out, for the code's defaults.
    assert "EMAILJS_SERVICE_ID" not in env[config.CONTACT]
    for name, names in env.items():
        for variable in names:
            deploy = by_name()[variable].deploy
            assert name in deploy.functions
            assert deploy.source in (Source.DEPLOY_ENV, Source.DEPLOY_SH)
    assert made.worked_out == (
        "GOOGLE_CLOUD_PROJECT",
        "SWEEP_AUDIENCE",
        "SWEEP_INVOKER",
        "SWEEP_AUTH",
        "CONSOLE_URL",
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {}),
        ({"EMAILJS_SERVICE_ID": "service_1"}, {"EMAILJS_PRIVATE_KEY": set(manifest.SENDERS)}),
    ],
)
def test_each_function_gets_the_secrets_it_reads_that_the_settings_call_for(
    tmp_path: Path, values: dict[str, str], expected: dict[str, set[str]]
) -> None:
    made = make(tmp_path, **values)
    given: dict[str, set[str]] = {}
    for fn in made.functions:
        for secret in fn.secrets:
            given.setdefault(secret, set()).add(fn.name)
    # The CRM is in every deployment.
    always = {
        # The console names the counters of its refused calls with it too.
        "RATE_LIMIT_KEY": set(manifest.PUBLIC) | {config.CONSOLE},
        # The recorders read the URL only to know whether a CRM is configured.
        "CRM_APPS_SCRIPT_URL": set(manifest.RECORDERS) | set(manifest.CRM_USERS),
        "CRM_APPS_SCRIPT_KEY": set(manifest.CRM_USERS),
        "PRIVACY_TRACE_KEY": {config.CONSOLE},
        "ALTCHA_HMAC_KEY": set(manifest.RECORDERS),
    }
    assert given == {**always, **expected}


def test_the_public_functions_store_and_the_senders_send(tmp_path: Path) -> None:
    every = {name: "x" for name in ("EMAILJS_SERVICE_ID", "EMAILJS_PUBLIC_KEY")}
    templates = ("EMAILJS_CONTACT_TEMPLATE_ID", "EMAILJS_CHAT_TEMPLATE_ID")
    made = make(tmp_path, **every, **dict.fromkeys(templates, "template_x"), NOTIFY_AFTER="60")
    functions = {f.name: f for f in made.functions}
    assert manifest.SENDERS == (config.SWEEP, config.FORWARDER)
    for name in manifest.RECORDERS:
        # They mark a channel `disabled` when it is not configured, and send nothing.
        assert {"EMAILJS_SERVICE_ID", "EMAILJS_PUBLIC_KEY"} <= set(functions[name].env)
        assert not set(templates) & set(functions[name].env), name
        assert "EMAILJS_PRIVATE_KEY" not in functions[name].secrets
        assert "CRM_APPS_SCRIPT_KEY" not in functions[name].secrets
        assert "CRM_APPS_SCRIPT_URL" in functions[name].secrets
    assert "NOTIFY_AFTER" in functions[config.CHAT].env  # the nudge is scheduled there
    forwarder = functions[config.FORWARDER]
    assert set(templates) <= set(forwarder.env) and "NOTIFY_AFTER" not in forwarder.env
    assert set(forwarder.secrets) == {
        "EMAILJS_PRIVATE_KEY",
        "CRM_APPS_SCRIPT_URL",
        "CRM_APPS_SCRIPT_KEY",
    }
    assert forwarder.events and not forwarder.public and forwarder.concurrency == 4
    assert [f.name for f in made.functions if f.concurrency is not None] == [config.FORWARDER]


def test_the_triggers_are_the_events_the_forwarder_handles() -> None:
    from factoryops import forwarding

    assert {t.collection for t in manifest.TRIGGERS} == set(forwarding.SOURCES)
    for trigger in manifest.TRIGGERS:
        assert trigger.function == config.FORWARDER in manifest.EVENT_DRIVEN
        kind = trigger.event.removeprefix(forwarding.EVENT_PREFIX)
        assert trigger.event.startswith(forwarding.EVENT_PREFIX)
        assert kind in forwarding.EVENT_TYPES
    kinds = {t.collection: t.event.rsplit(".", 1)[1] for t in manifest.TRIGGERS}
    # A released post, and a chat's first message, come as updates.
    assert kinds == {store.CONTACT_SUBMISSIONS: "written", store.CHAT_SESSIONS: "written"}
    # The local stand-in of Eventarc delivers what deploy.sh's triggers do.
    from devstack import eventarc

    assert {(t.event_type, t.collection) for t in eventarc.TRIGGERS} == {
        (t.event, t.collection) for t in manifest.TRIGGERS
    }


def test_the_forwarders_concurrency_is_bounded(tmp_path: Path) -> None:
    assert make(tmp_path, CONCURRENCY_FORWARD_RECORD="2").functions[-1].concurrency == 2
    with pytest.raises(plan.Refused, match=r"CONCURRENCY_FORWARD_RECORD: must be at most 8"):
        make(tmp_path, CONCURRENCY_FORWARD_RECORD="20")
    with pytest.raises(plan.Refused, match=r"CONCURRENCY_FORWARD_RECORD: must be at least 1"):
        make(tmp_path, CONCURRENCY_FORWARD_RECORD="0")


def test_the_records_deploy_sh_reads(tmp_path: Path) -> None:
    made = make(tmp_path, {"EMAILJS_SERVICE_ID": "service 2026"}, MAX_INSTANCES_CHAT_MESSAGE="7")
    records = [line.split("\t") for line in made.records()]
    keyed = ("max_instances", "concurrency", "env", "secrets", "unready", "trigger", "value")
    assert all(len(r) == (3 if r[0] in keyed else 2) for r in records)
    first = {r[0]: r[1] for r in records if len(r) == 2}
    assert first["functions"].split() == list(config.FUNCTIONS)
    assert first["public"].split() == list(manifest.PUBLIC)
    assert first["team"].split() == list(manifest.TEAM_TOOLS)
    assert first["events"].split() == list(manifest.EVENT_DRIVEN)
    assert {r[1]: r[2] for r in records if r[0] == "concurrency"} == {config.FORWARDER: "4"}
    triggers = {r[1]: r[2].split(" ") for r in records if r[0] == "trigger"}
    assert triggers == {t.name: [t.function, t.event, t.document] for t in manifest.TRIGGERS}
    assert first["private"] == "TEAM_EMAILS TEAM_INBOX"
    assert first["generated_secrets"].split() == list(manifest.GENERATED_SECRETS)
    assert first["from_environment"] == "EMAILJS_SERVICE_ID"
    limits = {r[1]: r[2] for r in records if r[0] == "max_instances"}
    defaults = {v.env: v.setting.default for v in manifest.DEPLOYMENT_SETTINGS}
    assert limits == {
        fn: "7" if fn == config.CHAT else defaults[f"MAX_INSTANCES_{fn.upper()}"]
        for fn in config.FUNCTIONS
    }
    assert ["value", "EMAILJS_SERVICE_ID", "service 2026"] in records


def test_generated_secrets_siteadmin_reads_are_made_whatever_is_deployed(tmp_path: Path) -> None:
    made = make(tmp_path)
    assert made.standalone_secrets == ("PRIVACY_TRACE_KEY",)
    # Of the functions, only the console reads it, as siteadmin does.
    readers = [fn.name for fn in made.functions if "PRIVACY_TRACE_KEY" in fn.secrets]
    assert readers == [config.CONSOLE]
    records = dict(line.split("\t", 1) for line in made.records() if line.count("\t") == 1)
    assert records["standalone_secrets"] == "PRIVACY_TRACE_KEY"


def test_what_the_console_needs_to_start_is_what_it_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryops import console

    needed = plan.NEEDED_TO_START[config.CONSOLE]
    given = {"TEAM_OAUTH_CLIENT_ID": "1-x.apps.googleusercontent.com", "TEAM_EMAILS": "a@b.co"}
    assert set(given) == set(needed)
    for name in ("FIRESTORE_EMULATOR_HOST", *needed):
        monkeypatch.delenv(name, raising=False)
    for left_out in needed:
        for name, value in given.items():
            if name == left_out:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        config.reset()
        with pytest.raises(config.ConfigError) as refused:
            console.check_startup()
        assert refused.value.name == left_out
        [unready] = [
            f.unready for f in make(tmp_path, **{**given, left_out: ""}).functions if f.team
        ]
        assert unready == (left_out,)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    config.reset()
    console.check_startup()
    assert all(not f.unready for f in make(tmp_path, **given).functions)
    config.reset()


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("ops@factoryopsai.com", False),
        ("ops", True),
        ("Ops <ops@a.com>", True),
        ("a@b.c,d@e.f", True),
    ],
)
def test_alert_email_is_one_address(tmp_path: Path, value: str, refused: bool) -> None:
    if refused:
        with pytest.raises(plan.Refused, match=r"^setting ALERT_EMAIL: expected one email address"):
            make(tmp_path, ALERT_EMAIL=value)
    else:
        assert make(tmp_path, ALERT_EMAIL=value).values["ALERT_EMAIL"] == value
