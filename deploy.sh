#!/usr/bin/env bash
# Deploys the FactoryOps AI website backend to Google Cloud.
#
#   ./deploy.sh --project ID [--region asia-south1] [--dry-run] [--only NAME...]
#   ./deploy.sh --stage NAME DEST   stage one function's bundle into DEST and stop
#
# Every step creates what is missing and updates what exists, so a run that stopped
# half way is finished by running it again. --dry-run prints every command, in order,
# and runs none. The functions' settings come from deploy.env (see deploy.env.example;
# DEPLOY_ENV_FILE names another file) and from the environment, which wins.
#
# A function's bundle is exactly: its main.py, the shared package, requirements.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUNCTIONS=(contact_submit chat_message access_grant retention_sweep)

die() { echo "deploy.sh: $*" >&2; exit 1; }

# The deployment uses associative arrays and mapfile; staging needs only bash 3.
if [[ "${1:-}" != "--stage" ]] &&
  ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  die "bash 4.4 or newer is required (macOS: brew install bash, then run it with that bash)"
fi

stage() {
  local name="$1" dest="$2"
  [[ -f "$ROOT/functions/$name/main.py" ]] || die "no function named '$name'"
  mkdir -p "$dest"
  cp "$ROOT/functions/$name/main.py" "$dest/main.py"
  cp "$ROOT/requirements.txt" "$dest/requirements.txt"
  rm -rf "$dest/factoryops"
  cp -R "$ROOT/lib/factoryops" "$dest/factoryops"
  find "$dest" -name '__pycache__' -type d -prune -exec rm -rf {} +
}

# --- what is deployed -------------------------------------------------------------

SWEEP=retention_sweep
SCHEDULER_ACCOUNT=sweep-scheduler
APIS=(cloudfunctions run cloudbuild artifactregistry firestore secretmanager
  cloudscheduler sheets iam logging firebaserules)
# Collection groups whose documents carry `expire_at`: the TTL backstop.
TTL_GROUPS=(contact_submissions chat_sessions messages access_grants idempotency_keys
  rate_limits privacy_requests)
# Plain settings, given to every function as environment variables. Secrets never are.
SETTINGS=(ALLOWED_ORIGINS SITE_URL EMAILJS_ENDPOINT EMAILJS_SERVICE_ID EMAILJS_PUBLIC_KEY
  EMAILJS_CONTACT_TEMPLATE_ID EMAILJS_CHAT_TEMPLATE_ID CRM_BACKEND CRM_SPREADSHEET_ID
  CRM_SHEET_NAME RETENTION_DAYS MAX_DELIVERY_ATTEMPTS CONTACT_RATE_LIMIT CHAT_RATE_LIMIT
  ACCESS_RATE_LIMIT MAX_BODY_BYTES TRUSTED_PROXY_HOPS CONTACT_REDIRECT_URL CHAT_MAX_MESSAGES)
# Settings of the deployment itself.
KNOBS=(EMAILJS_PRIVATE_KEY_FILE CRM_APPS_SCRIPT_URL_FILE BUILD_SERVICE_ACCOUNT
  MAX_INSTANCES_CONTACT_SUBMIT MAX_INSTANCES_CHAT_MESSAGE MAX_INSTANCES_ACCESS_GRANT
  MAX_INSTANCES_RETENTION_SWEEP)
# Secrets live in Secret Manager only; RATE_LIMIT_KEY is generated, the others supplied.
SECRETS=(RATE_LIMIT_KEY EMAILJS_PRIVATE_KEY CRM_APPS_SCRIPT_URL)
# Settings that only make sense against the emulator or in tests.
LOCAL_ONLY=(FIRESTORE_EMULATOR_HOST SWEEP_AUTH SWEEP_CERTS_URL SHEETS_ENDPOINT
  SWEEP_AUDIENCE SWEEP_INVOKER GOOGLE_CLOUD_PROJECT)

RETENTION_JOB=retention-sweep-nightly
RETENTION_SCHEDULE="30 2 * * *"
DELIVERIES_JOB=retention-sweep-deliveries
DELIVERIES_SCHEDULE="*/10 * * * *"
TIME_ZONE=Asia/Kolkata
SWEEP_TIMEOUT=540s
PENDING_AUDIENCE=https://audience-pending.invalid

max_instances_default() {
  case "$1" in
    contact_submit) echo 10 ;;
    chat_message) echo 20 ;;
    access_grant) echo 10 ;;
    # Two, so that a deliveries run that starts during a long nightly run is served
    # rather than refused; two sweeps never send the same thing.
    retention_sweep) echo 2 ;;
  esac
}

is_public() { [[ "$1" != "$SWEEP" ]]; }

# The secrets a function reads, given the settings.
function_secrets() {
  local out=()
  case "$1" in
    contact_submit | chat_message | access_grant) out+=(RATE_LIMIT_KEY) ;;
  esac
  case "$1" in
    contact_submit | chat_message | retention_sweep)
      [[ -z "${CONF[EMAILJS_SERVICE_ID]}" ]] || out+=(EMAILJS_PRIVATE_KEY)
      [[ "${CONF[CRM_BACKEND]}" != apps_script ]] || out+=(CRM_APPS_SCRIPT_URL)
      ;;
  esac
  echo "${out[*]}"
}

uses_crm_sheet() {
  [[ "${CONF[CRM_BACKEND]}" == sheets && "$1" != access_grant ]]
}

account_id() { echo "fn-${1//_/-}"; }
account_email() { echo "$1@$PROJECT.iam.gserviceaccount.com"; }
function_account() { account_email "$(account_id "$1")"; }
scheduler_account() { account_email "$SCHEDULER_ACCOUNT"; }

# --- arguments --------------------------------------------------------------------

usage() {
  cat <<EOF
usage: ./deploy.sh --project ID [--region asia-south1] [--dry-run] [--only NAME...]
       ./deploy.sh --stage NAME DEST

  --project ID     the Google Cloud project to deploy to
  --region R       region of the functions, Firestore and Scheduler (default asia-south1)
  --dry-run        print every command in order and run none (needs no gcloud login)
  --only NAME...   deploy only these functions: ${FUNCTIONS[*]}
  --stage NAME DEST  copy one function's bundle into DEST and stop

Settings come from deploy.env (or the file DEPLOY_ENV_FILE names) and the environment.
EOF
}

usage_error() {
  echo "deploy.sh: $*" >&2
  usage >&2
  exit 2
}

PROJECT=""
REGION=asia-south1
DRY=0
SELECTED=()

parse_args() {
  local name
  while (($#)); do
    case "$1" in
      --project | --region)
        [[ $# -ge 2 && -n "$2" && "$2" != -* ]] || usage_error "$1 needs a value"
        if [[ "$1" == --project ]]; then PROJECT="$2"; else REGION="$2"; fi
        shift 2
        ;;
      --project=* | --region=*)
        [[ -n "${1#*=}" ]] || usage_error "${1%%=*} needs a value"
        if [[ "$1" == --project=* ]]; then PROJECT="${1#*=}"; else REGION="${1#*=}"; fi
        shift
        ;;
      --dry-run)
        DRY=1
        shift
        ;;
      --only)
        shift
        [[ $# -ge 1 && "$1" != -* ]] || usage_error "--only needs at least one function name"
        while (($#)) && [[ "$1" != -* ]]; do
          SELECTED+=("$1")
          shift
        done
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) usage_error "unknown argument '$1'" ;;
    esac
  done
  [[ -n "$PROJECT" ]] || usage_error "--project is required"
  [[ "$PROJECT" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] ||
    usage_error "'$PROJECT' is not a Google Cloud project id"
  [[ "$REGION" =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || usage_error "'$REGION' is not a region"
  if ((${#SELECTED[@]} == 0)); then
    SELECTED=("${FUNCTIONS[@]}")
  else
    for name in "${SELECTED[@]}"; do
      [[ " ${FUNCTIONS[*]} " == *" $name "* ]] ||
        usage_error "--only: no function named '$name' (known: ${FUNCTIONS[*]})"
    done
    # Deploy in the fixed order whatever the order given, each function once.
    local ordered=()
    for name in "${FUNCTIONS[@]}"; do
      [[ " ${SELECTED[*]} " != *" $name "* ]] || ordered+=("$name")
    done
    SELECTED=("${ordered[@]}")
  fi
}

selected() { [[ " ${SELECTED[*]} " == *" $1 "* ]]; }

# --- settings ---------------------------------------------------------------------

declare -A CONF=() ORIGIN=()
ENV_FILE=""

known_key() {
  local all=" ${SETTINGS[*]} ${KNOBS[*]} "
  [[ "$all" == *" $1 "* ]]
}

load_settings() {
  ENV_FILE="${DEPLOY_ENV_FILE:-$ROOT/deploy.env}"
  local line key value n=0 k
  for k in "${SETTINGS[@]}" "${KNOBS[@]}"; do CONF[$k]=""; done
  if [[ -f "$ENV_FILE" ]]; then
    while IFS= read -r line || [[ -n "$line" ]]; do
      n=$((n + 1))
      line="${line%$'\r'}"
      [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
      [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Z][A-Z0-9_]*)=(.*)$ ]] ||
        die "$ENV_FILE:$n: expected KEY=VALUE"
      key="${BASH_REMATCH[2]}"
      value="${BASH_REMATCH[3]}"
      if [[ " ${SECRETS[*]} " == *" $key "* ]]; then
        die "$ENV_FILE:$n: $key is a secret: it lives in Secret Manager, never in a" \
          "settings file (set ${key}_FILE to a file holding it, or answer the prompt)"
      fi
      if [[ " ${LOCAL_ONLY[*]} " == *" $key "* ]]; then
        die "$ENV_FILE:$n: $key is not a deployment setting (it is local-only or set by deploy.sh)"
      fi
      known_key "$key" || die "$ENV_FILE:$n: unknown setting $key"
      if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
        value="${BASH_REMATCH[1]}"
      fi
      CONF[$key]="$value"
      ORIGIN[$key]="file"
    done <"$ENV_FILE"
  fi
  for k in "${SETTINGS[@]}" "${KNOBS[@]}"; do
    if [[ -n "${!k+set}" ]]; then
      CONF[$k]="${!k}"
      ORIGIN[$k]=environment
    fi
  done
  for k in "${SETTINGS[@]}"; do
    [[ "${CONF[$k]}" != *[[:cntrl:]]* ]] || die "$k holds a control character"
  done
}

# Fails with the variable's name when factoryops.config would refuse a value, so a bad
# setting stops the deployment instead of the first request.
check_settings() {
  [[ -n "${CONF[ALLOWED_ORIGINS]}" ]] ||
    die "ALLOWED_ORIGINS is required: the site's origins, e.g. https://factoryopsai.com"
  if [[ "${CONF[CRM_BACKEND]}" == sheets && -z "${CONF[CRM_SPREADSHEET_ID]}" ]]; then
    die "CRM_BACKEND=sheets needs CRM_SPREADSHEET_ID"
  fi
  local k n
  for k in "${FUNCTIONS[@]}"; do
    n="MAX_INSTANCES_${k^^}"
    [[ -z "${CONF[$n]}" || "${CONF[$n]}" =~ ^[1-9][0-9]*$ ]] || die "$n: expected a whole number"
  done
  if ! command -v python3 >/dev/null 2>&1; then
    ((DRY)) || die "python3 is required (settings check, rules and index files)"
    note "WARNING: python3 not found: settings not checked against factoryops.config"
    return
  fi
  local pairs=("GOOGLE_CLOUD_PROJECT=$PROJECT") problem status=0
  for k in "${SETTINGS[@]}"; do
    [[ -z "${CONF[$k]}" ]] || pairs+=("$k=${CONF[$k]}")
  done
  problem="$(python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
from factoryops.config import ConfigError, from_env
try:
    from_env(dict(pair.split("=", 1) for pair in sys.argv[2:]))
except ConfigError as exc:
    print(exc)
    sys.exit(3)
' "$ROOT/lib" "${pairs[@]}" 2>&1)" || status=$?
  case "$status" in
    0) ;;
    3) die "setting ${problem}" ;;
    *) die "could not check the settings with factoryops.config (python3 3.11+?): ${problem##*$'\n'}" ;;
  esac
}

# --- printing and running ---------------------------------------------------------

say() { printf '%s\n' "$*"; }
note() { say "# $*"; }
section() {
  STEP=$((STEP + 1))
  say ""
  say "## $STEP. $*"
}
STEP=0

# Shell-quotes only where needed, so that the plan reads like the commands it names.
# <...> stays bare: it marks a value known only at run time.
quote() {
  local out=() a safe='^[A-Za-z0-9_./:=@,+%<>-]+$'
  for a in "$@"; do
    if [[ "$a" =~ $safe ]]; then
      out+=("$a")
    else
      out+=("'${a//\'/\'\\\'\'}'")
    fi
  done
  say "${out[*]}"
}

INDENT=""
branch() { if ((DRY)); then INDENT="  "; fi; }
show() { say "+ ${INDENT}$(quote "$@")"; }
run() {
  show "$@"
  ((DRY)) || "$@"
}
run_quiet() {
  show "$@"
  ((DRY)) || "$@" >/dev/null
}

# capture VAR PLACEHOLDER CMD...: VAR gets the command's output (PLACEHOLDER in a dry run).
capture() {
  local var="$1" placeholder="$2" out
  shift 2
  show "$@"
  if ((DRY)); then
    out="$placeholder"
  else
    out="$("$@")"
  fi
  printf -v "$var" '%s' "$out"
}

# Like capture, but a failing command (nothing to describe yet) leaves VAR empty.
capture_or_empty() {
  local var="$1" placeholder="$2" out=""
  shift 2
  show "$@"
  if ((DRY)); then
    out="$placeholder"
  else
    out="$("$@" 2>/dev/null)" || out=""
  fi
  printf -v "$var" '%s' "$out"
}

# ensure DESCRIBE... -- CREATE... [-- UPDATE...]: create what is missing, update what
# exists. A dry run prints both branches.
ensure() {
  local describe=() create=() update=() part=0 arg
  for arg in "$@"; do
    if [[ "$arg" == -- ]]; then
      part=$((part + 1))
    elif ((part == 0)); then
      describe+=("$arg")
    elif ((part == 1)); then
      create+=("$arg")
    else
      update+=("$arg")
    fi
  done
  show "${describe[@]}"
  if ((DRY)); then
    INDENT="  "
    if ((${#update[@]})); then
      say "  # if it exists:"
      show "${update[@]}"
    fi
    say "  # if it is missing:"
    show "${create[@]}"
    INDENT=""
  elif "${describe[@]}" >/dev/null 2>&1; then
    if ((${#update[@]})); then run "${update[@]}"; fi
  else
    run "${create[@]}"
  fi
}

# --- steps ------------------------------------------------------------------------

P=()    # --project=ID: every command names its project, whatever gcloud's default is
WORK="" # bundles and generated files; removed on exit
declare -A VERSION=()
SWEEP_URL=""

header() {
  local fn kinds=() from_file=() from_env=() k
  for fn in "${SELECTED[@]}"; do
    if is_public "$fn"; then kinds+=("$fn (public)"); else kinds+=("$fn (private: Cloud Scheduler only)"); fi
  done
  for k in "${SETTINGS[@]}" "${KNOBS[@]}"; do
    case "${ORIGIN[$k]:-}" in
      file) from_file+=("$k") ;;
      environment) from_env+=("$k") ;;
    esac
  done
  if ((DRY)); then
    note "deploy.sh plan (dry run: nothing below is run; <...> is a value known at run time)"
  else
    note "deploy.sh: deploying"
  fi
  note "project $PROJECT, region $REGION"
  local joined
  joined="$(printf '%s, ' "${kinds[@]}")"
  note "functions: ${joined%, }"
  if [[ -f "$ENV_FILE" ]]; then
    note "settings file: ${ENV_FILE#"$ROOT/"} (${#from_file[@]} settings)"
  else
    note "settings file: ${ENV_FILE#"$ROOT/"} not found"
  fi
  ((${#from_env[@]} == 0)) || note "from the environment (wins over the file): ${from_env[*]}"
  if [[ "$REGION" != asia-south1 ]]; then
    note "WARNING: the privacy notice says the data lives in asia-south1, not $REGION"
  fi
  ((DRY)) || note "gcloud runs with CLOUDSDK_CORE_DISABLE_PROMPTS=1"
}

prerequisites() {
  section "Prerequisites"
  local missing=() fn
  for fn in "${SELECTED[@]}"; do
    [[ -f "$ROOT/functions/$fn/main.py" ]] || missing+=("functions/$fn/main.py")
  done
  [[ -f "$ROOT/firestore.rules" ]] || missing+=("firestore.rules")
  if ((DRY)); then
    note "checked on a real run (a failure stops it before anything changes):"
    show command -v gcloud curl python3
    show gcloud auth list --filter=status:ACTIVE "--format=value(account)"
    show gcloud projects describe "$PROJECT" "--format=value(projectNumber)"
    for fn in "${missing[@]}"; do
      note "WARNING: $fn is missing: a real run stops here"
    done
    check_settings
    note "settings checked with factoryops.config"
    return
  fi
  ((${#missing[@]} == 0)) || die "missing from the checkout: ${missing[*]}"
  command -v gcloud >/dev/null 2>&1 ||
    die "gcloud not found: install the Google Cloud CLI (README.md, Prerequisites)"
  command -v curl >/dev/null 2>&1 || die "curl not found"
  check_settings
  local account
  capture account "" gcloud auth list --filter=status:ACTIVE "--format=value(account)"
  [[ -n "$account" ]] || die "no authenticated gcloud account: run 'gcloud auth login'"
  local number
  capture_or_empty number "" gcloud projects describe "$PROJECT" "--format=value(projectNumber)"
  [[ -n "$number" ]] || die "project '$PROJECT' does not exist or $account cannot see it"
  note "account $account, project number $number"
}

enable_apis() {
  section "APIs"
  local apis=() api
  for api in "${APIS[@]}"; do apis+=("$api.googleapis.com"); done
  run gcloud services enable "${apis[@]}" "${P[@]}"
}

firestore_database() {
  section "Firestore database (native mode, $REGION)"
  local location
  capture_or_empty location "<location>" \
    gcloud firestore databases describe "--database=(default)" "--format=value(locationId)" "${P[@]}"
  if ((DRY)); then
    INDENT="  "
    say "  # if it is missing:"
  fi
  if ((DRY)) || [[ -z "$location" ]]; then
    run gcloud firestore databases create "--database=(default)" "--location=$REGION" \
      --type=firestore-native "${P[@]}"
  elif [[ "$location" != "$REGION" ]]; then
    die "the Firestore database is in $location, not $REGION"
  else
    note "exists in $location"
  fi
  INDENT=""
}

ttl_policies() {
  section "TTL policies on expire_at (a backstop to the sweep)"
  local existing group
  capture_or_empty existing "" gcloud firestore fields ttls list \
    "--format=value(name,ttlConfig.state)" "${P[@]}"
  ((DRY)) && say "  # for each collection group without an active or pending policy:"
  for group in "${TTL_GROUPS[@]}"; do
    if ((!DRY)) && grep -Eq "/collectionGroups/$group/fields/expire_at[[:space:]]+(ACTIVE|CREATING)" <<<"$existing"; then
      note "$group: on"
      continue
    fi
    branch
    run_quiet gcloud firestore fields ttls update expire_at "--collection-group=$group" \
      "--database=(default)" --enable-ttl --async "${P[@]}"
    INDENT=""
  done
}

# firestore.indexes.json (the Firebase CLI's format) as tab-separated lines:
#   composite GROUP SCOPE FIELD-CONFIG...   a composite index, for gcloud
#   field GROUP FIELD BODY                  a single-field override, for the Admin API
#   ttl GROUP FIELD                         a TTL policy named in an override
index_lines() {
  python3 - "$1" <<'PY'
import json, sys

with open(sys.argv[1], encoding="utf-8") as f:
    spec = json.load(f)
for index in spec.get("indexes", []):
    scope = index.get("queryScope", "COLLECTION").lower().replace("_", "-")
    row = ["composite", index["collectionGroup"], scope]
    for field in index["fields"]:
        if "arrayConfig" in field:
            kind = "array-config=" + field["arrayConfig"].lower()
        else:
            kind = "order=" + field.get("order", "ASCENDING").lower()
        row.append("field-path=" + field["fieldPath"] + "," + kind)
    print("\t".join(row))
for override in spec.get("fieldOverrides", []):
    group, path = override["collectionGroup"], override["fieldPath"]
    indexes = []
    for index in override.get("indexes", []):
        field = {"fieldPath": path}
        field.update({k: index[k] for k in ("order", "arrayConfig") if k in index})
        indexes.append({"queryScope": index.get("queryScope", "COLLECTION"), "fields": [field]})
    body = json.dumps({"indexConfig": {"indexes": indexes}}, separators=(",", ":"))
    print("\t".join(["field", group, path, body]))
    if override.get("ttl"):
        print("\t".join(["ttl", group, path]))
PY
}

# field_matches ANSWER BODY: whether the field's live indexes are the ones wanted.
field_matches() {
  python3 - "$1" "$2" <<'PY'
import json, sys

def kinds(indexes):
    out = set()
    for index in indexes:
        field = (index.get("fields") or [{}])[0]
        out.add((index.get("queryScope"), field.get("order"), field.get("arrayConfig")))
    return out

live = json.load(open(sys.argv[1], encoding="utf-8")).get("indexConfig", {})
wanted = json.load(open(sys.argv[2], encoding="utf-8"))["indexConfig"]
sys.exit(0 if kinds(live.get("indexes", [])) == kinds(wanted["indexes"]) else 1)
PY
}

indexes_step() {
  section "Indexes (firestore.indexes.json)"
  local file="$ROOT/firestore.indexes.json"
  if [[ ! -f "$file" ]]; then
    note "no firestore.indexes.json: none to create"
    return
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    note "WARNING: python3 not found: firestore.indexes.json not read"
    return
  fi
  local lines line row cmd err f rows=() n=0 body url
  local admin="https://firestore.googleapis.com/v1/projects/$PROJECT/databases/(default)"
  lines="$(index_lines "$file")" || die "firestore.indexes.json could not be read"
  [[ -z "$lines" ]] || mapfile -t rows <<<"$lines"
  ((${#rows[@]})) || note "it lists no index"
  for line in "${rows[@]}"; do
    IFS=$'\t' read -r -a row <<<"$line"
    case "${row[0]}" in
      composite)
        note "composite index on ${row[1]}; one that already exists is left as it is"
        cmd=(gcloud firestore indexes composite create "--collection-group=${row[1]}"
          "--query-scope=${row[2]}")
        for f in "${row[@]:3}"; do cmd+=("--field-config=$f"); done
        cmd+=("--database=(default)" --async "${P[@]}")
        show "${cmd[@]}"
        ((DRY)) && continue
        if ! err="$("${cmd[@]}" 2>&1 >/dev/null)"; then
          [[ "$err" == *ALREADY_EXISTS* || "$err" == *"already exists"* ]] || die "index: $err"
          note "exists"
        fi
        ;;
      field)
        # gcloud sets single-field indexes for collection queries only; collection-group
        # ones go through the Firestore Admin API, as the Firebase CLI does.
        n=$((n + 1))
        body="$WORK/field-$n.json"
        url="$admin/collectionGroups/${row[1]}/fields/${row[2]}"
        note "single-field indexes of ${row[1]}.${row[2]}, the override's list exactly"
        access_token
        google_api GET "$url"
        ((DRY)) || printf '%s\n' "${row[3]}" >"$body"
        if ((!DRY)) && [[ "$API_STATUS" == 200 ]] && field_matches "$WORK/answer.json" "$body"; then
          note "already so"
          continue
        fi
        ((DRY)) && say "  # if they differ (body: ${row[3]}):"
        branch
        google_api PATCH "$url?updateMask=indexConfig" "$body"
        INDENT=""
        ((DRY)) || [[ "$API_STATUS" == 200 ]] ||
          die "the index override was refused ($API_STATUS): $(head -c 300 "$WORK/answer.json")"
        ;;
      ttl)
        run_quiet gcloud firestore fields ttls update "${row[2]}" "--collection-group=${row[1]}" \
          "--database=(default)" --enable-ttl --async "${P[@]}"
        ;;
    esac
  done
}

# The deployer's access token for the REST calls gcloud has no command for; it stays
# in this shell and reaches curl on stdin.
TOKEN=""
access_token() {
  [[ -z "$TOKEN" ]] || return 0
  note "the access token stays in memory and reaches curl on stdin (curl --config -)"
  capture TOKEN "<access-token>" gcloud auth print-access-token "${P[@]}"
}

# google_api METHOD URL [BODY_FILE]: one REST call; the status in $API_STATUS, the
# answer in $WORK/answer.json.
API_STATUS=""
google_api() {
  local method="$1" url="$2" body="${3:-}"
  local args=(curl --silent --show-error --config - --request "$method"
    --header "x-goog-user-project: $PROJECT" --header "Content-Type: application/json"
    --output "$WORK/answer.json" --write-out "%{http_code}")
  [[ -z "$body" ]] || args+=(--data-binary "@$body")
  args+=("$url")
  show "${args[@]}"
  ((DRY)) && return 0
  API_STATUS="$(printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" | "${args[@]}")" ||
    die "${url%%/v1/*} unreachable"
}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

publish_rules() {
  section "Security rules (firestore.rules, through the Firebase Rules API)"
  local api="https://firebaserules.googleapis.com/v1/projects/$PROJECT"
  local release="projects/$PROJECT/releases/cloud.firestore" current="" ruleset
  access_token
  note "the live release, then its ruleset: nothing more is done when it equals firestore.rules"
  google_api GET "$api/releases/cloud.firestore"
  if ((!DRY)); then
    if [[ "$API_STATUS" == 200 ]]; then
      current="$(json_field rulesetName <"$WORK/answer.json")"
    elif [[ "$API_STATUS" != 404 ]]; then
      die "Firebase Rules API answered $API_STATUS: $(head -c 300 "$WORK/answer.json")"
    fi
  fi
  if [[ -n "$current" ]] || ((DRY)); then
    google_api GET "https://firebaserules.googleapis.com/v1/${current:-<ruleset-name>}"
    if ((!DRY)) && [[ "$API_STATUS" == 200 ]] && python3 - "$ROOT/firestore.rules" "$WORK/answer.json" <<'PY'; then
import json, sys

local = open(sys.argv[1], encoding="utf-8").read()
files = json.load(open(sys.argv[2], encoding="utf-8")).get("source", {}).get("files", [])
sys.exit(0 if [f.get("content") for f in files] == [local] else 1)
PY
      note "the live rules equal firestore.rules: nothing to publish"
      return
    fi
  fi
  note "create a ruleset from firestore.rules, then point the release at it"
  if ((!DRY)); then
    python3 - "$ROOT/firestore.rules" >"$WORK/ruleset.json" <<'PY'
import json, sys

content = open(sys.argv[1], encoding="utf-8").read()
print(json.dumps({"source": {"files": [{"name": "firestore.rules", "content": content}]}}))
PY
  fi
  google_api POST "$api/rulesets" "$WORK/ruleset.json"
  if ((!DRY)); then
    [[ "$API_STATUS" == 200 ]] ||
      die "the ruleset was refused ($API_STATUS): $(head -c 2000 "$WORK/answer.json")"
    ruleset="$(json_field name <"$WORK/answer.json")"
    python3 -c 'import json,sys; print(json.dumps({"release": {"name": sys.argv[1], "rulesetName": sys.argv[2]}}))' \
      "$release" "$ruleset" >"$WORK/release-patch.json"
    python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "rulesetName": sys.argv[2]}))' \
      "$release" "$ruleset" >"$WORK/release-create.json"
  fi
  if ((DRY)) || [[ -n "$current" ]]; then
    ((DRY)) && say "  # if the release exists (body: {\"release\": {\"name\": \"$release\", \"rulesetName\": <ruleset-name>}}):"
    branch
    google_api PATCH "https://firebaserules.googleapis.com/v1/$release" "$WORK/release-patch.json"
    INDENT=""
  fi
  if ((DRY)) || [[ -z "$current" ]]; then
    ((DRY)) && say "  # if there is no release yet (body: {\"name\": \"$release\", \"rulesetName\": <ruleset-name>}):"
    branch
    google_api POST "$api/releases" "$WORK/release-create.json"
    INDENT=""
  fi
  if ((!DRY)); then
    [[ "$API_STATUS" == 200 ]] ||
      die "the release was refused ($API_STATUS): $(head -c 300 "$WORK/answer.json")"
    note "published $ruleset"
  fi
}

needed_secrets() {
  local fn s out=()
  for fn in "${SELECTED[@]}"; do
    for s in $(function_secrets "$fn"); do
      [[ " ${out[*]} " == *" $s "* ]] || out+=("$s")
    done
  done
  echo "${out[*]}"
}

# The secret's first version when it has none: generated, or read from NAME_FILE, or
# typed at a prompt; always piped to gcloud on stdin.
add_first_version() {
  local name="$1" file_key="${1}_FILE" added
  local add=(gcloud secrets versions add "$name" --data-file=- "--format=value(name.basename())" "${P[@]}")
  if [[ "$name" == RATE_LIMIT_KEY ]]; then
    say "+ ${INDENT}head -c 32 /dev/urandom | base64 | tr -d '\\n' | $(quote "${add[@]}")"
    ((DRY)) && return
    added="$(head -c 32 /dev/urandom | base64 | tr -d '\n' | "${add[@]}")"
  elif [[ -n "${CONF[$file_key]}" ]]; then
    local file="${CONF[$file_key]}"
    # Through printf (a builtin) so that the file's final newline is not part of the secret.
    say "+ ${INDENT}printf %s \"\$(cat $(quote "$file"))\" | $(quote "${add[@]}")"
    ((DRY)) && return
    [[ -r "$file" ]] || die "$file_key: cannot read $file"
    added="$(printf '%s' "$(cat "$file")" | "${add[@]}")"
  else
    say "+ ${INDENT}<typed at a hidden prompt> | $(quote "${add[@]}")"
    ((DRY)) && return
    [[ -t 0 ]] || die "secret $name has no version: set $file_key in deploy.env to a file holding it, or run deploy.sh in a terminal to type it"
    local value
    read -r -s -p "$name (input hidden): " value
    echo >&2
    [[ -n "$value" ]] || die "$name: empty value"
    added="$(printf '%s' "$value" | "${add[@]}")"
    value=""
  fi
  VERSION[$name]="$added"
}

secrets_step() {
  section "Secrets (Secret Manager, replicated in $REGION only)"
  local names name
  names="$(needed_secrets)"
  if [[ -z "$names" ]]; then
    note "no function selected reads a secret"
    return
  fi
  note "values are never on a command line or in this plan; functions get pinned versions"
  for name in $names; do
    ensure gcloud secrets describe "$name" "${P[@]}" \
      -- gcloud secrets create "$name" --replication-policy=user-managed "--locations=$REGION" "${P[@]}"
    capture "VERSION[$name]" "<$name-version>" gcloud secrets versions list "$name" \
      --filter=state:ENABLED --sort-by=~createTime --limit=1 "--format=value(name.basename())" "${P[@]}"
    if ((DRY)); then
      say "  # if it has no enabled version:"
      INDENT="  "
      add_first_version "$name"
      INDENT=""
      VERSION[$name]="<$name-version>"
    elif [[ -z "${VERSION[$name]}" ]]; then
      add_first_version "$name"
    fi
    [[ -n "${VERSION[$name]}" ]] || die "secret $name: no version to deploy"
    note "$name: version ${VERSION[$name]}"
  done
}

service_accounts() {
  section "Service accounts (one per function, least privilege)"
  local fn id email s
  for fn in "${SELECTED[@]}"; do
    id="$(account_id "$fn")"
    email="$(function_account "$fn")"
    note "$fn runs as $email"
    ensure gcloud iam service-accounts describe "$email" "${P[@]}" \
      -- gcloud iam service-accounts create "$id" "--display-name=$fn function" "${P[@]}"
    retry run_quiet gcloud projects add-iam-policy-binding "$PROJECT" \
      "--member=serviceAccount:$email" --role=roles/datastore.user --condition=None
    for s in $(function_secrets "$fn"); do
      retry run_quiet gcloud secrets add-iam-policy-binding "$s" "--member=serviceAccount:$email" \
        --role=roles/secretmanager.secretAccessor "${P[@]}"
    done
  done
  if selected "$SWEEP"; then
    note "Cloud Scheduler calls the sweep as $(scheduler_account)"
    ensure gcloud iam service-accounts describe "$(scheduler_account)" "${P[@]}" \
      -- gcloud iam service-accounts create "$SCHEDULER_ACCOUNT" \
      "--display-name=Cloud Scheduler caller of $SWEEP" "${P[@]}"
  fi
}

# A new service account takes a few seconds to be visible to IAM.
retry() {
  local attempt
  if ((DRY)); then
    "$@"
    return
  fi
  for attempt in 1 2 3 4 5; do
    if "$@"; then return 0; fi
    ((attempt == 5)) || {
      note "retrying in $((attempt * 5)) s"
      sleep $((attempt * 5))
    }
  done
  return 1
}

yaml_value() {
  local v="${1//\\/\\\\}"
  printf '"%s"' "${v//\"/\\\"}"
}

# write_env FILE [KEY=VALUE...]: the function's plain environment, shown in the plan.
write_env() {
  local file="$1" k lines=()
  shift
  lines+=("GOOGLE_CLOUD_PROJECT: $(yaml_value "$PROJECT")")
  for k in "${SETTINGS[@]}"; do
    [[ -z "${CONF[$k]}" ]] || lines+=("$k: $(yaml_value "${CONF[$k]}")")
  done
  for k in "$@"; do lines+=("${k%%=*}: $(yaml_value "${k#*=}")"); done
  note "${INDENT}$file (--env-vars-file; unset settings keep the code's defaults):"
  for k in "${lines[@]}"; do note "${INDENT}  $k"; done
  ((DRY)) || printf '%s\n' "${lines[@]}" >"$file"
}

deploy_function() {
  local fn="$1" envfile="$2" refs=() s
  local cmd=(gcloud functions deploy "$fn" --gen2 --runtime=python312 "--region=$REGION"
    "--source=$WORK/$fn" "--entry-point=$fn" --trigger-http
    "--service-account=$(function_account "$fn")" "--env-vars-file=$envfile")
  for s in $(function_secrets "$fn"); do refs+=("$s=$s:${VERSION[$s]}"); done
  if ((${#refs[@]})); then
    cmd+=("--set-secrets=$(IFS=,; echo "${refs[*]}")")
  else
    cmd+=(--clear-secrets)
  fi
  local n="MAX_INSTANCES_${fn^^}"
  cmd+=("--max-instances=${CONF[$n]:-$(max_instances_default "$fn")}")
  if is_public "$fn"; then
    cmd+=(--allow-unauthenticated)
  else
    cmd+=(--no-allow-unauthenticated "--timeout=$SWEEP_TIMEOUT")
  fi
  [[ -z "${CONF[BUILD_SERVICE_ACCOUNT]}" ]] ||
    cmd+=("--build-service-account=projects/$PROJECT/serviceAccounts/${CONF[BUILD_SERVICE_ACCOUNT]}")
  cmd+=("${P[@]}")
  run "${cmd[@]}"
}

functions_step() {
  local fn
  for fn in "${SELECTED[@]}"; do
    section "Function $fn ($(is_public "$fn" && echo public || echo "private: invoked by Cloud Scheduler only"))"
    show ./deploy.sh --stage "$fn" "$WORK/$fn"
    ((DRY)) || stage "$fn" "$WORK/$fn"
    if [[ "$fn" != "$SWEEP" ]]; then
      write_env "$WORK/$fn.env.yaml"
      deploy_function "$fn" "$WORK/$fn.env.yaml"
      continue
    fi
    # The sweep checks its token's audience against its own URL, known once it exists,
    # and refuses to start without one: a first deployment uses an audience no token
    # carries, then the real one.
    local describe=(gcloud functions describe "$SWEEP" "--region=$REGION"
      "--format=value(serviceConfig.uri)" "${P[@]}")
    capture_or_empty SWEEP_URL "<sweep-url>" "${describe[@]}"
    if ((DRY)) || [[ -z "$SWEEP_URL" ]]; then
      if ((DRY)); then
        say "  # if it does not exist yet (first deployment): deployed with an audience no"
        say "  # token carries, to learn its URL:"
      else
        note "first deployment: deployed once to learn its URL, then again with SWEEP_AUDIENCE"
      fi
      branch
      write_env "$WORK/$fn.env.yaml" "SWEEP_AUDIENCE=$PENDING_AUDIENCE" \
        "SWEEP_INVOKER=$(scheduler_account)"
      deploy_function "$fn" "$WORK/$fn.env.yaml"
      capture SWEEP_URL "<sweep-url>" "${describe[@]}"
      INDENT=""
      [[ -n "$SWEEP_URL" ]] || die "$SWEEP has no URL after its deployment"
    fi
    write_env "$WORK/$fn.env.yaml" "SWEEP_AUDIENCE=$SWEEP_URL" "SWEEP_INVOKER=$(scheduler_account)"
    deploy_function "$fn" "$WORK/$fn.env.yaml"
    note "only the scheduler's account may invoke the sweep"
    retry run_quiet gcloud functions add-invoker-policy-binding "$SWEEP" "--region=$REGION" \
      "--member=serviceAccount:$(scheduler_account)" "${P[@]}"
  done
}

scheduler_job() {
  local job="$1" schedule="$2" body="$3" description="$4"
  local common=("--location=$REGION" "--schedule=$schedule" "--time-zone=$TIME_ZONE"
    "--uri=$SWEEP_URL" --http-method=POST "--message-body=$body"
    "--oidc-service-account-email=$(scheduler_account)" "--oidc-token-audience=$SWEEP_URL"
    "--attempt-deadline=$SWEEP_TIMEOUT" "--description=$description" "${P[@]}")
  ensure gcloud scheduler jobs describe "$job" "--location=$REGION" "${P[@]}" \
    -- gcloud scheduler jobs create http "$job" --headers=Content-Type=application/json "${common[@]}" \
    -- gcloud scheduler jobs update http "$job" --update-headers=Content-Type=application/json "${common[@]}"
}

scheduler_step() {
  selected "$SWEEP" || return 0
  section "Cloud Scheduler jobs (OIDC token for $(scheduler_account), audience the sweep's URL)"
  scheduler_job "$RETENTION_JOB" "$RETENTION_SCHEDULE" '{"tasks":["retention"]}' \
    "Nightly retention: deletes what is past RETENTION_DAYS"
  scheduler_job "$DELIVERIES_JOB" "$DELIVERIES_SCHEDULE" '{"tasks":["deliveries"]}' \
    "Retries pending email and CRM deliveries"
}

closing() {
  section "Function URLs"
  local fn url rows=()
  for fn in "${SELECTED[@]}"; do
    capture_or_empty url "<$fn-url>" gcloud functions describe "$fn" "--region=$REGION" \
      "--format=value(serviceConfig.uri)" "${P[@]}"
    rows+=("$fn  ${url:-<not deployed>}")
  done
  say ""
  for url in "${rows[@]}"; do say "$url"; done
  local sheet=()
  for fn in "${SELECTED[@]}"; do
    ! uses_crm_sheet "$fn" || sheet+=("$(function_account "$fn")")
  done
  if ((${#sheet[@]})); then
    say ""
    say "The CRM sheet is reached by sharing it, not by a role: open"
    say "https://docs.google.com/spreadsheets/d/${CONF[CRM_SPREADSHEET_ID]}/edit, Share, and add"
    say "as Editor (notifications off):"
    for fn in "${sheet[@]}"; do say "  $fn"; done
  fi
  say ""
  if ((DRY)); then
    say "Dry run: nothing was run."
  else
    say "Deployed. Point the site's script at the URLs above."
  fi
}

STARTED=0
finish() {
  local status=$?
  [[ -z "$WORK" || "$WORK" == "<workdir>" ]] || rm -rf "$WORK"
  if ((status != 0 && STARTED)); then
    echo "deploy.sh: stopped by the failure above; fix its cause and run deploy.sh again" \
      "(every step is safe to repeat)" >&2
  fi
}

main() {
  if [[ "${1:-}" == "--stage" ]]; then
    [[ $# -eq 3 ]] || die "usage: ./deploy.sh --stage NAME DEST"
    stage "$2" "$3"
    return
  fi
  parse_args "$@"
  load_settings
  P=("--project=$PROJECT")
  if ((DRY)); then
    WORK="<workdir>"
  else
    export CLOUDSDK_CORE_DISABLE_PROMPTS=1
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/factoryops-deploy.XXXXXX")"
    trap finish EXIT
  fi
  header
  prerequisites
  STARTED=1
  enable_apis
  firestore_database
  ttl_policies
  indexes_step
  publish_rules
  TOKEN=""
  secrets_step
  service_accounts
  functions_step
  scheduler_step
  closing
}

main "$@"
