#!/usr/bin/env bash
# The floor of dynakv's design beside etcd, in one run, with the wrk method of side_by_side.sh:
# etcd 3 members, then 5 floor servers (bench/floor/floor-server.ts) in the given mode, or 5
# dynakv nodes (--insecure, from the TypeScript sources) in mode dynakv, measured the same way; 64 wrk
# connections over the members, 100-byte values, 20,000 keys loaded, puts of random keys among
# 100,000, gets of loaded keys. Prints req/s and p99 of each phase, and the servers' CPU (all
# threads, /proc/<pid>/stat) and write-like and read-like system calls (/proc/<pid>/io) per operation.
# Usage: bench/floor/run.sh [bare|dynamo|dynamo-no-sync|dynakv] [SECONDS] [SIDE_BY_SIDE_DIR]
#   SIDE_BY_SIDE_DIR: the shared side-by-side tool (its etcd3.sh, load.mjs and wrk Lua scripts),
#   default ../shared/tools/side-by-side beside the project. Needs wrk and etcd (apt-get install
#   -y wrk etcd-server).
set -euo pipefail
mode=${1:-dynamo}; secs=${2:-20}
proj=$(cd "$(dirname "$0")/../.." && pwd)
sbs=${3:-$proj/../shared/tools/side-by-side}
[ -x "$sbs/etcd3.sh" ] || { echo "no side-by-side tool at $sbs" >&2; exit 2; }
case $mode in bare) server=bare; extra="" ;; dynamo|dynakv) server=$mode; extra="" ;; dynamo-no-sync) server=dynamo; extra="--no-sync" ;; *) echo "mode: bare|dynamo|dynamo-no-sync|dynakv" >&2; exit 2 ;; esac
tmp=$(mktemp -d); pids=""
cleanup() { [ -n "$pids" ] && kill $pids 2>/dev/null; "$sbs/etcd3.sh" stop "$tmp/etcd" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

run_wrk() { # name script url... ; 64 connections split over the urls; prints and keeps req/s
  local name=$1 script=$2; shift 2; local c=$((64 / $#)) i=0 wpids=""
  for u in "$@"; do wrk -t1 -c$c -d${secs}s --latency -s "$script" "$u" >"$tmp/$name.$i" 2>&1 & wpids="$wpids $!"; i=$((i+1)); done
  wait $wpids
  python3 - "$tmp" "$name" <<'PY'
import sys, glob, re
tmp, name = sys.argv[1:3]; rps = 0.0; p99 = 0.0; non2 = 0
for f in glob.glob(f"{tmp}/{name}.[0-9]*"):
    t = open(f).read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", t); rps += float(m.group(1)) if m else 0
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", t)
    if m: p99 = max(p99, float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)])
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t); non2 += int(m.group(1)) if m else 0
print(f"{name}: {rps:.0f} req/s  p99 {p99:.1f} ms  non-2xx {non2}")
open(f"{tmp}/{name}.sum", "w").write(f"{rps}")
PY
}
# CPU ticks (1/100 s), write-like and read-like system calls, summed over the servers.
counters() {
  local ticks=0 w=0 r=0 p
  for p in $pids; do
    ticks=$((ticks + $(awk '{print $14+$15}' /proc/$p/stat)))
    w=$((w + $(awk '/^syscw/{print $2}' /proc/$p/io))); r=$((r + $(awk '/^syscr/{print $2}' /proc/$p/io)))
  done
  echo "$ticks $w $r"
}

"$sbs/etcd3.sh" start "$tmp/etcd" >/dev/null
etcd_urls="http://127.0.0.1:23791 http://127.0.0.1:23792 http://127.0.0.1:23793"
node "$sbs/load.mjs" etcd 20000 $etcd_urls
run_wrk etcd_put "$sbs/etcd_put.lua" $etcd_urls
run_wrk etcd_get "$sbs/etcd_get.lua" $etcd_urls
"$sbs/etcd3.sh" stop "$tmp/etcd" >/dev/null

http_ports=""; peer_ports=""; urls=""
for i in 1 2 3 4 5; do
  http_ports="$http_ports${http_ports:+,}$((18000 + i))"; peer_ports="$peer_ports${peer_ports:+,}$((18100 + i))"
  urls="$urls http://127.0.0.1:$((18000 + i))"
done
peers=""; for i in 1 2 3 4 5; do peers="$peers${peers:+,}n$i=127.0.0.1:$((18100 + i))"; done
for i in 1 2 3 4 5; do
  if [ $server = dynakv ]; then
    node "$proj/bin/dynakv-dev.js" node start --id n$i --http-port $((18000 + i)) --peer-port $((18100 + i)) --data-dir "$tmp/n$i" --peers "$peers" --insecure >"$tmp/n$i.log" 2>&1 &
  else
    node --import tsx "$proj/bench/floor/floor-server.ts" $server $i "$tmp/n$i" "$http_ports" "$peer_ports" $extra &
  fi
  pids="$pids $!"
done
for u in $urls; do for _ in $(seq 100); do curl -sf -o /dev/null "$u/health" && break; sleep 0.1; done; done
# dynakv nodes answer /health before their ring has formed from --peers; side_by_side.sh waits as long.
[ $server = dynakv ] && sleep 3
node "$sbs/load.mjs" dynakv 20000 $urls
c0=$(counters); run_wrk srv_put "$sbs/dynakv_put.lua" $urls
c1=$(counters); run_wrk srv_get "$sbs/dynakv_get.lua" $urls
c2=$(counters)
python3 - "$tmp" "$secs" "$mode" "$c0" "$c1" "$c2" <<'PY'
import sys
tmp, secs, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
c0, c1, c2 = ([int(x) for x in a.split()] for a in sys.argv[4:7])
r = lambda n: float(open(f"{tmp}/{n}.sum").read())
ep, eg, fp, fg = r("etcd_put"), r("etcd_get"), r("srv_put"), r("srv_get")
puts, gets = fp * secs, fg * secs
print(f"{mode} / etcd: puts {fp / ep:.2f}x, gets {fg / eg:.2f}x")
print(f"{mode} CPU, all threads: {(c1[0] - c0[0]) * 10 / puts:.3f} ms per put, {(c2[0] - c1[0]) * 10 / gets:.3f} ms per get")
print(f"{mode} system calls: per put {(c1[1] - c0[1]) / puts:.2f} write-like, {(c1[2] - c0[2]) / puts:.2f} read-like; per get {(c2[1] - c1[1]) / gets:.2f} and {(c2[2] - c1[2]) / gets:.2f}")
PY
