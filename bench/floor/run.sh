#!/usr/bin/env bash
# The floor of dynakv's design beside etcd, in one run, with the wrk method of side_by_side.sh:
# etcd 3 members, then 5 floor servers (bench/floor/floor-server.ts) in the given mode; 64 wrk
# connections over the members, 100-byte values, 20,000 keys loaded, puts of random keys among
# 100,000, gets of loaded keys. Prints req/s and p99 of each phase, and the floor servers' CPU
# (all threads, from /proc) per operation.
# Usage: bench/floor/run.sh [bare|dynamo|dynamo-no-sync] [SECONDS] [SIDE_BY_SIDE_DIR]
#   SIDE_BY_SIDE_DIR: the shared side-by-side tool (its etcd3.sh, load.mjs and wrk Lua scripts),
#   default ../shared/tools/side-by-side beside the project. Needs wrk and etcd (apt-get install
#   -y wrk etcd-server).
set -euo pipefail
mode=${1:-dynamo}; secs=${2:-20}
proj=$(cd "$(dirname "$0")/../.." && pwd)
sbs=${3:-$proj/../shared/tools/side-by-side}
[ -x "$sbs/etcd3.sh" ] || { echo "no side-by-side tool at $sbs" >&2; exit 2; }
case $mode in bare) server=bare; extra="" ;; dynamo) server=dynamo; extra="" ;; dynamo-no-sync) server=dynamo; extra="--no-sync" ;; *) echo "mode: bare|dynamo|dynamo-no-sync" >&2; exit 2 ;; esac
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
ticks() { local sum=0 p; for p in $pids; do sum=$((sum + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $sum; }

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
for i in 1 2 3 4 5; do
  node --import tsx "$proj/bench/floor/floor-server.ts" $server $i "$tmp/n$i" "$http_ports" "$peer_ports" $extra &
  pids="$pids $!"
done
for u in $urls; do for _ in $(seq 100); do curl -sf -o /dev/null "$u/health" && break; sleep 0.1; done; done
node "$sbs/load.mjs" dynakv 20000 $urls
t0=$(ticks); run_wrk floor_put "$sbs/dynakv_put.lua" $urls
t1=$(ticks); run_wrk floor_get "$sbs/dynakv_get.lua" $urls
t2=$(ticks)
python3 - "$tmp" "$secs" "$((t1 - t0))" "$((t2 - t1))" "$mode" <<'PY'
import sys
tmp, secs, put_ticks, get_ticks, mode = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = lambda n: float(open(f"{tmp}/{n}.sum").read())
ep, eg, fp, fg = r("etcd_put"), r("etcd_get"), r("floor_put"), r("floor_get")
print(f"floor ({mode}) / etcd: puts {fp / ep:.2f}x, gets {fg / eg:.2f}x")
print(f"floor CPU, all threads: {put_ticks * 10 / (fp * secs):.3f} ms per put, {get_ticks * 10 / (fg * secs):.3f} ms per get")
PY
