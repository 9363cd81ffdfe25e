#!/usr/bin/env bash
# Deploys the FactoryOps AI website backend to Google Cloud.
#
#   ./deploy.sh --project ID [--region asia-south1] [--dry-run] [--only NAME...]
#   ./deploy.sh --project ID --verify [--dry-run]   check the live system
#   ./deploy.sh --stage NAME DEST   stage one function's bundle into DEST and stop
#
# Every step creates what is missing and updates what exists, so a run that stopped
# half way is finished by running it again. --dry-run prints every command, in order,
# and runs none. --verify checks what is deployed (deployment/verify.py) and changes
# nothing but running the deliveries sweep once. The functions' settings come from
# deploy.env (see deploy.env.example; DEPLOY_ENV_FILE names another file) and from the
# environment, which wins.
#
# What there is to deploy (the functions, the settings each one reads, the secrets, the
# TTL groups) is declared once, in lib/factoryops and deployment/manifest.py (where each
# setting comes from, which functions get it); deploy.sh asks deployment/plan.py
# about it before anything else, deployment/preflight.py reads what gcloud answers of
# the organisation's policy and the build account's roles, and deployment/google_apis.py
# makes the REST calls gcloud has no command for. This script sequences gcloud.
#
# A function's bundle is exactly: its main.py, the shared package, requirements.txt,
# and for the team console its page (web/console, as console_page).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "deploy.sh: $*" >&2; exit 1; }

# The deployment uses associative arrays and mapfile; staging needs only bash 3.
if [[ "${1:-}" != "--stage" ]] &&
  ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  die "bash 4.4 or newer is required (macOS: brew install bash, then run it with that bash)"
fi

CONSOLE=team_console
CONSOLE_PAGE=web/console

stage() {
  local name="$1" dest="$2"
  [[ -f "$ROOT/functions/$name/main.py" ]] || die "no function named '$name'"
  mkdir -p "$dest"
  cp "$ROOT/functions/$name/main.py" "$dest/main.py"
  cp "$ROOT/requirements.txt" "$dest/requirements.txt"
  rm -rf "$dest/factoryops"
  cp -R "$ROOT/lib/factoryops" "$dest/factoryops"
  if [[ "$name" == "$CONSOLE" ]]; then
    # factoryops.console looks for its page beside the package in a bundle.
    [[ -f "$ROOT/$CONSOLE_PAGE/index.html" ]] || die "$CONSOLE_PAGE/index.html is missing"
    rm -rf "$dest/console_page"
    cp -R "$ROOT/$CONSOLE_PAGE" "$dest/console_page"
  fi
  find "$dest" -name '__pycache__' -type d -prune -exec rm -rf {} +
}

# The checkout's own packages, whatever the caller's PYTHONPATH or working directory.
py() { PYTHONSAFEPATH=1 PYTHONPATH="$ROOT:$ROOT/lib" python3 -m "deployment.$1" "${@:2}"; }

# --- what is deployed -------------------------------------------------------------

SWEEP=retention_sweep
SCHEDULER_ACCOUNT=sweep-scheduler
# Eventarc's triggers deliver the forwarder's events as this account: it receives them,
# and may invoke the forwarder, nothing else.
TRIGGER_ACCOUNT=eventarc-trigger
# eventarc, eventarcpublishing and pubsub: the forwarder's triggers (Pub/Sub carries
# their events to Cloud Run).
APIS=(cloudfunctions run cloudbuild artifactregistry firestore secretmanager
  cloudscheduler iam logging firebaserules monitoring eventarc eventarcpublishing pubsub)
BUILDER_ROLE=roles/cloudbuild.builds.builder
# Domain restricted sharing: an organisation's list of who IAM policies may name.
MEMBER_DOMAINS=iam.allowedPolicyMemberDomains
ALERT_CHANNEL="FactoryOps AI alerts"

RETENTION_JOB=retention-sweep-nightly
RETENTION_SCHEDULE="30 2 * * *"
DELIVERIES_JOB=retention-sweep-deliveries
# Every minute: reply emails fall due REPLY_EMAIL_AFTER (180 s) after a team reply and
# transcripts and link-opened notes at once, so 10 minutes would be far too coarse; a run
# with nothing due is one indexed query per channel (`make dev` runs it every minute too).
DELIVERIES_SCHEDULE="* * * * *"
TIME_ZONE=Asia/Kolkata
SWEEP_TIMEOUT=540s
# The forwarder's request: each channel's send, tried again for up to 60 s while the
# downstream says it is busy (deliveries.FORWARD_PATIENCE), then written down.
FORWARD_TIMEOUT=240s
# Cloud Run serves more than one request per instance on one vCPU or more only; the
# functions framework runs four threads per vCPU.
CONCURRENT_CPU=1
CONCURRENT_MEMORY=512Mi
PENDING_AUDIENCE=https://audience-pending.invalid
# The nudge's link while the console is not deployed: it leads nowhere, visibly.
PENDING_CONSOLE_URL=https://team-console-not-deployed.invalid
# Waits: every poll is this many seconds apart (tests set 0).
POLL="${DEPLOY_POLL_SECONDS:-5}"
DATABASE_POLLS=36
VERIFY_WAIT="${VERIFY_WAIT_SECONDS:-180}"

# Filled by read_plan from the declarations.
FUNCTIONS=()         # in deployment order
PUBLIC=()            # called from visitors' browsers
TEAM=()              # the team's tools: open to anyone, they check Google sign-in themselves
EVENT_DRIVEN=()      # called by Eventarc only: private
TRIGGERS=()          # Eventarc triggers, by name; TRIGGER_OF[name]: "FUNCTION TYPE DOCUMENT"
PRIVATE_SETTINGS=()  # shown as <omitted> in the plan (the team's addresses)
TTL_GROUPS=()        # collection groups whose documents carry `expire_at`
GENERATED_SECRETS=() # made by this script; the other secrets are supplied
STANDALONE_SECRETS=() # generated, made whichever functions are deployed (siteadmin reads them)
WORKED_OUT_NAMES=()  # variables the functions read that this script works out
FROM_FILE=0
FROM_ENVIRONMENT=()
# CONF: every non-empty value from deploy.env or the environment.
declare -A CONF=() ENV_OF=() SECRETS_OF=() MAX_INSTANCES=() WORKED_OUT=() UNREADY=()
declare -A CONCURRENCY=() TRIGGER_OF=()

is_public() { [[ " ${PUBLIC[*]} " == *" $1 "* ]]; }
is_team() { [[ " ${TEAM[*]} " == *" $1 "* ]]; }
is_event_driven() { [[ " ${EVENT_DRIVEN[*]} " == *" $1 "* ]]; }
is_private_setting() { [[ " ${PRIVATE_SETTINGS[*]} " == *" $1 "* ]]; }
# Who may call it: visitors, the team (signed in with Google), Eventarc, or Cloud Scheduler.
kind_of() {
  if is_public "$1"; then
    echo public
  elif is_team "$1"; then
    echo "team: open, behind Google sign-in checked by the function"
  elif is_event_driven "$1"; then
    echo "private: invoked by Eventarc only"
  else
    echo "private: invoked by Cloud Scheduler only"
  fi
}
is_generated() { [[ " ${GENERATED_SECRETS[*]} " == *" $1 "* ]]; }

# The secrets a function reads, given the settings.
function_secrets() { echo "${SECRETS_OF[$1]}"; }

account_id() { echo "fn-${1//_/-}"; }
account_email() { echo "$1@$PROJECT.iam.gserviceaccount.com"; }
function_account() { account_email "$(account_id "$1")"; }
scheduler_account() { account_email "$SCHEDULER_ACCOUNT"; }
trigger_account() { account_email "$TRIGGER_ACCOUNT"; }

# --- arguments --------------------------------------------------------------------

usage() {
  cat <<EOF
usage: ./deploy.sh --project ID [--region asia-south1] [--dry-run] [--only NAME...]
       ./deploy.sh --project ID --verify [--region asia-south1] [--dry-run]
       ./deploy.sh --stage NAME DEST

  --project ID     the Google Cloud project to deploy to
  --region R       region of the functions, Firestore, Scheduler and Eventarc (default asia-south1)
  --outside-notice allow a region other than asia-south1, where the privacy notice says
                   the data lives: only for a project that holds no visitor's data
  --dry-run        print every command in order and run none (needs no gcloud login)
  --only NAME...   deploy only these functions (folder names under functions/)
  --verify         check the live system, print a pass/fail table; exit 1 if any failed
  --stage NAME DEST  copy one function's bundle into DEST and stop

Settings come from deploy.env (or the file DEPLOY_ENV_FILE names) and the environment.
DEPLOY_POLL_SECONDS (5) spaces every wait's polls; VERIFY_WAIT_SECONDS (180) bounds the
wait for the sweep's success line.
EOF
}

usage_error() {
  echo "deploy.sh: $*" >&2
  usage >&2
  exit 2
}

PROJECT=""
NOTICE_REGION=asia-south1 # where the privacy notice says the data lives
REGION=$NOTICE_REGION
OUTSIDE_NOTICE=0
DRY=0
VERIFY=0
SELECTED=()

parse_args() {
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
      --verify)
        VERIFY=1
        shift
        ;;
      --outside-notice)
        OUTSIDE_NOTICE=1
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
  [[ "$REGION" == "$NOTICE_REGION" ]] || ((OUTSIDE_NOTICE)) ||
    usage_error "the privacy notice says the data lives in $NOTICE_REGION; $REGION needs --outside-notice"
  ((!VERIFY || ${#SELECTED[@]} == 0)) || usage_error "--verify checks everything; it takes no --only"
  [[ "$POLL" =~ ^[0-9]+$ && "$VERIFY_WAIT" =~ ^[0-9]+$ ]] ||
    usage_error "DEPLOY_POLL_SECONDS and VERIFY_WAIT_SECONDS are whole seconds"
}

# --only's names are checked once the declarations name the functions.
select_functions() {
  local name ordered=()
  if ((${#SELECTED[@]} == 0)); then
    SELECTED=("${FUNCTIONS[@]}")
    return
  fi
  for name in "${SELECTED[@]}"; do
    [[ " ${FUNCTIONS[*]} " == *" $name "* ]] ||
      usage_error "--only: no function named '$name' (known: ${FUNCTIONS[*]})"
  done
  # Deploy in the fixed order whatever the order given, each function once.
  for name in "${FUNCTIONS[@]}"; do
    [[ " ${SELECTED[*]} " != *" $name "* ]] || ordered+=("$name")
  done
  SELECTED=("${ordered[@]}")
}

selected() { [[ " ${SELECTED[*]} " == *" $1 "* ]]; }

# --- settings ---------------------------------------------------------------------

ENV_FILE=""

# Before the declarations are read: reading them needs python3, and a real run gcloud.
require_tools() {
  if ((!DRY)); then
    command -v gcloud >/dev/null 2>&1 ||
      die "gcloud not found: install the Google Cloud CLI (README.md, Prerequisites)"
  fi
  command -v python3 >/dev/null 2>&1 ||
    die "python3 not found: deploy.sh reads the settings' declarations with it (Python 3.11+)"
}

# The one question put to the declarations: deployment/plan.py reads deploy.env and the
# environment, refuses what has no place there, checks every value with
# factoryops.config (so that a bad setting stops the deployment, not the first
# request), and answers with records (its Plan.records). Nothing has run before it.
read_plan() {
  ENV_FILE="${DEPLOY_ENV_FILE:-$ROOT/deploy.env}"
  local records status=0 kind key rest
  records="$(py plan records --project "$PROJECT" --env-file "$ENV_FILE")" || status=$?
  case "$status" in
    0) ;;
    3) exit 1 ;; # refused: plan.py said why
    *) die "could not read the settings' declarations with python3 (3.11 or newer?)" ;;
  esac
  while IFS=$'\t' read -r kind key rest; do
    case "$kind" in
      functions) read -r -a FUNCTIONS <<<"$key" ;;
      public) read -r -a PUBLIC <<<"$key" ;;
      ttl_groups) read -r -a TTL_GROUPS <<<"$key" ;;
      generated_secrets) read -r -a GENERATED_SECRETS <<<"$key" ;;
      standalone_secrets) read -r -a STANDALONE_SECRETS <<<"$key" ;;
      worked_out) read -r -a WORKED_OUT_NAMES <<<"$key" ;;
      from_file) FROM_FILE="$key" ;;
      from_environment) read -r -a FROM_ENVIRONMENT <<<"$key" ;;
      team) read -r -a TEAM <<<"$key" ;;
      events) read -r -a EVENT_DRIVEN <<<"$key" ;;
      concurrency) CONCURRENCY[$key]="$rest" ;;
      trigger)
        TRIGGERS+=("$key")
        TRIGGER_OF[$key]="$rest"
        ;;
      private) read -r -a PRIVATE_SETTINGS <<<"$key" ;;
      unready) UNREADY[$key]="$rest" ;;
      max_instances) MAX_INSTANCES[$key]="$rest" ;;
      env) ENV_OF[$key]="$rest" ;;
      secrets) SECRETS_OF[$key]="$rest" ;;
      value) CONF[$key]="$rest" ;;
      *) die "deployment.plan answered an unknown record '$kind'" ;;
    esac
  done <<<"$records"
  ((${#FUNCTIONS[@]})) || die "deployment.plan named no function"
}

# The variables the declarations leave to this script. The sweep's audience is its own
# URL, known once it is deployed: until then, one no token carries. The console's URL
# is read just before the sweep's deployment (console_url). The sweep is private: Cloud
# Run checks its caller's token and forwards it with the signature replaced, so the
# function checks the token's claims (SWEEP_AUTH=iam); --verify checks that Cloud Run
# refuses a call without a token.
work_out() {
  WORKED_OUT[GOOGLE_CLOUD_PROJECT]="$PROJECT"
  WORKED_OUT[SWEEP_AUTH]=iam
  WORKED_OUT[SWEEP_INVOKER]="$(scheduler_account)"
  WORKED_OUT[SWEEP_AUDIENCE]="$PENDING_AUDIENCE"
  WORKED_OUT[CONSOLE_URL]="$PENDING_CONSOLE_URL"
  local name
  for name in "${WORKED_OUT_NAMES[@]}"; do
    [[ -n "${WORKED_OUT[$name]+set}" ]] ||
      die "the declarations leave $name to deploy.sh, which does not know how to set it"
  done
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
PROJECT_NUMBER=""
declare -A VERSION=()
SWEEP_URL=""

header() {
  local fn kinds=()
  for fn in "${SELECTED[@]}"; do
    if is_public "$fn"; then
      kinds+=("$fn (public)")
    elif is_team "$fn"; then
      kinds+=("$fn (team: Google sign-in)")
    elif is_event_driven "$fn"; then
      kinds+=("$fn (private: Eventarc only)")
    else
      kinds+=("$fn (private: Cloud Scheduler only)")
    fi
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
    note "settings file: ${ENV_FILE#"$ROOT/"} ($FROM_FILE settings)"
  else
    note "settings file: ${ENV_FILE#"$ROOT/"} not found"
  fi
  ((${#FROM_ENVIRONMENT[@]} == 0)) ||
    note "from the environment (wins over the file): ${FROM_ENVIRONMENT[*]}"
  if [[ "$REGION" != "$NOTICE_REGION" ]]; then
    note "WARNING: the privacy notice says the data lives in $NOTICE_REGION, not $REGION"
  fi
  [[ -n "${CONF[ALERT_EMAIL]:-}" ]] ||
    note "WARNING: ALERT_EMAIL is not set: no alerts; failed deliveries and missed sweeps reach nobody"
  ((DRY)) || note "gcloud runs with CLOUDSDK_CORE_DISABLE_PROMPTS=1"
}

# Why a selected function would refuse to start (factoryops.console.check_startup), and
# what to do; empty when every selected function can start.
unready_message() {
  local fn others=() lines=() them
  for fn in "${SELECTED[@]}"; do
    [[ -n "${UNREADY[$fn]:-}" ]] || continue
    them=them
    [[ "${UNREADY[$fn]}" == *" "* ]] || them=it
    lines+=("$fn refuses to start without ${UNREADY[$fn]// / and }: set $them in deploy.env")
  done
  ((${#lines[@]})) || return 0
  for fn in "${SELECTED[@]}"; do
    [[ -n "${UNREADY[$fn]:-}" ]] || others+=("$fn")
  done
  printf '%s\n' "${lines[@]}"
  echo "(how to make the OAuth client: README.md, \"The team console's OAuth client\")"
  ((${#others[@]} == 0)) ||
    echo "or deploy the others now: ./deploy.sh --project $PROJECT --only ${others[*]}"
}

prerequisites() {
  section "Prerequisites"
  local missing=() fn unready
  for fn in "${SELECTED[@]}"; do
    [[ -f "$ROOT/functions/$fn/main.py" ]] || missing+=("functions/$fn/main.py")
  done
  if selected "$CONSOLE" && [[ ! -f "$ROOT/$CONSOLE_PAGE/index.html" ]]; then
    missing+=("$CONSOLE_PAGE/index.html")
  fi
  [[ -f "$ROOT/firestore.rules" ]] || missing+=("firestore.rules")
  # A console deployed without its sign-in settings would fail its health check after
  # the steps before it had run: refused here, before anything changes.
  unready="$(unready_message)"
  if ((DRY)); then
    note "checked on a real run (a failure stops it before anything changes):"
    show command -v gcloud python3
    show gcloud auth list --filter=status:ACTIVE "--format=value(account)"
    show gcloud projects describe "$PROJECT" "--format=value(projectNumber)"
    member_domains
    for fn in "${missing[@]}"; do
      note "WARNING: $fn is missing: a real run stops here"
    done
    if [[ -n "$unready" ]]; then
      while IFS= read -r fn; do note "WARNING: $fn"; done <<<"$unready"
      note "WARNING: a real run stops here"
    fi
    note "settings checked with factoryops.config"
    return
  fi
  ((${#missing[@]} == 0)) || die "missing from the checkout: ${missing[*]}"
  [[ -z "$unready" ]] || die "nothing was changed: $unready"
  local account
  capture account "" gcloud auth list --filter=status:ACTIVE "--format=value(account)"
  [[ -n "$account" ]] || die "no authenticated gcloud account: run 'gcloud auth login'"
  local number
  capture_or_empty number "" gcloud projects describe "$PROJECT" "--format=value(projectNumber)"
  [[ -n "$number" ]] || die "project '$PROJECT' does not exist or $account cannot see it"
  PROJECT_NUMBER="$number"
  note "account $account, project number $number"
  member_domains
}

# The public functions and the console are invoked by allUsers. An organisation that
# restricts IAM members to its own domains refuses that binding, at the first of them,
# half way through a run: read the effective policy first, and stop before any change.
member_domains() {
  local fn open=0
  for fn in "${SELECTED[@]}"; do
    if is_public "$fn" || is_team "$fn"; then open=1; fi
  done
  ((open)) || return 0
  local describe=(gcloud org-policies describe "$MEMBER_DOMAINS" --effective --format=json
    "${P[@]}")
  show "${describe[@]}"
  if ((DRY)); then
    say "  # if it leaves allUsers out: stop, saying what to change (an exception for the"
    say "  # project, or a tag-based condition)"
    return
  fi
  local policy verdict status=0
  if ! policy="$("${describe[@]}" 2>"$WORK/member-domains.err")"; then
    note "WARNING: could not read the organisation policy $MEMBER_DOMAINS" \
      "($(head -n 1 "$WORK/member-domains.err")): should it restrict IAM members to the" \
      "organisation's domains, the first public function's deployment is refused"
    return
  fi
  verdict="$(printf '%s' "$policy" | py preflight member-domains "--project=$PROJECT")" ||
    status=$?
  case "$status" in
    0) note "$verdict" ;;
    3) exit 1 ;; # refused: preflight.py said why, and what to change
    *) die "could not read the organisation policy's answer with python3" ;;
  esac
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
    wait_for_database
  elif [[ "$location" != "$REGION" ]]; then
    die "the Firestore database is in $location, not $REGION"
  else
    note "exists in $location"
  fi
  INDENT=""
}

# The create call returns before the database exists; the TTL and index calls that
# follow fail on a database that is not ready.
wait_for_database() {
  local describe=(gcloud firestore databases describe "--database=(default)"
    "--format=value(locationId)" "${P[@]}")
  note "${INDENT}ready once it describes itself in $REGION; asked every $POLL s, at most $DATABASE_POLLS times:"
  show "${describe[@]}"
  ((DRY)) && return
  local attempt location
  for ((attempt = 1; attempt <= DATABASE_POLLS; attempt++)); do
    location="$("${describe[@]}" 2>/dev/null)" || location=""
    if [[ "$location" == "$REGION" ]]; then
      note "ready"
      return
    fi
    ((attempt == DATABASE_POLLS)) || sleep "$POLL"
  done
  die "the new Firestore database is not ready after $((DATABASE_POLLS * POLL)) s:" \
    "see 'gcloud firestore operations list --project=$PROJECT', then run deploy.sh again"
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

indexes_step() {
  section "Indexes (firestore.indexes.json)"
  local file="$ROOT/firestore.indexes.json"
  if [[ ! -f "$file" ]]; then
    note "no firestore.indexes.json: none to create"
    return
  fi
  local lines line row cmd err f rows=() overrides=0
  lines="$(py google_apis index-rows "$file")" || exit 1
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
      field) overrides=$((overrides + 1)) ;;
    esac
  done
  if ((overrides)); then
    # gcloud sets single-field indexes for collection queries only; collection-group
    # ones go through the Firestore Admin API, as the Firebase CLI does.
    access_token
    rest field-indexes "$file"
  fi
  for line in "${rows[@]}"; do
    IFS=$'\t' read -r -a row <<<"$line"
    [[ "${row[0]}" == ttl ]] || continue
    run_quiet gcloud firestore fields ttls update "${row[2]}" "--collection-group=${row[1]}" \
      "--database=(default)" --enable-ttl --async "${P[@]}"
  done
}

# The deployer's access token for the REST calls gcloud has no command for; it stays
# in this shell and reaches deployment/google_apis.py on stdin, through a builtin.
TOKEN=""
access_token() {
  [[ -z "$TOKEN" ]] || return 0
  note "the access token stays in memory and reaches deployment/google_apis.py on stdin;" \
    "it makes the REST calls (+ METHOD URL [BODY])"
  capture TOKEN "<access-token>" gcloud auth print-access-token "${P[@]}"
}

# rest COMMAND FILE: REST calls by deployment/google_apis.py, which prints each before
# making it. A dry run gives it no token: it prints every branch and calls nothing.
rest() {
  if ((DRY)); then
    py google_apis "$1" --dry-run "--project=$PROJECT" "$2" </dev/null
  else
    printf '%s\n' "$TOKEN" | py google_apis "$1" "--project=$PROJECT" "$2"
  fi
}

publish_rules() {
  section "Security rules (firestore.rules, through the Firebase Rules API)"
  access_token
  rest rules "$ROOT/firestore.rules"
}

# The selected functions' secrets, and those no function reads that are made anyway.
needed_secrets() {
  local fn s out=()
  for fn in "${SELECTED[@]}"; do
    for s in $(function_secrets "$fn"); do
      [[ " ${out[*]} " == *" $s "* ]] || out+=("$s")
    done
  done
  for s in "${STANDALONE_SECRETS[@]}"; do
    [[ " ${out[*]} " == *" $s "* ]] || out+=("$s")
  done
  echo "${out[*]}"
}

# The secret's first version when it has none: generated, or read from NAME_FILE, or
# typed at a prompt; always piped to gcloud on stdin.
add_first_version() {
  local name="$1" file_key="${1}_FILE" added
  local add=(gcloud secrets versions add "$name" --data-file=- "--format=value(name.basename())" "${P[@]}")
  if is_generated "$name"; then
    say "+ ${INDENT}head -c 32 /dev/urandom | base64 | tr -d '\\n' | $(quote "${add[@]}")"
    ((DRY)) && return
    added="$(head -c 32 /dev/urandom | base64 | tr -d '\n' | "${add[@]}")"
  elif [[ -n "${CONF[$file_key]:-}" ]]; then
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
  ((${#STANDALONE_SECRETS[@]} == 0)) ||
    note "made whichever functions are deployed, for siteadmin: ${STANDALONE_SECRETS[*]}"
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
  if selected_triggers >/dev/null; then
    # The event receiver role is granted on the project (the triggers' events are the
    # project's); invoking is granted on the forwarder's service alone, once it exists.
    note "Eventarc delivers the forwarder's events as $(trigger_account) (roles/eventarc.eventReceiver)"
    ensure gcloud iam service-accounts describe "$(trigger_account)" "${P[@]}" \
      -- gcloud iam service-accounts create "$TRIGGER_ACCOUNT" \
      "--display-name=Eventarc trigger caller of ${EVENT_DRIVEN[*]}" "${P[@]}"
    retry run_quiet gcloud projects add-iam-policy-binding "$PROJECT" \
      "--member=serviceAccount:$(trigger_account)" --role=roles/eventarc.eventReceiver --condition=None
  fi
}

# New projects no longer give the default build account an editor role, and with
# prompts off `gcloud functions deploy` skips its check of that account: the build then
# fails with little to go on. Which account that is, Cloud Build says (the legacy
# Cloud Build account in older projects, the default compute account in newer ones).
build_account() {
  section "Cloud Build account ($BUILDER_ROLE)"
  local account="${CONF[BUILD_SERVICE_ACCOUNT]:-}"
  local compute="$PROJECT_NUMBER-compute@developer.gserviceaccount.com"
  if [[ -n "$account" ]]; then
    note "Cloud Build builds the functions as $account (BUILD_SERVICE_ACCOUNT)"
  else
    note "the account Cloud Build builds as, by default, in $REGION:"
    local ask=(gcloud builds get-default-service-account "--region=$REGION"
      "--format=value(serviceAccountEmail)" "${P[@]}")
    show "${ask[@]}"
    if ((DRY)); then
      account="<build-account>"
    elif account="$("${ask[@]}" 2>"$WORK/build-account.err")"; then
      # projects/PROJECT/serviceAccounts/EMAIL, or nothing when builds have no default.
      account="${account##*/}"
      [[ -n "$account" ]] || die "Cloud Build has no default account in $REGION: set" \
        "BUILD_SERVICE_ACCOUNT in deploy.env to an account for the builds"
    else
      note "WARNING: Cloud Build did not say ($(head -n 1 "$WORK/build-account.err")):" \
        "taking the default compute account"
      account="$compute"
    fi
    note "Cloud Build builds the functions as $account"
    editor_warning "$account" "$compute"
  fi
  note "a build or revision refused for a permission, as happens in the minutes after a role"
  note "is granted, is deployed again after $((POLL * 3)) s, then twice as long each time," \
    "$DEPLOY_ATTEMPTS attempts at most"
  retry run_quiet gcloud projects add-iam-policy-binding "$PROJECT" \
    "--member=serviceAccount:$account" "--role=$BUILDER_ROLE" --condition=None ||
    die "could not grant $BUILDER_ROLE to $account: does it exist? Set BUILD_SERVICE_ACCOUNT" \
      "in deploy.env to an account that does"
}

# editor_warning ACCOUNT COMPUTE: a WARNING, and how to remove the role, when the
# builds run as the default compute account holding roles/editor (older projects gave
# it that role): every build could then change almost anything in the project.
editor_warning() {
  local account="$1" compute="$2" policy lines line
  if ((DRY)); then
    show gcloud projects get-iam-policy "$PROJECT" --format=json
    say "  # if it is the default compute account and holds roles/editor: a WARNING, with"
    say "  # the command that removes the role"
    return
  fi
  [[ "$account" == "$compute" ]] || return 0
  capture_or_empty policy "" gcloud projects get-iam-policy "$PROJECT" --format=json
  # A warning only: whatever goes wrong reading the roles stops nothing.
  lines="$(printf '%s' "$policy" | py preflight build-account "--project=$PROJECT" \
    "--account=$account" "--compute-account=$compute")" ||
    lines="WARNING: the roles of $account could not be read"
  [[ -z "$lines" ]] || while IFS= read -r line; do note "$line"; done <<<"$lines"
}

# A role granted moments ago takes a while to reach every Google service: Cloud Build
# or Cloud Run may refuse a first build or revision for a permission in the meantime.
# IAM says a change usually applies within 2 minutes, sometimes 7 or more: six attempts,
# waits doubling from 3 polls (15 s: 7.75 minutes in all). Any other error stops the run.
DEPLOY_ATTEMPTS=6
PERMISSION_REFUSED='PERMISSION_DENIED|does not have permission|does not have [a-z]+[.][a-zA-Z.]+ access|missing permission|permission .*denied'

# deploy_again CMD...: runs a deployment, again while it is refused for a permission.
deploy_again() {
  show "$@"
  ((DRY)) && return 0
  local attempt status err="$WORK/deploy.err" wait=$((POLL * 3))
  for ((attempt = 1; ; attempt++)); do
    status=0
    # gcloud's progress and errors still reach the terminal; a copy is read below. The
    # braces make this shell start the copy, so that it can wait for the copy's end.
    { "$@"; } 2> >(tee "$err" >&2) || status=$?
    wait "$!" 2>/dev/null || true
    ((status)) || return 0
    if ((attempt == DEPLOY_ATTEMPTS)) || ! grep -Eqi "$PERMISSION_REFUSED" "$err"; then
      return "$status"
    fi
    note "refused for a permission (a role granted moments ago may not have reached every" \
      "service yet): deploying again in $wait s, attempt $((attempt + 1)) of $DEPLOY_ATTEMPTS"
    sleep "$wait"
    wait=$((wait * 2))
  done
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

# write_env FILE FUNCTION: the function's plain environment, shown in the plan: the
# settings it reads, and what this script works out for it.
write_env() {
  local file="$1" fn="$2" k value names=() lines=()
  read -r -a names <<<"${ENV_OF[$fn]}"
  local shown=()
  for k in "${names[@]}"; do
    if [[ -n "${WORKED_OUT[$k]+set}" ]]; then value="${WORKED_OUT[$k]}"; else value="${CONF[$k]}"; fi
    lines+=("$k: $(yaml_value "$value")")
    if is_private_setting "$k"; then shown+=("$k: <omitted>"); else shown+=("${lines[-1]}"); fi
  done
  note "${INDENT}$file (--env-vars-file; unset settings keep the code's defaults):"
  for k in "${shown[@]}"; do note "${INDENT}  $k"; done
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
  # The sweep's limit is above one so that a deliveries run that starts during a long
  # nightly run is served rather than refused; two sweeps never send the same thing.
  cmd+=("--max-instances=${MAX_INSTANCES[$fn]}")
  # The forwarder's instances times their concurrency bound the sends EmailJS and the
  # Apps Script web app see at once; an event past that waits in Eventarc's queue.
  [[ -z "${CONCURRENCY[$fn]:-}" ]] ||
    cmd+=("--concurrency=${CONCURRENCY[$fn]}" "--cpu=$CONCURRENT_CPU" "--memory=$CONCURRENT_MEMORY")
  # The console is reached by the team's browsers, with no IAM token: Cloud Run lets
  # every request through and the function checks the Google ID token it carries.
  if is_public "$fn" || is_team "$fn"; then
    cmd+=(--allow-unauthenticated)
  elif is_event_driven "$fn"; then
    # An HTTP function all the same: its decorator makes it take CloudEvents, and its
    # triggers are Eventarc's own (a function deployed with one takes only one).
    cmd+=(--no-allow-unauthenticated "--timeout=$FORWARD_TIMEOUT")
  else
    cmd+=(--no-allow-unauthenticated "--timeout=$SWEEP_TIMEOUT")
  fi
  [[ -z "${CONF[BUILD_SERVICE_ACCOUNT]:-}" ]] ||
    cmd+=("--build-service-account=projects/$PROJECT/serviceAccounts/${CONF[BUILD_SERVICE_ACCOUNT]}")
  cmd+=("${P[@]}")
  deploy_again "${cmd[@]}"
}

# CONSOLE_URL, for the sweep's nudges: the console's own URL, read from the function.
# The console deploys before the sweep, so a first deployment of both finds it; a
# sweep deployed without a console gets a link that leads nowhere, and says so.
console_url() {
  local url
  note "CONSOLE_URL, the link in the nudge emails, is the console's URL:"
  capture_or_empty url "<$CONSOLE-url>" gcloud functions describe "$CONSOLE" "--region=$REGION" \
    "--format=value(serviceConfig.uri)" "${P[@]}"
  if ((DRY)) && ! selected "$CONSOLE"; then
    say "  # if $CONSOLE is not deployed: CONSOLE_URL is $PENDING_CONSOLE_URL"
  elif [[ -z "$url" ]]; then
    note "WARNING: $CONSOLE is not deployed: the nudge emails link to $PENDING_CONSOLE_URL"
    note "WARNING: until it is, and the sweep is deployed again"
    url="$PENDING_CONSOLE_URL"
  fi
  WORKED_OUT[CONSOLE_URL]="$url"
}

functions_step() {
  local fn
  for fn in "${SELECTED[@]}"; do
    section "Function $fn ($(kind_of "$fn"))"
    show ./deploy.sh --stage "$fn" "$WORK/$fn"
    ((DRY)) || stage "$fn" "$WORK/$fn"
    if [[ "$fn" != "$SWEEP" ]]; then
      write_env "$WORK/$fn.env.yaml" "$fn"
      deploy_function "$fn" "$WORK/$fn.env.yaml"
      check_foreseen_service "$fn"
      if is_event_driven "$fn"; then
        note "only $(trigger_account) may invoke $fn (roles/run.invoker on its Cloud Run service)"
        retry run_quiet gcloud functions add-invoker-policy-binding "$fn" "--region=$REGION" \
          "--member=serviceAccount:$(trigger_account)" "${P[@]}"
      fi
      if [[ "$fn" == "$CONSOLE" ]] && ! selected "$SWEEP"; then
        note "the sweep's nudges link to the console's URL as it was when the sweep was last"
        note "deployed: after the console's first deployment, run deploy.sh --only $SWEEP once"
      fi
      continue
    fi
    console_url
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
      WORKED_OUT[SWEEP_AUDIENCE]="$PENDING_AUDIENCE"
      write_env "$WORK/$fn.env.yaml" "$fn"
      deploy_function "$fn" "$WORK/$fn.env.yaml"
      capture SWEEP_URL "<sweep-url>" "${describe[@]}"
      INDENT=""
      [[ -n "$SWEEP_URL" ]] || die "$SWEEP has no URL after its deployment"
    fi
    WORKED_OUT[SWEEP_AUDIENCE]="$SWEEP_URL"
    write_env "$WORK/$fn.env.yaml" "$fn"
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
    "Sends what is due: email and CRM retries, the team's chat nudges"
}

# The triggers of the selected functions, one name a line; fails when there are none.
selected_triggers() {
  local name found=1
  for name in "${TRIGGERS[@]}"; do
    if selected "${TRIGGER_OF[$name]%% *}"; then
      echo "$name"
      found=0
    fi
  done
  return "$found"
}

# Each Firestore write the forwarder handles reaches it through a trigger of its own.
# Eventarc carries the event over Pub/Sub, which delivers it again, with backoff from
# 10 s to 10 minutes for 24 hours, while the function answers an error (a Firestore
# failure; a busy EmailJS or CRM is recorded and left to the sweep) or does not answer.
# A repeated event sends nothing twice: each send holds a lease on its record. Whatever
# the forwarder does not finish, the 10-minute deliveries sweep sends.
triggers_step() {
  local names name fn event document service
  names="$(selected_triggers)" || return 0
  section "Eventarc triggers (Firestore writes, delivered as $(trigger_account))"
  note "Google gives Eventarc's service agent its role (roles/eventarc.serviceAgent) with the"
  note "first trigger: nothing to grant (restore it if it was removed)"
  note "Pub/Sub pushes each event with an ID token for $(trigger_account): its service agent"
  note "may make tokens for that account alone (required where the agent predates 8 April 2021)"
  run_quiet gcloud beta services identity create --service=pubsub.googleapis.com "${P[@]}"
  retry run_quiet gcloud iam service-accounts add-iam-policy-binding "$(trigger_account)" \
    "--member=serviceAccount:service-$PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com" \
    --role=roles/iam.serviceAccountTokenCreator "${P[@]}"
  note "a failed delivery is delivered again by Pub/Sub, with backoff, for 24 hours; the"
  note "deliveries sweep sends whatever is still pending every minute"
  for name in $names; do
    read -r fn event document <<<"${TRIGGER_OF[$name]}"
    service_of "$fn"
    service="${SERVICE[$fn]}"
    [[ -n "$service" ]] || die "$fn has no Cloud Run service after its deployment"
    note "$name: ${event##*.} on $document -> $fn"
    local common=("--location=$REGION" "--destination-run-service=$service"
      "--destination-run-region=$REGION" "--event-filters=type=$event"
      "--event-filters=database=(default)" "--event-filters-path-pattern=document=$document"
      --event-data-content-type=application/protobuf "--service-account=$(trigger_account)"
      "${P[@]}")
    # Right after the API is enabled, Eventarc's service agent may not hold its role yet.
    retry ensure gcloud eventarc triggers describe "$name" "--location=$REGION" "${P[@]}" \
      -- gcloud eventarc triggers create "$name" "${common[@]}" \
      -- gcloud eventarc triggers update "$name" "${common[@]}"
  done
}

declare -A SERVICE=()
# service_of FN: SERVICE[FN] is the Cloud Run service behind the function, "" while it is
# not deployed. Read from the function rather than guessed from its name.
service_of() {
  local fn="$1" described
  [[ -z "${SERVICE[$fn]+set}" ]] || return 0
  capture_or_empty described "<$fn-service>" gcloud functions describe "$fn" "--region=$REGION" \
    "--format=value(serviceConfig.service)" "${P[@]}"
  SERVICE[$fn]="${described##*/}"
}

# Before any function is deployed, so that nothing is stored elsewhere, nor a visitor's
# request kept, even for the minutes a first deployment takes.
logs_step() {
  section "Logs: stored in $REGION, the visitors' request logs left out"
  log_bucket
  request_log_exclusion
}

# The _Default sink stores the project's logs (the functions' own lines among them) in
# the _Default bucket, in the global location. It is pointed at a bucket in the region.
# The _Required bucket stays global: Google lets no one move it or exclude from it, and
# it holds only Google's audit logs of changes to the project, never a visitor's.
log_bucket() {
  local bucket days destination current update
  IFS=$'\t' read -r bucket days destination < <(py monitoring log-bucket "--project=$PROJECT" \
    "--region=$REGION")
  [[ -n "$destination" ]] || exit 1
  note "the _Default sink stores into the log bucket $bucket in $REGION ($days days)"
  ensure gcloud logging buckets describe "$bucket" "--location=$REGION" "${P[@]}" \
    -- gcloud logging buckets create "$bucket" "--location=$REGION" "--retention-days=$days" \
    "--description=The project's logs, kept in $REGION (deploy.sh)" "${P[@]}"
  capture_or_empty current "<destination>" gcloud logging sinks describe _Default \
    "--format=value(destination)" "${P[@]}"
  update=(gcloud logging sinks update _Default "$destination" "${P[@]}")
  if ((DRY)); then
    say "  # if it stores elsewhere:"
    INDENT="  "
    show "${update[@]}"
    INDENT=""
  elif [[ "$current" != "$destination" ]]; then
    run_quiet "${update[@]}"
  fi
}

declare -A FORESEEN=() # public functions not deployed yet: the service the exclusion names
# foreseen_service FN: the Cloud Run service a first deployment of FN makes, its name in
# lower case with '-' for '_' (a service name allows neither capitals nor '_').
foreseen_service() {
  local name="${1,,}"
  printf '%s' "${name//_/-}"
}

# Cloud Run logs every request with the visitor's IP and user agent, which the privacy
# notice does not list; the exclusion keeps them out of the _Default sink. The
# functions' own lines are another log and stay.
request_log_exclusion() {
  note "Cloud Run's request log holds each visitor's IP and user agent; the functions' own lines stay"
  # No visitor calls the console: its callers are the team and those it refuses, and
  # its request log is the one record of where each call came from, so it is kept.
  local fn services=() kept=""
  for fn in "${FUNCTIONS[@]}"; do is_public "$fn" || kept+="${kept:+, }$fn's"; done
  [[ "$kept" != *", "* ]] || kept="${kept%, *} and ${kept##*, }"
  note "$kept request logs are kept: no visitor calls them"
  if ((DRY)); then
    note "a public function not deployed yet is named by the service its first deployment makes"
    note "(its name in lower case, '-' for '_'), read again once it is deployed"
  fi
  for fn in "${PUBLIC[@]}"; do
    service_of "$fn"
    if [[ -z "${SERVICE[$fn]}" ]]; then
      FORESEEN[$fn]="$(foreseen_service "$fn")"
      services+=("${FORESEEN[$fn]}")
    else
      services+=("${SERVICE[$fn]}")
    fi
  done
  exclude_request_logs "${services[@]}"
}

# exclude_request_logs SERVICE...: the exclusion on the _Default sink, made or updated.
exclude_request_logs() {
  local name description filter names
  IFS=$'\t' read -r name description filter < <(py monitoring request-log-exclusion "$@")
  [[ -n "$filter" ]] || exit 1
  local spec="name=$name,description=$description,filter=$filter"
  capture_or_empty names "<exclusion-names>" gcloud logging sinks describe _Default \
    "--format=value(exclusions[].name)" "${P[@]}"
  if ((DRY)); then
    say "  # if the sink has it:"
    INDENT="  "
    show gcloud logging sinks update _Default "--update-exclusion=$spec" "${P[@]}"
    INDENT=""
    say "  # if it is missing:"
    INDENT="  "
    show gcloud logging sinks update _Default "--add-exclusion=$spec" "${P[@]}"
    INDENT=""
  elif [[ ";$names;" == *";$name;"* ]]; then
    run_quiet gcloud logging sinks update _Default "--update-exclusion=$spec" "${P[@]}"
  else
    run_quiet gcloud logging sinks update _Default "--add-exclusion=$spec" "${P[@]}"
  fi
}

# A public function deployed for the first time: the exclusion named the service it was
# foreseen to make. Should Google name it otherwise, the exclusion follows at once.
check_foreseen_service() {
  local fn="$1" other services=()
  [[ -n "${FORESEEN[$fn]:-}" ]] || return 0
  unset "SERVICE[$fn]"
  service_of "$fn"
  [[ -n "${SERVICE[$fn]}" && "${SERVICE[$fn]}" != "${FORESEEN[$fn]}" ]] || return 0
  note "WARNING: $fn's service is ${SERVICE[$fn]}, not ${FORESEEN[$fn]}: the exclusion follows"
  unset "FORESEEN[$fn]"
  for other in "${PUBLIC[@]}"; do
    services+=("${FORESEEN[$other]:-${SERVICE[$other]}}")
  done
  exclude_request_logs "${services[@]}"
}

# first_line VAR: keeps the first line of VAR (a list answered by display name).
first_line() { printf -v "$1" '%s' "${!1%%$'\n'*}"; }

alerts_step() {
  section "Alerts (Cloud Monitoring, emailed to ALERT_EMAIL)"
  local email="${CONF[ALERT_EMAIL]:-}"
  if [[ -z "$email" ]]; then
    note "WARNING: ALERT_EMAIL is not set in deploy.env: no alerts are set up, so a failed"
    note "WARNING: delivery, a missed sweep or a function answering 5xx reaches nobody"
    return
  fi
  note "log-based metrics on the functions' own lines (factoryops.logs):"
  # The rows are read whole first: gcloud, run inside the loop, may read stdin.
  local lines row rows=() name description filter
  lines="$(py monitoring metrics)" || exit 1
  mapfile -t rows <<<"$lines"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r name description filter <<<"$row"
    ensure gcloud logging metrics describe "$name" "${P[@]}" \
      -- gcloud logging metrics create "$name" "--description=$description" \
      "--log-filter=$filter" "${P[@]}" \
      -- gcloud logging metrics update "$name" "--description=$description" \
      "--log-filter=$filter" "${P[@]}"
  done

  note "the email channel, found by its display name '$ALERT_CHANNEL':"
  local channel update create
  capture_or_empty channel "<channel-name>" gcloud beta monitoring channels list \
    "--filter=displayName=\"$ALERT_CHANNEL\"" "--format=value(name)" "${P[@]}"
  first_line channel
  update=(gcloud beta monitoring channels update "$channel"
    "--update-channel-labels=email_address=$email" "${P[@]}")
  create=(gcloud beta monitoring channels create "--display-name=$ALERT_CHANNEL" --type=email
    "--channel-labels=email_address=$email"
    "--description=Alerts of the FactoryOps AI website backend, set up by deploy.sh"
    "--format=value(name)" "${P[@]}")
  if ((DRY)); then
    say "  # if it exists:"
    INDENT="  "
    show "${update[@]}"
    INDENT=""
    say "  # if it is missing:"
    INDENT="  "
    show "${create[@]}"
    INDENT=""
  elif [[ -n "$channel" ]]; then
    run_quiet "${update[@]}"
  else
    capture channel "" "${create[@]}"
    [[ -n "$channel" ]] || die "the notification channel for $email was not created"
  fi

  local fn services=()
  for fn in "${FUNCTIONS[@]}"; do
    service_of "$fn"
    [[ -z "${SERVICE[$fn]}" ]] || services+=("${SERVICE[$fn]}")
  done
  if ((${#services[@]} == 0)); then
    note "no function is deployed yet: the alerting policies come with a later run"
    return
  fi
  local dry=() file body existing
  ((!DRY)) || dry=(--dry-run)
  note "alerting policies, found by display name, written by deployment/monitoring.py:"
  lines="$(py monitoring policies "--project=$PROJECT" "--channel=$channel" "--dir=$WORK" \
    "${dry[@]}" "${services[@]}")" || exit 1
  mapfile -t rows <<<"$lines"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r name file body <<<"$row"
    note "$file: $body"
    capture_or_empty existing "<policy-name>" gcloud alpha monitoring policies list \
      "--filter=displayName=\"$name\"" "--format=value(name)" "${P[@]}"
    first_line existing
    if ((DRY)); then
      say "  # if it exists:"
      INDENT="  "
      show gcloud alpha monitoring policies update "$existing" "--policy-from-file=$file" "${P[@]}"
      INDENT=""
      say "  # if it is missing:"
      INDENT="  "
      show gcloud alpha monitoring policies create "--policy-from-file=$file" "${P[@]}"
      INDENT=""
    elif [[ -n "$existing" ]]; then
      run_quiet gcloud alpha monitoring policies update "$existing" "--policy-from-file=$file" "${P[@]}"
    else
      run_quiet gcloud alpha monitoring policies create "--policy-from-file=$file" "${P[@]}"
    fi
  done
}

closing() {
  section "Function URLs"
  local fn url rows=() console=""
  for fn in "${SELECTED[@]}"; do
    capture_or_empty url "<$fn-url>" gcloud functions describe "$fn" "--region=$REGION" \
      "--format=value(serviceConfig.uri)" "${P[@]}"
    rows+=("$fn  ${url:-<not deployed>}")
    [[ "$fn" != "$CONSOLE" ]] || console="$url"
  done
  say ""
  for url in "${rows[@]}"; do say "$url"; done
  if [[ -n "$console" ]]; then
    # An origin is the scheme and host only. The page asks for /console.js at the root
    # of its origin, so the function's cloudfunctions.net address, where it sits under
    # /$CONSOLE, does not serve it whole: the run.app one is the console's.
    [[ ! "$console" =~ ^(https?://[^/]+) ]] || console="${BASH_REMATCH[1]}"
    say ""
    say "The team console is at $console. Its OAuth client (TEAM_OAUTH_CLIENT_ID) must"
    say "list that origin under Authorized JavaScript origins (Google Cloud console, APIs &"
    say "Services, Credentials; README.md, Deploying), or Google's sign-in refuses the page."
  fi
  local signs=0
  for fn in "${SELECTED[@]}"; do
    [[ " $(function_secrets "$fn") " != *" CRM_APPS_SCRIPT_KEY "* ]] || signs=1
  done
  if ((signs)); then
    # The web app cannot read Secret Manager: it verifies with its own copy of the key.
    say ""
    say "The Apps Script web app refuses every request until it holds CRM_APPS_SCRIPT_KEY,"
    say "the key the functions sign with. Copy it into the script's properties (again after"
    say "each new version of the secret):"
    say "  gcloud secrets versions access latest --secret=CRM_APPS_SCRIPT_KEY --project=$PROJECT"
    say "then, in the script's editor, Project Settings > Script properties, add the property"
    say "CRM_APPS_SCRIPT_KEY with that value (apps_script/README.md)."
  fi
  say ""
  if ((DRY)); then
    say "Dry run: nothing was run."
  else
    say "Deployed. Point the site's script at the URLs above."
  fi
}

# --verify: deployment/verify.py checks the live system and prints the table; the
# access token (for the Rules API) reaches it on stdin, as it reaches google_apis.py.
verify_main() {
  if ((DRY)); then
    note "deploy.sh --verify plan (dry run: nothing below is run; <...> is a value known at run time)"
  else
    export CLOUDSDK_CORE_DISABLE_PROMPTS=1
    note "deploy.sh --verify: checks the live system; it stores no personal data and runs the deliveries sweep once"
  fi
  note "project $PROJECT, region $REGION"
  if ((!DRY)); then
    local account
    account="$(gcloud auth list --filter=status:ACTIVE "--format=value(account)")"
    [[ -n "$account" ]] || die "no authenticated gcloud account: run 'gcloud auth login'"
  fi
  access_token
  local args=(verify "--project=$PROJECT" "--region=$REGION"
    "--allowed-origins=${CONF[ALLOWED_ORIGINS]}" "--scheduler-account=$(scheduler_account)"
    "--trigger-account=$(trigger_account)"
    "--jobs=$RETENTION_JOB,$DELIVERIES_JOB" "--run-job=$DELIVERIES_JOB"
    "--rules=$ROOT/firestore.rules" "--indexes=$ROOT/firestore.indexes.json"
    "--wait=$VERIFY_WAIT" "--poll=$POLL"
    "--console-client-id=${CONF[TEAM_OAUTH_CLIENT_ID]:-}")
  if ((DRY)); then
    py "${args[@]}" --dry-run </dev/null
  else
    printf '%s\n' "$TOKEN" | py "${args[@]}"
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
  require_tools
  read_plan
  select_functions
  P=("--project=$PROJECT")
  if ((VERIFY)); then
    verify_main
    return
  fi
  work_out
  if ((DRY)); then
    WORK="<workdir>"
    PROJECT_NUMBER="<project-number>"
  else
    export CLOUDSDK_CORE_DISABLE_PROMPTS=1
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/factoryops-deploy.XXXXXX")"
    trap finish EXIT
  fi
  header
  prerequisites
  STARTED=1
  enable_apis
  logs_step
  firestore_database
  ttl_policies
  indexes_step
  publish_rules
  TOKEN=""
  secrets_step
  service_accounts
  build_account
  functions_step
  triggers_step
  scheduler_step
  alerts_step
  closing
}

main "$@"
