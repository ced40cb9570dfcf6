/**
 * What the CLI prints in colour, and how. Colour only on a terminal, never when NO_COLOR is set
 * (https://no-color.org) or TERM=dumb; FORCE_COLOR forces it.
 */
function colorLevel(stream: { isTTY?: boolean }): 0 | 1 {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return 0;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return 1;
  if (process.env.TERM === 'dumb') return 0;
  return stream.isTTY ? 1 : 0;
}

/**
 * The few styles the CLI uses, as chalk prints them at level 1 (basic ANSI colours): a styled text
 * closes and reopens its style around line breaks and around the same style nested inside it.
 * No chalk: importing it asks node:tty about both streams, a few ms of every run's start-up.
 */
const ansi = (open: number, close: number) => {
  const o = `\x1b[${open}m`;
  const c = `\x1b[${close}m`;
  return (text: string): string => {
    if (!text) return text;
    const s = text.includes('\x1b') ? text.replaceAll(c, o) : text;
    return o + s.replace(/\r?\n/g, (nl) => c + nl + o) + c;
  };
};
const STYLES = { red: ansi(31, 39), green: ansi(32, 39), yellow: ansi(33, 39), bold: ansi(1, 22), dim: ansi(2, 22) };
type Styles = typeof STYLES;
const PLAIN = Object.fromEntries(Object.keys(STYLES).map((k) => [k, (text: string) => text])) as Styles;

// (process.stdout and process.stderr load node:tty only when they are a terminal.)
export const out: Styles = colorLevel(process.stdout) ? STYLES : PLAIN;
export const err: Styles = colorLevel(process.stderr) ? STYLES : PLAIN;

export const say = (line = '') => process.stdout.write(`${line}\n`);
export const warn = (line: string) => process.stderr.write(`${err.yellow('warning:')} ${line}\n`);
/** Progress goes to stderr so stdout stays clean for --json and pipes. */
export const progress = (line: string) => process.stderr.write(`${line}\n`);

/** The line `generate --check` prints when nothing drifted, from the render or from the render cache. */
export const matchesLine = (outDir: string, config: string, files: number) => `${out.green('ok')} ${outDir} matches ${config} (${files} files)`;
