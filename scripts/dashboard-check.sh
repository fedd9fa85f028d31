#!/usr/bin/env bash
# dashboard-check.sh GATEWAY_URL JOB_ID [API_KEY]
#
# Opens the gateway's dashboard (/ui/) on a finished training job in headless Chromium and checks,
# from the page's DOM, what a person would look at: the job's loss curve has points and painted
# pixels, the eval table has per-subject rows with base and tuned accuracy, and the model's lineage
# names its dataset, base model and gate decision. JOB_ID is a training job that ran with
# `then: [eval, deploy]` (its eval job is JOB_ID-eval, its model ft-JOB_ID).
#
# Installs Debian's chromium with apt-get when it is absent (needs root). Writes the dumped DOM
# and a screenshot under $OUT_DIR (default target/dashboard-check/). Exits non-zero, saying why,
# on the first check that fails.
set -euo pipefail

usage() { echo "usage: $0 GATEWAY_URL JOB_ID [API_KEY]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 3 ] || usage
GATEWAY=${1%/}
JOB=$2
KEY=${3:-}
OUT_DIR=${OUT_DIR:-target/dashboard-check}
BUDGET_MS=${DASHBOARD_CHECK_BUDGET_MS:-20000}
MODEL="ft-$JOB"

say() { printf 'dashboard-check: %s\n' "$*"; }
fail() { printf 'dashboard-check: FAILED: %s\n' "$*" >&2; exit 1; }

find_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
CHROMIUM=$(find_chromium)
if [ -z "$CHROMIUM" ]; then
  say "chromium is not installed; installing Debian's chromium with apt-get"
  [ "$(id -u)" = 0 ] || fail "chromium is missing and installing it needs root (apt-get install chromium)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
    || fail "apt-get could not install chromium"
  CHROMIUM=$(find_chromium)
  [ -n "$CHROMIUM" ] || fail "chromium installed but not found on PATH"
fi

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
DOM=$OUT_DIR/dom.html
SHOT=$OUT_DIR/dashboard.png
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT

# The API answers before we spend a browser on it: a clear message for a wrong URL, key or job.
auth=()
[ -n "$KEY" ] && auth=(-H "Authorization: Bearer $KEY")
# 503 while the gateway is still reading the platform's topics: wait for it, a minute at most.
for _ in $(seq 60); do
  code=$(curl -s -o "$OUT_DIR/job.json" -w '%{http_code}' "${auth[@]}" "$GATEWAY/ui/api/jobs/$JOB") \
    || fail "the gateway at $GATEWAY does not answer"
  [ "$code" = 503 ] || break
  sleep 1
done
case $code in
  200) ;;
  401) fail "the gateway wants an API key (401): pass it as the third argument" ;;
  404) fail "the gateway knows no job '$JOB' ($(cat "$OUT_DIR/job.json"))" ;;
  *) fail "GET /ui/api/jobs/$JOB answered $code: $(cat "$OUT_DIR/job.json")" ;;
esac

# live=0: no status stream, whose open response would keep virtual time from running out;
# key=: the page stores it (localStorage) and sends it as a Bearer token.
FRAGMENT="job=$JOB&model=$MODEL&live=0"
[ -n "$KEY" ] && FRAGMENT="$FRAGMENT&key=$KEY"
URL="$GATEWAY/ui/#$FRAGMENT"

chrome() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$PROFILE" --window-size=1400,1800 --virtual-time-budget="$BUDGET_MS" "$@" "$URL" 2>>"$OUT_DIR/chromium.log"
}

say "opening $GATEWAY/ui/#job=$JOB&model=$MODEL in $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
chrome --dump-dom >"$DOM" || fail "chromium could not dump the page (see $OUT_DIR/chromium.log)"
chrome --screenshot="$SHOT" >/dev/null || fail "chromium could not take the screenshot (see $OUT_DIR/chromium.log)"
[ -s "$SHOT" ] || fail "no screenshot at $SHOT"
say "DOM: $DOM; screenshot: $SHOT"

# ---- assertions on the DOM -------------------------------------------------------------------

# the opening tag of the element with this id
tag() { grep -o "<[a-z]*[^>]* id=\"$1\"[^>]*>" "$DOM" | head -n1 || true; }
# an attribute's value in a tag
attr() { printf '%s' "$1" | grep -o " $2=\"[^\"]*\"" | head -n1 | sed -e "s/^ $2=\"//" -e 's/"$//' || true; }
is_number() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }

grep -q 'data-ready="true"' "$DOM" || fail "the page did not finish loading within ${BUDGET_MS} ms of virtual time"
body=$(grep -o '<body[^>]*>' "$DOM" | head -n1)
err=$(attr "$body" data-error)
[ -z "$err" ] || fail "the page reported an error: $err"

chart=$(tag loss-chart)
[ -n "$chart" ] || fail "no loss chart (#loss-chart) on the page"
points=$(attr "$chart" data-points)
painted=$(attr "$chart" data-painted-pixels)
held=$(attr "$chart" data-held-out-points)
[[ $points =~ ^[0-9]+$ ]] && [ "$points" -gt 0 ] || fail "the loss chart of $JOB drew no data points (data-points='$points')"
[[ $painted =~ ^[0-9]+$ ]] && [ "$painted" -gt 0 ] || fail "the loss chart's canvas has no painted pixels (data-painted-pixels='$painted')"
say "loss chart: $points points ($held held-out), $painted painted pixels"

rows=$(grep -o '<tr class="eval-row"[^>]*>' "$DOM" || true)
[ -n "$rows" ] || fail "the eval table (#eval-table) has no per-subject rows for $MODEL"
while IFS= read -r row; do
  subject=$(attr "$row" data-subject)
  base=$(attr "$row" data-base)
  tuned=$(attr "$row" data-tuned)
  is_number "$base" || fail "eval row '$subject' has no base accuracy (data-base='$base')"
  is_number "$tuned" || fail "eval row '$subject' has no tuned accuracy (data-tuned='$tuned')"
  say "eval: $subject base $base tuned $tuned"
done <<<"$rows"

lineage=$(tag lineage)
[ -n "$lineage" ] || fail "no lineage (#lineage) on the page"
[ "$(attr "$lineage" data-model)" = "$MODEL" ] || fail "the lineage shows model '$(attr "$lineage" data-model)', not $MODEL"
dataset=$(attr "$lineage" data-dataset)
base_model=$(attr "$lineage" data-base-model)
gate=$(attr "$lineage" data-gate)
status=$(attr "$lineage" data-status)
[ -n "$dataset" ] || fail "the lineage of $MODEL names no dataset"
[ -n "$base_model" ] || fail "the lineage of $MODEL names no base model"
[[ $gate = passed || $gate = failed ]] || fail "the lineage of $MODEL shows no gate decision (data-gate='$gate')"
grep -q 'data-step="gate"' "$DOM" || fail "the lineage has no gate step"
task=$(attr "$lineage" data-task)
say "lineage: task '${task:-(none)}' -> dataset $dataset -> base $base_model -> $MODEL -> gate $gate ($status)"
say "OK"
