# Shared by the end-to-end tests: a local stack (`ccc up`) in a temporary
# directory on a loopback port, stopped (and the directory removed) on exit.
#
#   source tests/lib/stack.sh
#   stack_up [-- HOST-OPTIONS...]     sets STACK_DIR, URL; fails the test if not ready
#   api GET /v1/jobs/ID               curl against it: prints the body, sets HTTP_CODE
#   enclave_pid / host_pid / kms_pid  the running processes (pgrep, by data dir)
#   stack_down
#
# Needs: CCC_BUILD_DIR (ctest sets it), CCC_SOURCE_DIR.
set -uo pipefail
: "${CCC_BUILD_DIR:?run through ctest}" "${CCC_SOURCE_DIR:?run through ctest}"
CCC=$CCC_BUILD_DIR/ccc
TOOL=$CCC_BUILD_DIR/tests/e2e_tool
SAMPLES=$CCC_SOURCE_DIR/data/samples
WORK=$(mktemp -d /tmp/ccc-e2e.XXXXXX)
STACK_DIR=$WORK/stack
# The client's anti-rollback state lives here, not in the user's config.
export XDG_CONFIG_HOME=$WORK/config
URL=

stack_down() {
  [ -d "$STACK_DIR" ] && "$CCC" down --data "$STACK_DIR" >/dev/null 2>&1
  return 0
}

stack_cleanup() {
  stack_down
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap stack_cleanup EXIT

# Ports 20000..29999: below the ephemeral range, so a client socket never
# holds the port we ask for; another test may, so retry with another one.
stack_up() {
  local tries=0 port
  [ "${1:-}" = "--" ] && shift
  while [ $tries -lt 5 ]; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 10000))
    if "$CCC" up --detach --data "$STACK_DIR" --port "$port" --ready-timeout 120 \
        ${STACK_QUEUE:+--queue "$STACK_QUEUE"} ${1:+--} "$@" >"$WORK/up.out" 2>&1; then
      URL=http://127.0.0.1:$port
      return 0
    fi
    if grep -q 'bind\|address already in use\|Address in use' "$STACK_DIR"/logs/host.log 2>/dev/null; then
      tries=$((tries + 1)); : >"$STACK_DIR/logs/host.log"; continue
    fi
    echo "FAIL: ccc up did not start"; cat "$WORK/up.out"
    tail -n 30 "$STACK_DIR"/logs/*.log 2>/dev/null
    exit 1
  done
  echo "FAIL: no free port after 5 tries"; exit 1
}

# api METHOD PATH [curl args...]: body on stdout, status in $HTTP_CODE and
# in last_code's output (which also works when api ran in a subshell).
api() {
  local method=$1 path=$2; shift 2
  local out
  out=$(curl -sS --noproxy '*' -m 30 -X "$method" -o "$WORK/api.body" -w '%{http_code}' \
        "$@" "$URL$path") || true
  HTTP_CODE=$out
  printf '%s\n' "$out" >"$WORK/api.code"
  cat "$WORK/api.body"
}
last_code() { cat "$WORK/api.code"; }

# The processes of this stack only (other tests may run stacks too).
# Anchored at argv[0], so `ccc nsm launch ... -- ccc-enclave ...` is not taken
# for the enclave it launched.
enclave_pid() { pgrep -f "^[^ ]*ccc-enclave --listen unix:$STACK_DIR/" | head -n 1; }
host_pid() { pgrep -f "^[^ ]*ccc-host --listen 127.0.0.1:[0-9]* --enclave unix:$STACK_DIR/" | head -n 1; }
kms_pid() { pgrep -f "^[^ ]*ccc-kms --state $STACK_DIR/" | head -n 1; }

# wait_for SECONDS COMMAND...: poll until the command succeeds (a failure bound,
# not a speed assertion).
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

# The job's status field from GET /v1/jobs/ID.
job_status() {
  api GET "/v1/jobs/$1" | sed -n 's/.*"status":"\([a-z_]*\)".*/\1/p'
}

source "$CCC_SOURCE_DIR/tests/lib/expect.sh"
