#!/usr/bin/env bash
# Scripted checks of the front door, run by `./forge test` after scripts/smoke.sh:
#  0. Ctrl-C (SIGINT to its process group, as a terminal sends it) during a cold `./forge pipeline`
#     exits 130, cancels the running job, stops local mode and keeps what was made so far;
#  1. `./forge pipeline "TASK"` from cold (no `./forge up` running, no teacher configured, no network)
#     starts local mode, runs teacher -> dataset -> LoRA -> eval -> gate -> serve on stories260k,
#     prints the served model's chat answer and exits 0, all within 10 minutes, and stops local mode;
#  2. with local mode up again, `./forge job ID --follow` in a pseudo-terminal (tmux) shows the
#     progress bar advancing (the step count grows between screen captures) and ends with SUCCEEDED
#     and exit code 0; the job is a training run published with `./forge publish`;
#  3. the CLI's contracts: `publish` refuses an invalid request naming its fields (exit 2), an unknown
#     job is exit 4, `jobs --json` and `models --json` are JSON listing the pipeline's job and model;
#  4. the dashboard in headless Chromium shows the pipeline's loss curve, eval table and lineage
#     (scripts/dashboard-check.sh), when that script is present.
# Ports are far from the defaults and from smoke.sh's, so a developer's `./forge up` is left alone.
set -euo pipefail
set -m

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forge-frontdoor.XXXXXX")
PORT_BASE=${FORGE_FRONTDOOR_PORT_BASE:-18800}
export FORGE_HOME=$WORK/home FORGE_GATEWAY_PORT=$PORT_BASE FORGE_DATAGEN_PORT=$((PORT_BASE + 1)) \
  FORGE_TRAINER_PORT=$((PORT_BASE + 2)) FORGE_EVAL_PORT=$((PORT_BASE + 3)) FORGE_KAFKA_PORT=$((PORT_BASE + 9))
unset FORGE_TEACHER_BASE_URL FORGE_TEACHER_API_KEY FORGE_TEACHER_MODEL KAFKA_BOOTSTRAP_SERVERS FORGE_GATEWAY_URL FORGE_API_KEYS
JOB=frontdoor-$$
TMUX_SESSION=forge-frontdoor-$$
passed=0 failed=0
UP_PID=""

cleanup() {
  tmux kill-session -t "$TMUX_SESSION" 2>/dev/null || true
  stop_up
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "frontdoor: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "frontdoor: PASS $*"; }
fail() { failed=$((failed + 1)); echo "frontdoor: FAIL $*"; }
forge() { "$ROOT/forge" "$@"; }

stop_up() {
  [ -n "$UP_PID" ] || return 0
  kill -TERM "$UP_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$UP_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  kill -KILL "$UP_PID" 2>/dev/null || true
  UP_PID=""
}

need() { # need COMMAND PACKAGE: installs the Debian package when the command is absent
  command -v "$1" >/dev/null && return 0
  echo "frontdoor: installing $2 (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null 2>&1 || true
  command -v "$1" >/dev/null
}

# ---- 0. Ctrl-C ---------------------------------------------------------------------------
check_interrupt() {
  local out=$WORK/interrupt.out code=0
  perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' "$ROOT/forge" pipeline --id "$JOB-int" "Tell a story." \
    </dev/null >"$out" 2>&1 &
  local pid=$! deadline=$((SECONDS + 180))
  until grep -q 'checkpoint part-' "$out" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      fail "Ctrl-C: the pipeline's first job never ran"; sed 's/^/  | /' "$out"; return
    fi
    sleep 0.3
  done
  kill -INT -- "-$pid"
  wait "$pid" || code=$?
  sed 's/^/  | /' "$out"
  if [ $code -ne 130 ]; then
    fail "Ctrl-C: ./forge pipeline exited $code, expected 130"
  elif pgrep -f "$FORGE_HOME" >/dev/null; then
    fail "Ctrl-C left processes of local mode running: $(pgrep -f "$FORGE_HOME" | tr '\n' ' ')"
    pkill -KILL -f "$FORGE_HOME" || true
  elif ! grep -q "cancelled $JOB-int" "$out"; then
    fail "Ctrl-C: the running job was not cancelled"
  elif [ ! -d "$FORGE_HOME/artifacts/datagen/$JOB-int" ]; then
    fail "Ctrl-C: what the job made is gone from $FORGE_HOME/artifacts/datagen/$JOB-int"
  else
    pass "Ctrl-C: ./forge pipeline exited 130, cancelled its job, stopped local mode, kept its artifacts"
  fi
}

# ---- 1. the pipeline from cold ---------------------------------------------------------------
check_pipeline() {
  local out=$WORK/pipeline.out start=$SECONDS code=0
  timeout 660 "$ROOT/forge" pipeline --id "$JOB" "Tell a short story about a cat." </dev/null >"$out" 2>&1 || code=$?
  local took=$((SECONDS - start))
  sed 's/^/  | /' "$out"
  # the answer: whatever the model wrote on the lines after the "> prompt" line
  local answer
  answer=$(awk 'found && !/^forge: / {print} /^> /{found=1}' "$out" | tr -d '[:space:]')
  if [ $code -ne 0 ]; then
    fail "./forge pipeline exited $code after ${took}s"
    for f in "$FORGE_HOME"/logs/*.log; do echo "  --- $f"; tail -n 15 "$f" | sed 's/^/  | /'; done
  elif [ -z "$answer" ]; then
    fail "./forge pipeline printed no chat answer"
  elif [ $took -gt 600 ]; then
    fail "./forge pipeline took ${took}s, more than 600s"
  elif ! grep -q "approved and served" "$out"; then
    fail "./forge pipeline did not report the model approved and served"
  else
    pass "./forge pipeline: dataset, LoRA, eval, gate, served model and its answer in ${took}s (limit 600s)"
  fi
  if pgrep -f "$FORGE_HOME" >/dev/null; then
    fail "./forge pipeline left processes of its local mode running: $(pgrep -f "$FORGE_HOME" | tr '\n' ' ')"
    pkill -KILL -f "$FORGE_HOME" || true
  fi
}

start_up() {
  perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' "$ROOT/forge" up </dev/null >"$WORK/up.log" 2>&1 &
  UP_PID=$!
  local deadline=$((SECONDS + 120))
  until grep -q '^forge: ready' "$WORK/up.log" 2>/dev/null; do
    if ! kill -0 "$UP_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      sed 's/^/  | /' "$WORK/up.log"; return 1
    fi
    sleep 0.5
  done
}

# ---- 2. job --follow in a pseudo-terminal ------------------------------------------------------
check_follow() {
  need tmux tmux || { fail "job --follow: tmux is not installed and could not be"; return; }
  local follow=$JOB-follow request=$WORK/follow.json
  printf '{"job_id":"%s","base_model":"stories260k","dataset":"%s","max_steps":80,"learning_rate":0.0005,"micro_batch_size":4,"max_seq_length":64,"save_interval":40,"eval_interval":40}\n' \
    "$follow" "$JOB" >"$request"
  forge publish train "$request" >/dev/null || { fail "job --follow: could not publish the training request"; return; }
  tmux new-session -d -s "$TMUX_SESSION" -x 150 -y 30 \
    "'$ROOT/forge' job '$follow' --follow; echo FOLLOW-EXIT=\$?; sleep 600"
  local deadline=$((SECONDS + 300)) screen steps=() last=-1 step bar=0
  while [ $SECONDS -lt $deadline ]; do
    screen=$(tmux capture-pane -p -t "$TMUX_SESSION" 2>/dev/null || true)
    step=$(printf '%s\n' "$screen" | grep -o 'step [0-9]*/80' | tail -n 1 | grep -o '[0-9]*/' | tr -d / || true)
    if [ -n "$step" ] && [ "$step" != "$last" ]; then steps+=("$step"); last=$step; fi
    grep -q '█' <<<"$screen" && bar=1
    grep -q 'FOLLOW-EXIT=' <<<"$screen" && break
    sleep 0.3
  done
  printf '%s\n' "$screen" | sed 's/^/  | /'
  local increasing=1 i
  for ((i = 1; i < ${#steps[@]}; i++)); do [ "${steps[$i]}" -gt "${steps[$((i - 1))]}" ] || increasing=0; done
  if ! grep -q 'FOLLOW-EXIT=0' <<<"$screen"; then
    fail "job --follow did not end with exit code 0 within 300 s"
  elif ! grep -q "SUCCEEDED" <<<"$screen"; then
    fail "job --follow did not show the final state SUCCEEDED"
  elif [ ${#steps[@]} -lt 3 ] || [ $increasing = 0 ]; then
    fail "job --follow: the progress bar did not advance (steps seen: ${steps[*]:-none})"
  elif [ $bar = 0 ]; then
    fail "job --follow drew no progress bar"
  else
    pass "job --follow in a pseudo-terminal: the bar advanced through steps ${steps[*]} and ended SUCCEEDED (exit 0)"
  fi
}

# ---- 3. the CLI's exit codes and JSON ---------------------------------------------------------
check_cli() {
  local code=0 err=$WORK/publish.err
  printf '{"job_id":"%s-bad","base_model":"stories260k","lora":{"r":0},"epochs":-1}\n' "$JOB" >"$WORK/bad.json"
  forge publish train "$WORK/bad.json" >/dev/null 2>"$err" || code=$?
  if [ $code -eq 2 ] && grep -q 'dataset' "$err" && grep -q 'lora.r' "$err"; then
    pass "publish refuses an invalid request with exit 2, naming its fields ($(tr '\n' ' ' <"$err" | cut -c1-100)...)"
  else
    fail "publish of an invalid request: exit $code, stderr: $(cat "$err")"
  fi
  code=0
  forge job "no-such-job-$$" >/dev/null 2>&1 || code=$?
  [ $code -eq 4 ] && pass "job of an unknown id exits 4" || fail "job of an unknown id exited $code, expected 4"
  local jobs models
  jobs=$(forge jobs --json -n 0) models=$(forge models --json)
  if python3 -c 'import json,sys; j=json.loads(sys.argv[1]); m=json.loads(sys.argv[2]); ids={x["job_id"] for x in j}; \
      assert {sys.argv[3], sys.argv[3]+"-train", sys.argv[3]+"-train-eval"} <= ids, ids; \
      assert any(x["id"]=="ft-"+sys.argv[3]+"-train" and x["status"]=="approved" for x in m)' "$jobs" "$models" "$JOB"; then
    pass "jobs --json and models --json list the pipeline's three jobs and its approved model"
  else
    fail "jobs --json / models --json do not list the pipeline's jobs and model"
  fi
}

# the job interrupted in check 0 ends CANCELLED once local mode is back (its request is read again)
check_cancelled() {
  local deadline=$((SECONDS + 60)) state=""
  while [ $SECONDS -lt $deadline ]; do
    state=$(forge jobs --json -n 0 | python3 -c 'import json,sys; print(next((j["state"] for j in json.load(sys.stdin) if j["job_id"]==sys.argv[1]), ""))' "$JOB-int")
    [ "$state" = CANCELLED ] && break
    sleep 1
  done
  [ "$state" = CANCELLED ] && pass "the interrupted pipeline's job is CANCELLED, not resumed" \
    || fail "the interrupted pipeline's job is '$state', expected CANCELLED"
}

check_dashboard() {
  local script=$ROOT/scripts/dashboard-check.sh
  [ -f "$script" ] || return 0
  if OUT_DIR=${DASHBOARD_OUT_DIR:-$ROOT/target/dashboard-check} bash "$script" "http://127.0.0.1:$FORGE_GATEWAY_PORT" "$JOB-train"; then
    pass "dashboard: the pipeline's loss curve, eval table and lineage in headless Chromium"
  else
    fail "dashboard check (scripts/dashboard-check.sh)"
  fi
}

check_interrupt
check_pipeline
if start_up; then
  check_follow
  check_cli
  check_cancelled
  check_dashboard
else
  fail "./forge up did not get ready again after the pipeline"
fi
stop_up

echo "frontdoor: $passed passed, $failed failed"
[ $failed -eq 0 ]
