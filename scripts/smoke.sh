#!/usr/bin/env bash
# Scripted checks of the built jars, run by `./forge test` after the Maven tests:
#  1. `./forge up` brings every service to ready within 60 s; the trainer SIGKILLed mid-job is back
#     within 10 s and its job resumes and succeeds while the broker and the gateway go on; SIGINT
#     leaves no process behind;
#  2. each service started with `java -jar` is ready (HTTP 200, UP) while its broker runs and not
#     ready (HTTP 503, DOWN) within 15 s of the broker being killed.
# Ports are far from the defaults, so a developer's running `./forge up` is left alone.
# Every process started here is stopped on the way out, whatever happens.
set -euo pipefail
set -m # background jobs in their own process groups: otherwise bash starts them ignoring SIGINT
# A shell that inherits SIGINT ignored (a CI runner that starts us in the background) cannot trap it
# or pass it on, so `./forge up` is started through perl, which restores SIGINT's default first.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forge-smoke.XXXXXX")
PORT_BASE=${FORGE_SMOKE_PORT_BASE:-18700}
SERVICES=(gateway datagen-service trainer-service eval-service)
passed=0 failed=0
STARTED=() # every pid started here, killed on exit if still alive

cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "smoke: PASS $*"; }
fail() { failed=$((failed + 1)); echo "smoke: FAIL $*"; }

# ready_status PORT: "CODE STATUS" of /q/health/ready, e.g. "200 UP", "503 DOWN", "000 -" when no answer
ready_status() {
  local body code
  body=$(curl -s -m 10 -w '\n%{http_code}' "http://127.0.0.1:$1/q/health/ready" 2>/dev/null) || true
  code=${body##*$'\n'}
  body=${body%$'\n'*}
  local status
  status=$(printf '%s' "$body" | tr -d ' \n' | grep -o '^{"status":"[A-Z]*"' | grep -o '[A-Z]*' || true)
  echo "${code:-000} ${status:--}"
}

# await SECONDS EXPECTED PORT: until ready_status PORT is EXPECTED; prints the last status
await() {
  local deadline=$((SECONDS + $1)) got
  while :; do
    got=$(ready_status "$3")
    [ "$got" = "$2" ] && { echo "$got"; return 0; }
    [ $SECONDS -lt $deadline ] || { echo "$got"; return 1; }
    sleep 0.5
  done
}

alive() { kill -0 "$1" 2>/dev/null; }

# ---- 1. ./forge up, then Ctrl-C --------------------------------------------------------------

check_forge_up() {
  local home=$WORK/forge-home log=$WORK/forge-up.log
  local gw=$PORT_BASE dg=$((PORT_BASE + 1)) tr=$((PORT_BASE + 2)) ev=$((PORT_BASE + 3)) kafka=$((PORT_BASE + 9))
  FORGE_HOME=$home FORGE_KAFKA_PORT=$kafka FORGE_GATEWAY_PORT=$gw FORGE_DATAGEN_PORT=$dg \
    FORGE_TRAINER_PORT=$tr FORGE_EVAL_PORT=$ev \
    perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' "$ROOT/forge" up </dev/null >"$log" 2>&1 &
  local forge=$!
  STARTED+=("$forge")

  local start=$SECONDS
  local deadline=$((SECONDS + 90))
  until grep -q '^forge: ready' "$log"; do
    if ! alive "$forge" || [ $SECONDS -ge $deadline ]; then
      fail "./forge up did not get ready (log below)"; sed 's/^/  | /' "$log"
      for f in "$home"/logs/*.log; do echo "  --- $f"; tail -n 15 "$f" | sed 's/^/  | /'; done
      return
    fi
    sleep 0.5
  done
  local took=$((SECONDS - start)) port ok=1
  for port in $gw $dg $tr $ev; do
    [ "$(ready_status $port)" = "200 UP" ] || { ok=0; fail "forge up: port $port is not ready: $(ready_status $port)"; }
  done
  [ $ok = 1 ] && pass "./forge up: the 4 services answer /q/health/ready UP (${took}s, limit 60s)"
  [ $took -le 60 ] || fail "./forge up took ${took}s to get ready, more than 60s"

  check_trainer_restart "$home" "$tr" "127.0.0.1:$kafka"

  # its java processes, children of the forge script
  local children
  children=$(pgrep -P "$forge" | tr '\n' ' ')
  STARTED+=($children)
  kill -INT "$forge"
  local stop_deadline=$((SECONDS + 60))
  while alive "$forge" && [ $SECONDS -lt $stop_deadline ]; do sleep 0.2; done
  local left=() pid
  for pid in $children; do alive "$pid" && left+=("$pid"); done
  if alive "$forge"; then
    fail "./forge up still running 60s after SIGINT"
  elif [ ${#left[@]} -gt 0 ]; then
    fail "after SIGINT these processes of ./forge up remain: $(ps -o pid=,args= -p "${left[*]}" 2>/dev/null | cut -c1-120)"
  elif [ "$(echo $children | wc -w)" -ne 5 ]; then
    fail "./forge up had $(echo $children | wc -w) child processes, expected 5 (broker + 4 services): $children"
  else
    pass "./forge up: SIGINT stopped it and its 5 java processes in $((SECONDS - stop_deadline + 60))s"
  fi
}

# check_trainer_restart FORGE_HOME TRAINER_PORT BOOTSTRAP: under ./forge up, SIGKILL the trainer once
# its job has recorded a checkpoint; the supervisor starts it again and the job resumes (attempt 2)
check_trainer_restart() {
  local home=$1 port=$2 bootstrap=$3
  local models=${FORGE_SHARED_DIR:-$ROOT/../shared}/models
  if [ ! -d "$models/stories260k" ]; then
    fail "forge up restart: no stories260k under $models (set FORGE_SHARED_DIR)"; return
  fi
  local topics=(java -cp "$ROOT/kafka-embedded/target/kafka-embedded-0.1.0-SNAPSHOT.jar:$ROOT/kafka-embedded/target/lib/*"
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn dev.forgeline.kafka.TopicRecords)
  local data=$WORK/restart-data job=restart-smoke-$$ c
  mkdir -p "$data"
  for c in red:apple yellow:banana green:lime purple:grape pink:peach blue:berry; do
    printf '{"messages":[{"role":"user","content":"Fruit for %s?"},{"role":"assistant","content":"%s"}]}\n' "${c%:*}" "${c#*:}"
  done >"$data/train.jsonl"
  printf '{"job_id":"%s","base_model":"stories260k","dataset":"file://%s","lora":{"r":4},"max_steps":400,"save_interval":5,"micro_batch_size":2,"max_seq_length":48,"seed":3}\n' \
    "$job" "$data" >"$WORK/restart-job.json"

  local status=$home/status trainer broker gateway
  read_pid() { awk -v n="$1" '$1 == n {print $2}' "$status"; }
  trainer=$(read_pid trainer-service) broker=$(read_pid kafka) gateway=$(read_pid gateway)
  "${topics[@]}" send "$bootstrap" forge.training.requests "$job" "$WORK/restart-job.json" \
    || { fail "forge up restart: cannot publish the training request"; return; }
  if ! "${topics[@]}" await "$bootstrap" forge.jobs "$job" checkpoint '.+' 120 >"$WORK/restart-before.json"; then
    fail "forge up restart: the job recorded no checkpoint within 120 s"; tail -n 20 "$home/logs/trainer-service.log" | sed 's/^/  | /'; return
  fi
  kill -KILL "$trainer"
  local killed=$SECONDS back=""
  while [ $((SECONDS - killed)) -le 30 ]; do
    if [ "$(read_pid trainer-service)" != "$trainer" ] && [ "$(ready_status "$port")" = "200 UP" ]; then back=$((SECONDS - killed)); break; fi
    sleep 0.5
  done
  if [ -z "$back" ]; then
    fail "forge up restart: the trainer was not back within 30 s of SIGKILL"; tail -n 20 "$home/logs/trainer-service.log" | sed 's/^/  | /'; return
  fi
  [ "$back" -le 10 ] && pass "forge up restart: the SIGKILLed trainer was back (ready) in ${back}s (limit 10s)" \
    || fail "forge up restart: the SIGKILLed trainer took ${back}s to be back, more than 10s"
  local final
  if ! final=$("${topics[@]}" await "$bootstrap" forge.jobs "$job" state 'SUCCEEDED|FAILED|CANCELLED' 300); then
    fail "forge up restart: job $job did not end within 300 s of the restart"; return
  fi
  if printf '%s' "$final" | grep -q '"state":"SUCCEEDED"' && printf '%s' "$final" | grep -q '"attempt":2'; then
    pass "forge up restart: job $job resumed (attempt 2) and SUCCEEDED"
  else
    fail "forge up restart: job $job ended $(printf '%s' "$final" | cut -c1-300)"
  fi
  if [ "$(read_pid kafka)" = "$broker" ] && [ "$(read_pid gateway)" = "$gateway" ] && alive "$broker" && alive "$gateway"; then
    pass "forge up restart: the broker and the gateway ran throughout (same pids)"
  else
    fail "forge up restart: the broker or the gateway was restarted too: $(cat "$status")"
  fi
  grep -q 'trainer-service exited (status 137).*restart 1' "$WORK/forge-up.log" \
    || fail "forge up restart: the restart is not in ./forge up's output"
}

# ---- 2. java -jar, health with the broker up and down ---------------------------------------

check_java_jar_health() {
  local kafka=$((PORT_BASE + 19)) blog=$WORK/broker.log
  java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$ROOT/kafka-embedded/target/kafka-embedded-0.1.0-SNAPSHOT.jar:$ROOT/kafka-embedded/target/lib/*" \
    dev.forgeline.kafka.EmbeddedKafka "$WORK/kafka" "$kafka" >"$blog" 2>&1 &
  local broker=$!
  STARTED+=("$broker")
  local deadline=$((SECONDS + 60))
  until grep -q KAFKA_BOOTSTRAP_SERVERS= "$blog"; do
    if ! alive "$broker" || [ $SECONDS -ge $deadline ]; then
      fail "the broker did not start for the java -jar checks"; sed 's/^/  | /' "$blog"; return
    fi
    sleep 0.2
  done

  local i name pid pids=() ports=()
  for i in "${!SERVICES[@]}"; do
    name=${SERVICES[$i]}
    ports+=($((PORT_BASE + 10 + i)))
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$kafka FORGE_ARTIFACTS_ROOT=$WORK/artifacts \
      java --add-modules jdk.incubator.vector -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="${ports[$i]}" \
      -jar "$ROOT/$name/target/quarkus-app/quarkus-run.jar" >"$WORK/$name.log" 2>&1 &
    pids+=($!)
    STARTED+=($!)
  done

  local got up=()
  for i in "${!SERVICES[@]}"; do
    name=${SERVICES[$i]}
    if got=$(await 60 "200 UP" "${ports[$i]}"); then
      up+=("$i")
    else
      fail "java -jar $name: not ready with the broker up: $got"; tail -n 20 "$WORK/$name.log" | sed 's/^/  | /'
    fi
  done

  kill -KILL "$broker"
  local killed=$SECONDS
  wait "$broker" 2>/dev/null || true
  # all at once: with the broker gone each readiness answer takes its Kafka timeout (3 s)
  local checks=() took
  for i in "${up[@]}"; do
    { await 15 "503 DOWN" "${ports[$i]}" || true; echo $((SECONDS - killed)); } >"$WORK/down-$i" &
    checks+=($!)
  done
  for pid in "${checks[@]}"; do wait "$pid" || true; done
  for i in "${up[@]}"; do
    name=${SERVICES[$i]}
    got=$(head -n 1 "$WORK/down-$i") took=$(tail -n 1 "$WORK/down-$i")
    if [ "$got" = "503 DOWN" ]; then
      pass "java -jar $name: 200 UP with the broker, 503 DOWN ${took}s after it was killed"
    else
      fail "java -jar $name: ${took}s after the broker was killed /q/health/ready answers $got, not 503 DOWN"
    fi
  done

  kill -TERM "${pids[@]}" 2>/dev/null || true
  local stop_deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while alive "$pid" && [ $SECONDS -lt $stop_deadline ]; do sleep 0.2; done
    alive "$pid" && fail "a service (pid $pid) did not stop within 30s of SIGTERM with the broker gone"
  done
  return 0
}

check_forge_up
check_java_jar_health
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
