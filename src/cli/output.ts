import { Chalk, type ChalkInstance } from 'chalk';

/** Colour only on a terminal, never when NO_COLOR is set (https://no-color.org) or TERM=dumb. */
function colorLevel(stream: NodeJS.WriteStream): 0 | 1 {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return 0;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return 1;
  if (process.env.TERM === 'dumb') return 0;
  return stream.isTTY ? 1 : 0;
}

export const out: ChalkInstance = new Chalk({ level: colorLevel(process.stdout) });
export const err: ChalkInstance = new Chalk({ level: colorLevel(process.stderr) });

export const say = (line = '') => process.stdout.write(`${line}\n`);
export const warn = (line: string) => process.stderr.write(`${err.yellow('warning:')} ${line}\n`);
/** Progress goes to stderr so stdout stays clean for --json and pipes. */
export const progress = (line: string) => process.stderr.write(`${line}\n`);
