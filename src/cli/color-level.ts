/**
 * Colour only on a terminal, never when NO_COLOR is set (https://no-color.org) or TERM=dumb.
 * No chalk here: dist/check.js uses this, and chalk loads node:tty (~7 ms) when imported.
 */
export function colorLevel(stream: { isTTY?: boolean }): 0 | 1 {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return 0;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return 1;
  if (process.env.TERM === 'dumb') return 0;
  return stream.isTTY ? 1 : 0;
}

/** The line `generate --check` prints when nothing drifted; `ok` comes coloured by the caller. */
export const matchesLine = (ok: string, out: string, config: string, files: number) => `${ok} ${out} matches ${config} (${files} files)`;
