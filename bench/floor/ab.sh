#!/usr/bin/env bash
# CPU per operation of two dynakv trees, A and B, measured in the same minutes: this machine's
# speed drifts by tens of percent from one run to the next, more than most single changes are
# worth, so two clusters run at once (5 --insecure nodes each, from each tree's TypeScript
# sources, 20,000 keys loaded into each) and wrk loads them in turn, A then B, for ROUNDS rounds
# of SECONDS each (60 connections over the nodes, the side-by-side tool's Lua scripts). Prints
# each round's CPU ms per operation (all threads of the five nodes, /proc/<pid>/stat) and the
# median of the rounds' B/A ratios. Used for the get path of issue 15 (BENCHMARKS.md).
# Usage: bench/floor/ab.sh TREE_A TREE_B [SECONDS=4] [get|put] [ROUNDS=8] [SIDE_BY_SIDE_DIR]
#   A tree is a checkout with node_modules (a worktree may link the main one's). Needs wrk.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 TREE_A TREE_B [SECONDS] [get|put] [ROUNDS] [SIDE_BY_SIDE_DIR]" >&2; exit 2; }
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd); secs=${3:-4}; op=${4:-get}; rounds=${5:-8}
proj=$(cd "$(dirname "$0")/../.." && pwd)
sbs=${6:-$proj/../shared/tools/side-by-side}
[ -f "$sbs/dynakv_$op.lua" ] || { echo "no side-by-side tool (dynakv_$op.lua) at $sbs" >&2; exit 2; }
tmp=$(mktemp -d); pa=""; pb=""
cleanup() { kill $pa $pb 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
start() { # TREE BASE_PORT: starts 5 nodes, prints their pids
  local tree=$1 base=$2 peers="" i
  for i in 1 2 3 4 5; do peers="$peers${peers:+,}n$i=127.0.0.1:$((base + 100 + i))"; done
  for i in 1 2 3 4 5; do
    node "$tree/bin/dynakv-dev.js" node start --id n$i --http-port $((base + i)) --peer-port $((base + 100 + i)) --data-dir "$tmp/$base/n$i" --peers "$peers" --insecure >"$tmp/$base.n$i.log" 2>&1 &
    echo -n "$! "
  done
}
pa=$(start "$A" 17000); pb=$(start "$B" 19000)
for base in 17000 19000; do
  for i in 1 2 3 4 5; do for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$((base + i))/health" && break; sleep 0.2; done; done
done
sleep 3 # the ring forms from --peers after /health answers
ua=""; ub=""; for i in 1 2 3 4 5; do ua="$ua http://127.0.0.1:$((17000 + i))"; ub="$ub http://127.0.0.1:$((19000 + i))"; done
node "$sbs/load.mjs" dynakv 20000 $ua >/dev/null & node "$sbs/load.mjs" dynakv 20000 $ub >/dev/null; wait
cpu() { local t=0 p; for p in $1; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
load() { # URLS SECONDS: prints the requests per second of all of them
  local wp="" u n=0
  for u in $1; do n=$((n + 1)); wrk -t1 -c12 -d"$2"s -s "$sbs/dynakv_$op.lua" "$u" >"$tmp/w.$n" 2>&1 & wp="$wp $!"; done
  wait $wp
  cat "$tmp"/w.* | awk '/Requests\/sec/{s+=$2} END {print s}'; rm -f "$tmp"/w.*
}
load "$ua" 8 >/dev/null; load "$ub" 8 >/dev/null # JIT and caches warm
: >"$tmp/rounds"
for _ in $(seq "$rounds"); do
  a0=$(cpu "$pa"); ra=$(load "$ua" "$secs"); a1=$(cpu "$pa")
  b0=$(cpu "$pb"); rb=$(load "$ub" "$secs"); b1=$(cpu "$pb")
  echo "$((a1 - a0)) $ra $((b1 - b0)) $rb" >>"$tmp/rounds"
done
python3 - "$tmp/rounds" "$secs" "$op" <<'PY'
import sys, statistics
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
secs, op = float(sys.argv[2]), sys.argv[3]
ca = [t * 10 / (r * secs) for t, r, _, _ in rows]
cb = [t * 10 / (r * secs) for _, _, t, r in rows]
ratios = [b / a for a, b in zip(ca, cb)]
print(f"A CPU ms per {op}:", " ".join(f"{x:.3f}" for x in ca))
print(f"B CPU ms per {op}:", " ".join(f"{x:.3f}" for x in cb))
print(f"medians A {statistics.median(ca):.3f}, B {statistics.median(cb):.3f}; B/A by round: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
PY
