import { Chalk, type ChalkInstance } from 'chalk';
import { colorLevel } from './color-level.js';

export const out: ChalkInstance = new Chalk({ level: colorLevel(process.stdout) });
export const err: ChalkInstance = new Chalk({ level: colorLevel(process.stderr) });

export const say = (line = '') => process.stdout.write(`${line}\n`);
export const warn = (line: string) => process.stderr.write(`${err.yellow('warning:')} ${line}\n`);
/** Progress goes to stderr so stdout stays clean for --json and pipes. */
export const progress = (line: string) => process.stderr.write(`${line}\n`);
