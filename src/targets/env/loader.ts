/**
 * The bash function the bundle's scripts read `.env` with: as data (`KEY=VALUE` lines), never as
 * shell code. `. .env` would run `$(...)`, backticks and any command a hand-edited line holds.
 */

/**
 * What a value may hold: the random secrets' alphabet (letters and digits) plus `.`, `_` and `-`
 * (the fixed user names). These values go into URLs (DATABASE_URL), YAML, systemd EnvironmentFiles
 * and remote command lines unquoted by their readers, where anything else would need escaping.
 */
export const ENV_VALUE_CLASS = 'A-Za-z0-9._-';

/**
 * `load_env FILE`: sets and exports only the names the bundle uses (`names`); other lines are
 * ignored, so .env cannot set PATH, SSH_OPTS or IFS for the script. Comments and blank lines are
 * skipped, one pair of surrounding quotes is removed, a value outside ENV_VALUE_CLASS is refused
 * with the key's name (exit 2), and nothing is ever evaluated.
 */
export function envLoaderShell(prog: string, names: string[]): string {
  const known = [...new Set(names)].sort();
  return [
    '# .env is data: KEY=VALUE lines (comments and blank lines skipped), never run as shell code.',
    'load_env() {',
    '  local file="$1" line key value n=0',
    "  local -A known=(" + known.map((k) => `[${k}]=1`).join(' ') + ')',
    '  while IFS= read -r line || [[ -n "$line" ]]; do',
    '    n=$((n + 1))',
    "    line=\"${line%$'\\r'}\"",
    "    [[ \"$line\" =~ ^[[:space:]]*(#.*)?$ ]] && continue",
    "    if [[ ! \"$line\" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then",
    `      echo "${prog}: $file line $n is not KEY=VALUE" >&2`,
    '      exit 2',
    '    fi',
    '    key="${BASH_REMATCH[2]}"',
    '    value="${BASH_REMATCH[3]}"',
    '    value="${value%"${value##*[![:space:]]}"}"',
    '    [[ "$value" =~ ^\\"(.*)\\"$ || "$value" =~ ^\\\'(.*)\\\'$ ]] && value="${BASH_REMATCH[1]}"',
    '    [[ -n "${known[$key]:-}" ]] || continue',
    `    if [[ ! "$value" =~ ^[${ENV_VALUE_CLASS}]*$ ]]; then`,
    `      echo "${prog}: $key in $file has a character outside ${ENV_VALUE_CLASS}; refused (.env is read as data, not run)" >&2`,
    '      exit 2',
    '    fi',
    '    printf -v "$key" \'%s\' "$value"',
    '    export "${key?}"',
    '  done <"$file"',
    '}',
  ].join('\n');
}
