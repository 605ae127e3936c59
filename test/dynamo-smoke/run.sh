#!/usr/bin/env bash
# DynamoDB smoke test (issue 16): starts a secure local cluster (`dynakv cluster start`, from the
# sources through bin/dynakv-dev.js, so no build is needed) in a temporary directory on free
# ports, waits until every node answers /health, then runs the same table flow with boto3
# (smoke.py) and with the AWS CLI (cli.sh), signing with the admin access key the cluster made
# (certs/client.admin.aws-credentials) and trusting its CA (certs/ca.crt). Both parts run even
# if the first fails; the exit status is non-zero if either did. The cluster is stopped and the
# directory removed however the script ends. About a minute (the AWS CLI part is most of it).
#
#   npm run test:dynamo-smoke
#
# Needs Debian's python3-boto3 and awscli (.ci/run installs them). By default it runs
# /usr/bin/python3 and /usr/bin/aws when they exist (a pyenv or venv earlier on PATH may lack
# boto3 or be another CLI), else python3 and aws from PATH; PYTHON=... and AWS=... override.
# DYNAKV_SMOKE_NODES (default 3) and DYNAKV_SMOKE_BASE_PORT (default: a free one) choose the
# cluster; DYNAKV_SMOKE_KEEP=1 keeps the temporary directory (logs, data) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=test/dynamo-smoke
NODES=${DYNAKV_SMOKE_NODES:-3}
HEALTH_WAIT_S=120

say() { echo "==> [${SECONDS} s] $*"; }
die() {
  echo "dynamo-smoke: $*" >&2
  exit 1
}

if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
if [ -z "${AWS:-}" ]; then
  if [ -x /usr/bin/aws ]; then AWS=/usr/bin/aws; else AWS=aws; fi
fi
export PYTHON AWS
"$PYTHON" -c 'import boto3' 2>/dev/null || die "$PYTHON cannot import boto3: apt-get install python3-boto3 (or set PYTHON=)"
command -v "$AWS" >/dev/null || die "no AWS CLI ($AWS): apt-get install awscli (or set AWS=)"
command -v node >/dev/null || die "no node on PATH"
[ -d node_modules/tsx ] || die "node_modules/tsx is missing: run npm ci first"

# Only the cluster's own credentials and CA, no user configuration, no proxy for loopback.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_CA_BUNDLE AWS_ENDPOINT_URL
export AWS_CONFIG_FILE=/dev/null AWS_PAGER='' AWS_EC2_METADATA_DISABLED=true
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dynakv-dynamo-smoke.XXXXXX")
log=$tmp/cluster.log
cluster_pid=
part_pid=
# Stops the cluster: SIGTERM to the launcher, which stops its nodes (SIGKILL after 10 s); then
# whatever is left of its process group (it runs under setsid), nodes included, is killed.
stop_cluster() {
  [ -n "$cluster_pid" ] || return 0
  if kill -0 "$cluster_pid" 2>/dev/null; then
    say "stopping the cluster (SIGTERM to pid $cluster_pid, which stops its nodes)"
    kill -TERM "$cluster_pid" 2>/dev/null || true
    for _ in $(seq 150); do
      kill -0 "$cluster_pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  kill -KILL -- "-$cluster_pid" 2>/dev/null || true
  wait "$cluster_pid" 2>/dev/null || true
  cluster_pid=
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$part_pid" ]; then kill -TERM "$part_pid" 2>/dev/null || true; fi
  stop_cluster
  if [ "$status" != 0 ] && [ -s "$log" ]; then
    echo "--- last 40 lines of the cluster log ($log):" >&2
    tail -n 40 "$log" >&2
    echo "---" >&2
  fi
  if [ "${DYNAKV_SMOKE_KEEP:-}" = 1 ]; then
    say "kept $tmp"
  else
    say "removing $tmp"
    rm -rf "$tmp"
  fi
  if [ "$status" = 0 ]; then say "dynamo smoke passed in ${SECONDS} s"; else say "dynamo smoke FAILED (exit $status) after ${SECONDS} s"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A base port whose HTTP ports (base..) and peer ports (base+100..) are all free, below the
# kernel's ephemeral range so that no outgoing connection takes one in the meantime.
pick_base_port() {
  "$PYTHON" - "$NODES" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    base = random.randrange(20000, 32000 - 100 - n)
    if all(free(p) for p in [*range(base, base + n), *range(base + 100, base + 100 + n)]):
        print(base)
        sys.exit(0)
sys.exit("no free base port found in 20000..32000")
EOF
}

# Starts the cluster on $base and waits until it says every node is up; fails (with a reason
# on stderr) if the launcher or a node exits first, or after HEALTH_WAIT_S.
start_cluster() {
  say "starting a $NODES-node secure cluster: HTTPS ports $base..$((base + NODES - 1)), peer ports $((base + 100))..$((base + 99 + NODES)), data in $tmp/data (log: $log)"
  setsid node bin/dynakv-dev.js cluster start --nodes "$NODES" --base-port "$base" --data-dir "$tmp/data" --log-level warn --log-format json \
    </dev/null >"$log" 2>&1 &
  cluster_pid=$!
  say "waiting for every node to answer /health (at most $HEALTH_WAIT_S s)"
  for _ in $(seq $((HEALTH_WAIT_S * 2))); do
    if grep -q '] exited (' "$log"; then
      echo "dynamo-smoke: a node exited during the start" >&2
      return 1
    fi
    if ! kill -0 "$cluster_pid" 2>/dev/null; then
      echo "dynamo-smoke: the cluster process exited before it was up" >&2
      return 1
    fi
    grep -q "dynakv cluster of $NODES nodes is up" "$log" && return 0
    sleep 0.5
  done
  echo "dynamo-smoke: the cluster was not up after $HEALTH_WAIT_S s" >&2
  return 1
}

# A port taken between the probe and the start (another process on this machine) is retried
# on fresh ports with a fresh data directory, twice; a fixed DYNAKV_SMOKE_BASE_PORT is not.
for attempt in 1 2 3; do
  base=${DYNAKV_SMOKE_BASE_PORT:-$(pick_base_port)}
  start_cluster && break
  if [ -z "${DYNAKV_SMOKE_BASE_PORT:-}" ] && [ "$attempt" -lt 3 ] && grep -q EADDRINUSE "$log"; then
    grep EADDRINUSE "$log" | head -n 3
    stop_cluster
    mv "$log" "$tmp/cluster.$attempt.log"
    rm -rf "$tmp/data" # a fresh cluster: nodes that started keep the first membership's data
    say "a port was taken; again on other ports"
    continue
  fi
  exit 1
done
endpoints=()
for i in $(seq 0 $((NODES - 1))); do endpoints+=("https://127.0.0.1:$((base + i))"); done
certs=$tmp/data/certs
ca=$certs/ca.crt
credentials=$certs/client.admin.aws-credentials
[ -s "$ca" ] && [ -s "$credentials" ] || die "no $ca or $credentials after the start"
# Every node must answer (cluster start would also call a cluster up without a node that died).
"$PYTHON" - "$ca" "${endpoints[@]}" <<'EOF'
import ssl, sys, urllib.request
context = ssl.create_default_context(cafile=sys.argv[1])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
for url in sys.argv[2:]:
    with opener.open(f"{url}/health", timeout=5) as response:
        if response.status != 200:
            sys.exit(f"{url}/health answered {response.status}")
print(f"    {len(sys.argv) - 2} nodes healthy: {', '.join(sys.argv[2:])}")
EOF
say "cluster up after ${SECONDS} s"

# Each part runs in the background and is waited for, so that a SIGTERM or SIGINT is acted on
# at once (bash runs traps only between foreground commands); cleanup stops a part still running.
run_part() {
  "$@" &
  part_pid=$!
  local part_status=0
  wait "$part_pid" || part_status=$?
  part_pid=
  return "$part_status"
}

status=0
first=${endpoints[0]}
last=${endpoints[$((NODES - 1))]}
say "boto3: $PYTHON $HERE/smoke.py (writes via $first, consistent reads via $last)"
run_part "$PYTHON" "$HERE/smoke.py" --endpoint "$first" --endpoint "$last" --ca-bundle "$ca" --credentials "$credentials" --region dynakv || status=1

second=${endpoints[$((NODES > 1 ? 1 : 0))]}
say "AWS CLI: $HERE/cli.sh with $AWS (writes via $second, consistent reads via $last)"
AWS_SHARED_CREDENTIALS_FILE=$credentials run_part bash "$HERE/cli.sh" "$ca" "$second" "$last" || status=1

! grep -q '] exited (' "$log" || { echo "dynamo-smoke: a node exited during the run" >&2; status=1; }
exit "$status"
