#!/usr/bin/env bash
# Deploys the FactoryOps AI website backend to Google Cloud (see DESIGN §10).
#
#   ./deploy.sh --stage NAME DEST   stage one function's bundle into DEST and stop
#
# A function's bundle is exactly: its main.py, the shared package, requirements.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUNCTIONS=(contact_submit chat_message access_grant retention_sweep)

die() { echo "deploy.sh: $*" >&2; exit 1; }

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

main() {
  if [[ "${1:-}" == "--stage" ]]; then
    [[ $# -eq 3 ]] || die "usage: ./deploy.sh --stage NAME DEST"
    stage "$2" "$3"
    return
  fi
  die "usage: ./deploy.sh --stage NAME DEST (the full deployment is not written yet; known functions: ${FUNCTIONS[*]})"
}

main "$@"
