"""What deploy.sh asks of the settings' declarations.

deploy.sh keeps no list of settings, functions or collection groups. Before it changes
anything it runs, once,

    python3 -m deployment.plan records --project ID --env-file FILE

which reads the settings file and the environment (which wins) through the
declarations in `factoryops.config` and the manifest beside this module
(`deployment.manifest`), refuses what has no place in a settings file,
checks every value as the functions will (`config.from_env`), and answers with
tab-separated records (`Plan.records`): the functions, the variables and secrets each
one gets (only those it reads), their instance and concurrency limits, the settings a
function would refuse to start without that are unset, the Eventarc triggers of the
forwarder, and the TTL groups of `factoryops.store`. A refusal is printed for
deploy.sh's user, with status `REFUSED`.

    python3 -m deployment.plan readme-table [--write]

prints the README's configuration table, rendered from the same declarations and
manifest, or writes it into README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from factoryops import config, store
from factoryops.config import ConfigError, Setting

from deployment import manifest
from deployment.manifest import Deploy, Source, Variable

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_SECTION = "## Configuration"
REGENERATE = "PYTHONPATH=lib python3 -m deployment.plan readme-table --write"
REFUSED = 3
"""Exit status when the settings are refused; the reason is on stderr."""

_SKIPPED = re.compile(r"\s*(#.*)?")
_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)")
_QUOTED = re.compile(r"\"(.*)\"|'(.*)'")


class Refused(Exception):
    """Settings deploy.sh will not deploy with; the message says why, never a value."""


NEEDED_TO_START = {config.CONSOLE: ("TEAM_OAUTH_CLIENT_ID", "TEAM_EMAILS")}
"""The settings a function refuses to start without (`console.check_startup`, which
this module cannot import: it runs on the deployer's python3, standard library only).
A deployment of the function without them would fail its health check half way
through a run; deploy.sh stops before changing anything instead. A test holds the two
together."""


# -- what a settings file may hold ---------------------------------------------------


def file_settings() -> tuple[Variable, ...]:
    """The settings deploy.env may hold: the functions' plain ones, deploy.sh's own, and
    a file for each secret the team supplies."""
    plain = tuple(v for v in manifest.variables() if v.deploy.source is Source.DEPLOY_ENV)
    return (*plain, *manifest.DEPLOYMENT_SETTINGS, *manifest.secret_files())


def refusal(variable: Variable) -> str:
    """Why a variable has no place in deploy.env, or "" when it has one."""
    name, source = variable.env, variable.deploy.source
    if source is Source.SECRET:
        if name in manifest.GENERATED_SECRETS:
            how = "deploy.sh generates it"
        else:
            how = f"set {name}_FILE to a file holding it, or answer the prompt"
        return f"{name} is a secret: it lives in Secret Manager, never in a settings file ({how})"
    if source is Source.LOCAL:
        return f"{name} is not a deployment setting (it is for the emulator and tests)"
    if source is Source.DEPLOY_SH:
        return f"{name} is not a deployment setting (deploy.sh sets it)"
    return ""


@dataclass
class Given:
    """The values the settings file and the environment give, by variable."""

    values: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    """"file" or "environment", for the plan's header."""


def read(env_file: Path | None, environ: Mapping[str, str]) -> Given:
    """deploy.env's KEY=VALUE lines (quotes around a value dropped), then the environment."""
    allowed = {s.env for s in file_settings()}
    refused = {v.env: refusal(v) for v in manifest.variables() if refusal(v)}
    given = Given()
    if env_file is not None and env_file.is_file():
        try:
            text = env_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise Refused(f"{env_file}: not UTF-8 text") from None
        # Split on newlines only: a stray control character is refused below, not a line.
        for number, line in enumerate(text.split("\n"), 1):
            line = line.removesuffix("\r")
            if _SKIPPED.fullmatch(line):
                continue
            where = f"{env_file}:{number}"
            match = _ASSIGNMENT.fullmatch(line)
            if not match:
                raise Refused(f"{where}: expected KEY=VALUE")
            key, value = match.groups()
            if key in refused:
                raise Refused(f"{where}: {refused[key]}")
            if key not in allowed:
                raise Refused(f"{where}: unknown setting {key}")
            quoted = _QUOTED.fullmatch(value)
            if quoted:
                value = next(part for part in quoted.groups() if part is not None)
            given.values[key] = value
            given.origin[key] = "file"
    for variable in file_settings():
        if variable.env in environ:
            given.values[variable.env] = environ[variable.env]
            given.origin[variable.env] = "environment"
    for key, value in given.values.items():
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise Refused(f"{key} holds a control character")
    return given


# -- the plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    name: str
    public: bool
    max_instances: int
    env: tuple[str, ...]
    """The variables its env file holds, in declaration order: the plain settings it
    reads that have a value, and those deploy.sh works out."""
    secrets: tuple[str, ...]
    """The secrets it reads that these settings call for."""
    team: bool = False
    """One of the team's tools: reachable by anyone, it checks Google sign-in itself."""
    unready: tuple[str, ...] = ()
    """Settings it refuses to start without (`NEEDED_TO_START`) that are unset."""
    events: bool = False
    """Called by Eventarc only (`manifest.TRIGGERS`): private."""
    concurrency: int | None = None
    """The most requests one instance serves at once, where the manifest bounds it."""


@dataclass(frozen=True)
class Plan:
    functions: tuple[Function, ...]
    values: dict[str, str]
    """Every non-empty value the settings file and the environment give."""
    from_file: int
    from_environment: tuple[str, ...]
    worked_out: tuple[str, ...]
    """The variables the functions read that deploy.sh itself works out."""
    standalone_secrets: tuple[str, ...] = ()
    """Generated secrets made whichever functions are deployed: `siteadmin` reads them
    from Secret Manager (PRIVACY_TRACE_KEY)."""
    private: tuple[str, ...] = ()
    """Plain settings the plan shows as `<omitted>` (the team's addresses): they reach
    the functions' env files but not the plan's output, which gets pasted around."""
    ttl_groups: tuple[str, ...] = store.TTL_GROUPS
    generated_secrets: tuple[str, ...] = manifest.GENERATED_SECRETS
    triggers: tuple[manifest.Trigger, ...] = manifest.TRIGGERS

    def records(self) -> list[str]:
        """One record a line, fields separated by tabs, lists by spaces: values hold
        neither a tab nor a newline (`read` refuses control characters)."""
        rows: list[tuple[str, ...]] = [
            ("functions", " ".join(f.name for f in self.functions)),
            ("public", " ".join(f.name for f in self.functions if f.public)),
            ("ttl_groups", " ".join(self.ttl_groups)),
            ("generated_secrets", " ".join(self.generated_secrets)),
            ("standalone_secrets", " ".join(self.standalone_secrets)),
            ("worked_out", " ".join(self.worked_out)),
            ("from_file", str(self.from_file)),
            ("from_environment", " ".join(self.from_environment)),
            ("team", " ".join(f.name for f in self.functions if f.team)),
            ("events", " ".join(f.name for f in self.functions if f.events)),
            ("private", " ".join(self.private)),
        ]
        for fn in self.functions:
            rows.append(("max_instances", fn.name, str(fn.max_instances)))
            if fn.concurrency is not None:
                rows.append(("concurrency", fn.name, str(fn.concurrency)))
            rows.append(("env", fn.name, " ".join(fn.env)))
            rows.append(("secrets", fn.name, " ".join(fn.secrets)))
            rows.append(("unready", fn.name, " ".join(fn.unready)))
        rows.extend(
            ("trigger", t.name, f"{t.function} {t.event} {t.document}") for t in self.triggers
        )
        rows.extend(("value", key, value) for key, value in self.values.items())
        return ["\t".join(row) for row in rows]


def declaration(field_name: str) -> Setting:
    """The declaration carried by one field of `config.Settings`."""
    for item in dataclasses.fields(config.Settings):
        if item.name == field_name:
            setting: Setting = item.metadata["setting"]
            return setting
    raise KeyError(field_name)


def max_instances(function: str, values: Mapping[str, str]) -> int:
    name = f"MAX_INSTANCES_{function.upper()}"
    own = next((v for v in manifest.DEPLOYMENT_SETTINGS if v.env == name), None)
    if own is None:
        raise Refused(f"{function} has no declared {name}")
    raw = values.get(name, "").strip() or str(own.setting.default)
    limit: int = config.whole()(name, raw)
    return limit


def concurrency(function: str, values: Mapping[str, str]) -> int | None:
    """CONCURRENCY_<FUNCTION>, for a function the manifest bounds; None for the others
    (Cloud Run's default)."""
    name = f"CONCURRENCY_{function.upper()}"
    own = next((v for v in manifest.DEPLOYMENT_SETTINGS if v.env == name), None)
    if own is None:
        return None
    raw = values.get(name, "").strip() or str(own.setting.default)
    limit: int = own.setting.parse(name, raw)
    return limit


def function(name: str, values: Mapping[str, str]) -> Function:
    """What one function gets: only what it reads, and of its secrets those the values
    call for."""
    reads = [v for v in manifest.variables() if name in v.deploy.functions]
    env = tuple(
        v.env
        for v in reads
        if v.deploy.source is Source.DEPLOY_SH
        or (v.deploy.source is Source.DEPLOY_ENV and values.get(v.env))
    )
    secrets = tuple(v.env for v in reads if v.deploy.secret and v.deploy.needed(values))
    unready = tuple(n for n in NEEDED_TO_START.get(name, ()) if not values.get(n, "").strip())
    return Function(
        name,
        name in manifest.PUBLIC,
        max_instances(name, values),
        env,
        secrets,
        team=name in manifest.TEAM_TOOLS,
        unready=unready,
        events=name in manifest.EVENT_DRIVEN,
        concurrency=concurrency(name, values),
    )


def make(given: Given, project: str) -> Plan:
    """Checks the values as the functions will read them, then what each function gets."""
    values = given.values
    declared = manifest.variables()
    for variable in declared:
        if variable.deploy.required and not values.get(variable.env, "").strip():
            raise Refused(f"{variable.env} is required: {variable.setting.meaning}")
    function_values = {
        v.env: values[v.env]
        for v in declared
        if v.deploy.source is Source.DEPLOY_ENV and v.env in values
    }
    try:
        config.from_env({**function_values, declaration("project").env: project})
        functions = tuple(function(name, values) for name in config.FUNCTIONS)
        for own in manifest.DEPLOYMENT_SETTINGS:
            if values.get(own.env, "").strip():
                own.setting.parse(own.env, values[own.env].strip())
    except ConfigError as exc:
        raise Refused(f"setting {exc}") from None
    return Plan(
        functions=functions,
        values={key: value for key, value in values.items() if value},
        from_file=sum(1 for origin in given.origin.values() if origin == "file"),
        from_environment=tuple(
            v.env for v in file_settings() if given.origin.get(v.env) == "environment"
        ),
        worked_out=tuple(v.env for v in declared if v.deploy.source is Source.DEPLOY_SH),
        standalone_secrets=standalone_secrets(values),
        private=tuple(
            v.env for v in declared if v.setting.private and v.deploy.source is Source.DEPLOY_ENV
        ),
    )


def standalone_secrets(values: Mapping[str, str]) -> tuple[str, ...]:
    """The generated secrets a deployment makes whichever functions it deploys: those
    read by no function or by the team's tools alone. `siteadmin` is the team's other
    tool, doing what the console does through the same library, and reads them from
    Secret Manager: it needs them even when the console is not deployed."""
    return tuple(
        v.env
        for v in manifest.variables()
        if v.deploy.secret
        and set(v.deploy.functions) <= set(manifest.TEAM_TOOLS)
        and v.env in manifest.GENERATED_SECRETS
        and v.deploy.needed(values)
    )


# -- the README's configuration table ------------------------------------------------


def _code(text: str) -> str:
    return f"`{text}`"


def _origin(variable: Variable) -> str:
    deploy = variable.deploy
    if deploy.secret:
        where = "Secret Manager"
        if variable.env in manifest.GENERATED_SECRETS:
            where += " (generated by `deploy.sh`)"
        if deploy.when:
            where += f", when {_code(deploy.when)} is set"
        return where
    return {
        Source.DEPLOY_ENV: "`deploy.env`",
        Source.DEPLOYMENT: "`deploy.env`",
        Source.DEPLOY_SH: "set by `deploy.sh`",
        Source.LOCAL: "local only (emulator, tests)",
    }[deploy.source]


def shown_default(setting: Setting) -> str:
    """A setting's default as deploy.env.example and the README write it."""
    if isinstance(setting.default, bool):
        return "on" if setting.default else "off"
    if isinstance(setting.default, tuple):
        return ",".join(setting.default)
    return str(setting.default)


def _default(variable: Variable) -> str:
    if variable.deploy.required:
        return "required"
    shown = shown_default(variable.setting)
    if not shown:
        return "unset"
    # A default written as words (what applies when unset) is prose, not a value.
    return shown if " " in shown else _code(shown)


def _readers(deploy: Deploy) -> str:
    if deploy.source is Source.DEPLOYMENT:
        return "`deploy.sh`"
    if deploy.functions == config.FUNCTIONS:
        return "all"
    return ", ".join(_code(name) for name in deploy.functions) or "—"


def every_variable() -> tuple[Variable, ...]:
    """The functions' settings, then deploy.sh's own: the README table's rows, in order."""
    return (*manifest.variables(), *manifest.DEPLOYMENT_SETTINGS, *manifest.secret_files())


def configuration_table() -> str:
    """The markdown table of every setting: the functions' and deploy.sh's own."""
    lines = [
        "| variable | meaning | default | from | read by |",
        "|---|---|---|---|---|",
    ]
    for variable in every_variable():
        cells = (
            _code(variable.env),
            variable.setting.meaning,
            _default(variable),
            _origin(variable),
            _readers(variable.deploy),
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _table_span(lines: list[str]) -> tuple[int, int]:
    """Where the first table of the configuration section starts and ends."""
    start = lines.index(README_SECTION + "\n")
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    end = first
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return first, end


def readme_table(readme: str) -> str:
    lines = readme.splitlines(keepends=True)
    first, end = _table_span(lines)
    return "".join(lines[first:end])


def with_table(readme: str, table: str) -> str:
    lines = readme.splitlines(keepends=True)
    first, end = _table_span(lines)
    return "".join([*lines[:first], table, *lines[end:]])


# -- command line --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deployment.plan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    records = commands.add_parser("records", help="deploy.sh's plan, as records")
    records.add_argument("--project", required=True)
    records.add_argument("--env-file", type=Path)
    table = commands.add_parser("readme-table", help="the README's configuration table")
    table.add_argument("--write", action="store_true", help=f"rewrite it in {README.name}")
    args = parser.parse_args(argv)
    if args.command == "records":
        try:
            plan = make(read(args.env_file, os.environ), args.project)
        except Refused as exc:
            print(f"deploy.sh: {exc}", file=sys.stderr)
            return REFUSED
        print("\n".join(plan.records()))
        return 0
    if args.write:
        README.write_text(with_table(README.read_text(encoding="utf-8"), configuration_table()))
    else:
        print(configuration_table(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
