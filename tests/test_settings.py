"""The settings: each declared once, parsed from the environment, redacted when logged."""

from __future__ import annotations

import dataclasses

import pytest
from factoryops import config
from factoryops.config import ConfigError, RateLimit, from_env

pytestmark = pytest.mark.unit

EMULATOR = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"}


def test_every_settings_field_carries_exactly_one_declaration_with_a_unique_variable() -> None:
    fields = dataclasses.fields(config.Settings)
    declared = config.declared()
    assert len(declared) == len(fields)
    names = [s.env for s in declared]
    assert len(set(names)) == len(names)
    for item, setting in zip(fields, declared, strict=True):
        assert item.default == setting.default, item.name
        assert setting.meaning and setting.env.isupper()


def test_an_empty_environment_gives_every_declared_default() -> None:
    loaded = from_env({})
    for item in dataclasses.fields(config.Settings):
        assert getattr(loaded, item.name) == item.metadata["setting"].default


def test_values_are_trimmed_and_parsed_into_their_types() -> None:
    loaded = from_env(
        {
            "ALLOWED_ORIGINS": " https://factoryopsai.com/ , http://localhost:8000 ,",
            "RETENTION_DAYS": " 365 ",
            "CONTACT_RATE_LIMIT": "3/60",
            "TRUSTED_PROXY_HOPS": "0",
            "SWEEP_AUTH": "On",
            "SITE_URL": "https://factoryopsai.com/",
            "TEAM_EMAILS": " Asha@FactoryOpsAI.com ,ravi@factoryopsai.com",
        }
    )
    assert loaded.allowed_origins == ("https://factoryopsai.com", "http://localhost:8000")
    assert loaded.retention_days == 365
    assert loaded.contact_rate_limit == RateLimit(3, 60)
    assert loaded.trusted_proxy_hops == 0
    assert loaded.sweep_auth == "on"
    assert loaded.site_url == "https://factoryopsai.com"
    assert loaded.team_emails == ("asha@factoryopsai.com", "ravi@factoryopsai.com")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("RETENTION_DAYS", "two years", "expected a whole number"),
        ("RETENTION_DAYS", "0", "at least 1"),
        ("RETENTION_DAYS", "731", "at most 730: the privacy notice keeps data up to two years"),
        ("TRUSTED_PROXY_HOPS", "-1", "at least 0"),
        ("CONTACT_RATE_LIMIT", "5", "COUNT/SECONDS"),
        ("CHAT_RATE_LIMIT", "0/60", "COUNT/SECONDS"),
        ("ACCESS_RATE_LIMIT", "a/b", "COUNT/SECONDS"),
        ("SWEEP_AUTH", "maybe", "one of on, iam, off"),
        ("ALLOWED_ORIGINS", "factoryopsai.com", "not an http(s) origin"),
        ("EMAILJS_ENDPOINT", "ftp://x", "an http(s) URL"),
        ("SITE_URL", "factoryopsai.com", "an http(s) URL"),
        ("TEAM_EMAILS", "asha@factoryopsai.com, \u212airan@factoryopsai.com", "email addresses"),
        ("TEAM_EMAILS", "asha\u200b@factoryopsai.com", "email addresses"),
    ],
)
def test_a_bad_value_fails_naming_its_variable(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env({**EMULATOR, name: value})
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}: ") and problem in str(caught.value)


def test_sweep_auth_off_is_refused_without_the_emulator() -> None:
    assert from_env({**EMULATOR, "SWEEP_AUTH": "off"}).sweep_auth == "off"
    with pytest.raises(ConfigError, match="SWEEP_AUTH"):
        from_env({"SWEEP_AUTH": "off"})


def test_sweep_auth_iam_is_taken_without_the_emulator_as_deployed() -> None:
    assert from_env({"SWEEP_AUTH": "IAM"}).sweep_auth == "iam"


def test_secrets_never_show_in_repr_and_are_omitted_when_logged() -> None:
    loaded = from_env(
        {
            "EMAILJS_PRIVATE_KEY": "private-key-value",
            "RATE_LIMIT_KEY": "rate-limit-key-value",
            "CRM_APPS_SCRIPT_URL": "https://script.google.com/macros/s/secret-id/exec",
            "EMAILJS_SERVICE_ID": "service_x",
        }
    )
    shown = repr(loaded)
    redacted = loaded.redacted()
    for secret in ("private-key-value", "rate-limit-key-value", "secret-id"):
        assert secret not in shown and secret not in str(redacted)
    assert redacted["EMAILJS_PRIVATE_KEY"] == config.OMITTED
    assert redacted["RATE_LIMIT_KEY"] == config.OMITTED
    assert redacted["EMAILJS_SERVICE_ID"] == "service_x"
    assert redacted["CONTACT_RATE_LIMIT"] == "5/600"
    assert set(redacted) == {s.env for s in config.declared()}


def test_the_crm_is_configured_by_its_web_app_alone() -> None:
    assert not from_env({}).crm_configured
    assert from_env({"CRM_APPS_SCRIPT_URL": "https://script.google.com/x/exec"}).crm_configured


def test_the_functions_settings_are_cached_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "100")
    config.reset()
    assert config.settings().retention_days == 100
    monkeypatch.setenv("RETENTION_DAYS", "200")
    assert config.settings().retention_days == 100
    config.reset()
    assert config.settings().retention_days == 200
