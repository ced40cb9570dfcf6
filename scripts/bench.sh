#!/usr/bin/env bash
# npm run bench: start-up, scaling, validation and memory figures of the built CLI, measured in
# one run on this machine (ratios within one run are what to compare: absolute times move with
# the machine and its load). Needs hyperfine and /usr/bin/time (Debian: hyperfine, time).
#   BENCH_RUNS=30 (start-up runs)  BENCH_SIZES="3 30 300 3000"  BENCH_KEEP=1 (keep the work folder)
#   BENCH_STARTUP_ONLY=1 (only section 1, the start-up figures)  BENCH_ROUNDS=10 (paired runs of the cold ratio)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_RUNS:-30}"
sizes="${BENCH_SIZES:-3 30 300 3000}"
cli=(node "$root/bin/ha-gen.js")

for tool in hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine time)" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ha-gen-bench.XXXXXX")"
# tmpfs for the "without the disk" series, when the machine has one
shm=""
[[ -d /dev/shm && -w /dev/shm ]] && shm="$(mktemp -d /dev/shm/ha-gen-bench.XXXXXX)"
[[ -n "${BENCH_KEEP:-}" ]] || trap 'rm -rf "$work" ${shm:+"$shm"}' EXIT
# A cache of our own: the render cache starts empty and the user's is left alone.
export XDG_CACHE_HOME="$work/cache"

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

# The largest preset (issue 12's start-up target is on it): what `init --yes` writes for each tier x
# platform, the one with the most files (the presets follow the code, so does this choice).
largest=""
files=0
for t in single-server multi-server multi-region; do
  for p in compose swarm hosts; do
    d="$work/preset-$t-$p"
    mkdir -p "$d"
    (cd "$d" && "${cli[@]}" init --yes --tier "$t" --platform "$p" >/dev/null 2>&1) || continue
    n=$(find "$d/ha-bundle" -type f | wc -l)
    if ((n > files)); then files=$n; largest="init --yes --tier $t --platform $p"; big="$d"; fi
  done
done
[[ -n "$largest" ]] || { echo "bench: no preset renders" >&2; exit 1; }

echo
echo "== 1. start-up: the largest preset ($largest: $files files), median of $runs runs"
echo "  cold: no cache of any kind (HA_GEN_RENDER_CACHE=0, and no V8 compile cache: Node 22+ would keep"
echo "  one, here disabled and pointed at a folder emptied before every run), as on a fresh CI machine."
echo "  render cache warm: generate rendered this spec before (a pre-commit hook, CI that keeps ~/.cache)."
cold_env="HA_GEN_RENDER_CACHE=0 NODE_DISABLE_COMPILE_CACHE=1 NODE_COMPILE_CACHE=$work/compile-cache"
(cd "$big" && hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$work/startup.json" \
  --prepare "rm -rf $work/compile-cache" \
  'node -e 0' "node $root/bin/ha-gen.js --version" "env $cold_env node $root/bin/ha-gen.js generate --check" \
  "node $root/bin/ha-gen.js generate --check" >/dev/null)
floor=$(median "$work/startup.json" 0)
printf '  %-44s %8s ms  %5sx\n' 'node -e 0 (floor)' "$floor" 1.00
names=('' 'ha-gen --version' 'ha-gen generate --check, cold' 'ha-gen generate --check, render cache warm')
for i in 1 2 3; do
  m=$(median "$work/startup.json" $i)
  printf '  %-44s %8s ms  %5sx\n' "${names[$i]}" "$m" "$(ratio "$m" "$floor")"
done

# The target line. hyperfine runs one command's series after the other, so when other work
# competes for the CPUs (/proc/pressure/cpu) the floor and the command are measured under
# different loads. Hence short hyperfine runs of the pair, one after the other: each gives a ratio
# of two series measured within a second of each other; the line gives their median.
rounds="${BENCH_ROUNDS:-10}"
ratios=()
for ((r = 0; r < rounds; r++)); do
  (cd "$big" && hyperfine -N --warmup 1 --runs 5 --style none --export-json "$work/pair.json" --prepare "rm -rf $work/compile-cache" \
    'node -e 0' "env $cold_env node $root/bin/ha-gen.js generate --check" >/dev/null 2>"$work/pair.err") || { cat "$work/pair.err" >&2; exit 1; }
  ratios+=("$(median "$work/pair.json" 0) $(median "$work/pair.json" 1)")
done
node -e '
  const pairs = process.argv.slice(1).map((p) => p.split(" ").map(Number)).sort((a, b) => a[1] / a[0] - b[1] / b[0]);
  const [lo, mid, hi] = [pairs[0], pairs[Math.floor(pairs.length / 2)], pairs[pairs.length - 1]];
  const r = (p) => (p[1] / p[0]).toFixed(2);
  const ms = (p) => `${p[1].toFixed(1)} / ${p[0].toFixed(1)} ms`;
  console.log(`  ${pairs.length} paired runs (node -e 0, cold generate --check; median of 5 each): min ${r(lo)}× (${ms(lo)}), max ${r(hi)}× (${ms(hi)})`);
  console.log(`cold generate --check: ${mid[1].toFixed(1)} ms = ${r(mid)}× node -e 0 (${mid[0].toFixed(1)} ms) (target ≤ 2×)`);
  console.log(`cold ratio min / median / max: ${r(lo)}× / ${r(mid)}× / ${r(hi)}×`);
' "${ratios[@]}"
[[ -r /proc/pressure/cpu ]] && echo "  (CPU pressure: $(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu)% of the last 10 s with a task waiting for a CPU; above a few % every ratio is inflated)"
[[ -z "${BENCH_STARTUP_ONLY:-}" ]] || exit 0

echo
echo "== 2. generate by inventory size"
series=""
for v in $(node "$root/scripts/bench-specs.mjs" --variants); do
  ok=1
  for n in $sizes; do prepare "$v" "$n" || { ok=0; break; }; done
  if ((ok)); then series="$v"; break; fi
done
[[ -n "$series" ]] || { echo "bench: no variant renders at every size ($sizes)" >&2; exit 1; }
echo "  variant $series (the largest that renders at every size); median wall time of 'ha-gen generate' into a new folder"
echo "  disk: $work ($(df -T "$work" | awk 'NR == 2 { print $2 }')); floor: 'cp -a' of the same tree on that disk (no render, same folders and files)"
[[ -n "$shm" ]] && echo "  tmpfs: the same run in $shm, which leaves out the disk: ha-gen's own cost"
# Old outputs are moved aside (O(1)) and deleted after the series, so deleting them does not
# burden the disk during the next run.
gen_series() { # DIR RUNS JSON
  mkdir -p "$1/.trash"
  (cd "$1" && hyperfine -N --warmup 1 --runs "$2" --style none --prepare "sh -c 'test ! -e ha-bundle || mv ha-bundle .trash/\$(date +%s%N)'" --export-json "$3" "node $root/bin/ha-gen.js generate" >/dev/null)
  rm -rf "$1/.trash"
}
prev=""
printf '  %5s %6s %6s %10s %10s %10s  %s\n' hosts files dirs disk floor tmpfs growth
for n in $sizes; do
  dir="$work/$series-$n"
  r=$((n >= 3000 ? 3 : n >= 300 ? 5 : 10))
  gen_series "$dir" "$r" "$work/gen-$n.json"
  m=$(median "$work/gen-$n.json" 0)
  nfiles=$(find "$dir/ha-bundle" -type f | wc -l)
  ndirs=$(find "$dir/ha-bundle" -type d | wc -l)
  sync
  (cd "$dir" && hyperfine -N --runs "$r" --style none --prepare "sh -c 'rm -rf $dir/.copy'" --export-json "$work/cp-$n.json" "cp -a ha-bundle $dir/.copy" >/dev/null)
  rm -rf "$dir/.copy"
  fl=$(median "$work/cp-$n.json" 0)
  t="-"
  if [[ -n "$shm" ]]; then
    mkdir -p "$shm/$n" && cp "$dir/ha-gen.yaml" "$shm/$n/"
    gen_series "$shm/$n" "$r" "$work/shm-$n.json"
    t="$(median "$work/shm-$n.json" 0) ms"
    rm -rf "${shm:?}/$n"
  fi
  growth=$([[ -n "$prev" ]] && echo "x$(ratio "$m" "$prev") vs previous (disk)" || echo "")
  printf '  %5s %6s %6s %7s ms %7s ms %10s  %s\n' "$n" "$nfiles" "$ndirs" "$m" "$fl" "$t" "$growth"
  prev="$m"
  last="$dir"
done
echo "  (a regenerate with nothing to change writes nothing: it only renders, reads and compares)"

echo
echo "== 3. validate: the largest preset ($largest: $files files), every real tool, result cache off (cold)"
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
# into a new folder, like the series above (after the disk has written out the series' deletions)
(cd "$last" && mv ha-bundle "$work/old-bundle" && sync && /usr/bin/time -v "${cli[@]}" generate 2>"$work/time.txt" >/dev/null)
awk -F': ' '/Maximum resident set size/ { printf "  peak RSS %.1f MiB\n", $2 / 1024 } /Elapsed \(wall clock\)/ { print "  wall " $2 }' "$work/time.txt"
