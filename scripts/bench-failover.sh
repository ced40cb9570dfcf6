#!/usr/bin/env bash
# Failover time of the generated Patroni cluster (hosts bundle, run live on loopback addresses
# 127.0.0.30-33 as the live test does): ha-gen's timing (ttl 10, loop_wait 2, retry_timeout 4)
# against Patroni's stock timing (ttl 30, loop_wait 10, retry_timeout 10), min/median/max over
# REPEATS runs of each fault. Needs root, patroni, etcd, haproxy and PostgreSQL.
# Usage: npm run bench:failover            (REPEATS=3 by default; e.g. REPEATS=5 npm run bench:failover)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${REPEATS:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for timing in ours stock; do
  echo "== ${timing} timing, ${repeats} run(s) per fault (a few minutes)"
  HA_GEN_DB_FAULT_REPEATS="$repeats" HA_GEN_DB_TIMING="$([[ $timing == stock ]] && echo stock || echo ours)" \
    HA_GEN_DB_RESULT_FILE="$tmp/$timing.json" \
    npx vitest run test/live/db-patroni.test.ts --reporter=dot >"$tmp/$timing.log" 2>&1 || {
      keep="$(mktemp "${TMPDIR:-/tmp}/bench-failover-$timing-XXXXXX.log")"
      cp "$tmp/$timing.log" "$keep"
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
