#!/usr/bin/env bash
# Whole-server failover of the bundle a user deploys (issue 13): test/live/whole-host.test.ts run
# with repeats. The multi-server hosts bundle (haproxy, Patroni, synchronous) on the whole-host lab
# (test/lab: every host its own network, mount and PID namespaces, 127.0.90.x); each fault -- power
# off the lb host holding the floating address, an app host, the Patroni leader's host, an etcd-only
# or storage host (GlusterFS: an upload from before read on every app host, new ones written, the
# longest stall); partition the leader's host; freeze it -- REPEATS times, under steady HTTP load
# through the floating address and a writer with the app's DATABASE_URL. Prints min / median / max
# of every column (and the uploads table for the storage row). Needs root, patroni, etcd, haproxy,
# keepalived, PostgreSQL 15, psql, curl, glusterfs-server + glusterfs-client, gcc.
#
# Usage: npm run bench:failover                       (REPEATS=5 by default; ~20 min)
#        REPEATS=10 npm run bench:failover
#        LB=nginx npm run bench:failover              the bundle with nginx (or caddy) as its load balancer
#        LB=all npm run bench:failover                haproxy, nginx and caddy bundles in turn (~3x as long)
#        ONLY='app host' npm run bench:failover       only the faults whose title matches (vitest -t)
#        npm run bench:failover -- --patroni-timing    Patroni alone (3 members on 127.0.0.30-33):
#            ha-gen's timing (ttl 10, loop_wait 2, retry_timeout 4) against Patroni's stock timing
#            (ttl 30, loop_wait 10, retry_timeout 10), process faults (REPEATS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

keep_log() {
  local keep
  keep="$(mktemp "${TMPDIR:-/tmp}/bench-failover-$1-XXXXXX.log")"
  cp "$2" "$keep"
  echo "$keep"
}

# One load balancer's bundle: every fault REPEATS times; prints its tables, returns 1 when a target was missed.
whole_host() {
  local lb="$1" status=0 log
  echo "== whole-host faults, ${lb} bundle, ${repeats} run(s) of each (about $(( 1 + repeats * 3 )) minutes)"
  if ! HA_GEN_FAILOVER_REPEATS="$repeats" HA_GEN_FAILOVER_RESULT_FILE="$tmp/whole-host-$lb.json" HA_GEN_WHOLE_HOST_LB="$lb" \
    npx vitest run --project live test/live/whole-host.test.ts --reporter=dot "${only[@]}" >"$tmp/whole-host-$lb.log" 2>&1; then
    log="$(keep_log "whole-host-$lb" "$tmp/whole-host-$lb.log")"
    echo "a target was missed or a check failed (figures below include every run that completed); full output: $log" >&2
    grep -E 'AssertionError|Error:|expected' "$log" | head -n 20 >&2 || true
    [[ -s "$tmp/whole-host-$lb.json" ]] || return 1
    status=1
  fi
  # Every run, one line each (the test's own table), then the min / median / max of each column.
  awk '/^Whole-host faults/ { on = 1 } on && /^$/ { exit } on' "$tmp/whole-host-$lb.log"
  node - "$tmp/whole-host-$lb.json" "$lb" <<'JS'
const fs = require('node:fs');
const r = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
console.log(`\n${process.argv[3]}: min / median / max over ${r.repeats} run(s) of each fault (times in seconds from the fault):\n${r.table}\n`);
JS
  return "$status"
}

if [[ "${1:-}" != "--patroni-timing" ]]; then
  repeats="${REPEATS:-5}"
  (( repeats >= 1 )) || { echo "REPEATS must be at least 1" >&2; exit 2; }
  only=()
  [[ -z "${ONLY:-}" ]] || only=(-t "$ONLY")
  lbs=("${LB:-haproxy}")
  [[ "${LB:-}" != all ]] || lbs=(haproxy nginx caddy)
  for lb in "${lbs[@]}"; do
    [[ "$lb" =~ ^(haproxy|nginx|caddy)$ ]] || { echo "LB must be haproxy, nginx, caddy or all" >&2; exit 2; }
  done
  status=0
  for lb in "${lbs[@]}"; do whole_host "$lb" || status=1; done
  exit "$status"
fi

repeats="${REPEATS:-3}"
for timing in ours stock; do
  echo "== ${timing} timing, ${repeats} run(s) per fault (a few minutes)"
  HA_GEN_DB_FAULT_REPEATS="$repeats" HA_GEN_DB_TIMING="$([[ $timing == stock ]] && echo stock || echo ours)" \
    HA_GEN_DB_RESULT_FILE="$tmp/$timing.json" \
    npx vitest run test/live/db-patroni.test.ts --reporter=dot >"$tmp/$timing.log" 2>&1 || {
      keep="$(keep_log "$timing" "$tmp/$timing.log")"
      echo "the $timing run had a failing check (figures below include the runs that completed); full output: $keep" >&2
      grep -E 'did not resume|not settled|Error' "$keep" | head -n 20 >&2 || true
      [[ -s "$tmp/$timing.json" ]] || exit 1
    }
done

node - "$tmp/ours.json" "$tmp/stock.json" <<'JS'
const fs = require('node:fs');
const [ours, stock] = process.argv.slice(2).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const stat = (xs) => {
  if (!xs.length) return 'n/a';
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return `${s[0].toFixed(1)} / ${med.toFixed(1)} / ${s[s.length - 1].toFixed(1)} s`;
};
const names = { kill: "kill -9 the leader's Patroni", hang: "SIGSTOP the leader's Patroni", postmaster: "kill -9 the leader's postmaster" };
console.log('\nSeconds until writes succeed again through the DB endpoint (min / median / max):');
console.log(`${'fault'.padEnd(34)}${'ha-gen (10/2/4)'.padEnd(26)}stock (30/10/10)`);
for (const k of Object.keys(names)) console.log(`${names[k].padEnd(34)}${stat(ours.results[k]).padEnd(26)}${stat(stock.results[k])}`);
const lost = (r) => Object.values(r.lost).flat();
console.log(`acknowledged writes lost (synchronous): ha-gen ${lost(ours).reduce((a, b) => a + b, 0)} in ${lost(ours).length} faults; stock ${lost(stock).reduce((a, b) => a + b, 0)} in ${lost(stock).length} faults`);
JS
