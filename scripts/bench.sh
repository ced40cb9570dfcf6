#!/usr/bin/env bash
# npm run bench: start-up, scaling, validation and memory figures of the built CLI, measured in
# one run on this machine (ratios within one run are what to compare: absolute times move with
# the machine and its load). Needs hyperfine and /usr/bin/time (Debian: hyperfine, time).
#   BENCH_RUNS=30 (start-up runs)  BENCH_SIZES="3 30 300 3000"  BENCH_KEEP=1 (keep the work folder)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_RUNS:-30}"
sizes="${BENCH_SIZES:-3 30 300 3000}"
preset_hosts=20
cli=(node "$root/bin/ha-gen.js")

for tool in hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine time)" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ha-gen-bench.XXXXXX")"
[[ -n "${BENCH_KEEP:-}" ]] || trap 'rm -rf "$work"' EXIT

node "$root/scripts/build.mjs"

# A spec folder for VARIANT with N hosts; succeeds when the CLI renders it.
prepare() {
  local dir="$work/$1-$2"
  rm -rf "$dir"
  node "$root/scripts/bench-specs.mjs" "$dir" "$1" "$2"
  (cd "$dir" && "${cli[@]}" generate >/dev/null 2>"$dir/generate.err")
}

# median (ms) of command INDEX in a hyperfine JSON export
median() { node -e 'const r = require(process.argv[1]).results[+process.argv[2]]; console.log((r.median * 1000).toFixed(1))' "$1" "$2"; }
ratio() { node -e 'console.log((+process.argv[1] / +process.argv[2]).toFixed(2))' "$1" "$2"; }

echo "== machine"
echo "$(node -p 'const os = require("os"); `${os.cpus()[0].model}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`'), $(uname -sr), node $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg)"

# The largest deployment the renderer supports (variants are listed largest first).
largest=""
for v in $(node "$root/scripts/bench-specs.mjs" --variants); do
  if prepare "$v" "$preset_hosts"; then largest="$v"; break; fi
  echo "(variant $v does not render yet: $(head -c 200 "$work/$v-$preset_hosts/generate.err" | tr '\n' ' '))"
done
[[ -n "$largest" ]] || { echo "bench: no variant renders" >&2; exit 1; }
big="$work/$largest-$preset_hosts"
files=$(find "$big/ha-bundle" -type f | wc -l)

echo
echo "== 1. start-up: $largest, $preset_hosts hosts ($files files), median of $runs runs"
(cd "$big" && hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$work/startup.json" \
  'node -e 0' "node $root/bin/ha-gen.js --version" "node $root/bin/ha-gen.js generate --check" >/dev/null)
floor=$(median "$work/startup.json" 0)
printf '  %-28s %8s ms  %5sx\n' 'node -e 0 (floor)' "$floor" 1.00
for i in 1 2; do
  name=$([[ $i == 1 ]] && echo 'ha-gen --version' || echo 'ha-gen generate --check')
  m=$(median "$work/startup.json" $i)
  printf '  %-28s %8s ms  %5sx\n' "$name" "$m" "$(ratio "$m" "$floor")"
done

echo
echo "== 2. generate by inventory size"
series=""
for v in $(node "$root/scripts/bench-specs.mjs" --variants); do
  ok=1
  for n in $sizes; do prepare "$v" "$n" || { ok=0; break; }; done
  if ((ok)); then series="$v"; break; fi
done
[[ -n "$series" ]] || { echo "bench: no variant renders at every size ($sizes)" >&2; exit 1; }
echo "  variant $series (the largest that renders at every size); median wall time of 'ha-gen generate' into an empty folder"
echo "  (a regenerate with nothing to change is faster: it only renders, reads and compares)"
prev=""
for n in $sizes; do
  dir="$work/$series-$n"
  r=$((n >= 3000 ? 3 : n >= 300 ? 5 : 10))
  (cd "$dir" && hyperfine -N --warmup 1 --runs "$r" --style none --prepare 'rm -rf ha-bundle' --export-json "$work/gen-$n.json" "node $root/bin/ha-gen.js generate" >/dev/null)
  m=$(median "$work/gen-$n.json" 0)
  nfiles=$(find "$dir/ha-bundle" -type f | wc -l)
  growth=$([[ -n "$prev" ]] && echo "x$(ratio "$m" "$prev") vs previous" || echo "")
  printf '  %5s hosts %6s files %9s ms  %s\n' "$n" "$nfiles" "$m" "$growth"
  prev="$m"
  last="$dir"
done

echo
echo "== 3. validate: $largest, $preset_hosts hosts ($files files), every real tool, result cache off (cold)"
(cd "$big" && HA_GEN_REQUIRE_TOOLS=1 HA_GEN_VALIDATE_CACHE=0 "${cli[@]}" validate --json >"$work/validate.json" 2>/dev/null) || true
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const list = Array.isArray(r) ? r : r.results ?? r.files ?? [];
  const by = {};
  for (const x of list) by[x.status ?? x.result ?? "?"] = (by[x.status ?? x.result ?? "?"] ?? 0) + 1;
  console.log(`  results: ${Object.entries(by).map(([k, v]) => `${v} ${k}`).join(", ") || JSON.stringify(r).slice(0, 200)}`);
' "$work/validate.json" 2>/dev/null || echo "  (validate --json output not recognised)"
(cd "$big" && HA_GEN_REQUIRE_TOOLS=1 HA_GEN_VALIDATE_CACHE=0 hyperfine -N -i --warmup 1 --runs 3 --style none --export-json "$work/validate-time.json" "node $root/bin/ha-gen.js validate" >/dev/null)
echo "  median wall time: $(median "$work/validate-time.json" 0) ms (3 runs)"

echo
echo "== 4. peak memory: 'ha-gen generate' of the largest inventory ($(basename "$last"))"
(cd "$last" && /usr/bin/time -v "${cli[@]}" generate 2>"$work/time.txt" >/dev/null)
awk -F': ' '/Maximum resident set size/ { printf "  peak RSS %.1f MiB\n", $2 / 1024 } /Elapsed \(wall clock\)/ { print "  wall " $2 }' "$work/time.txt"
