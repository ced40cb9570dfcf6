/**
 * Runs a program and collects its output: the part of execa validate used (reject: false, `all`,
 * timeout, env, input), on child_process.spawn directly. execa costs ~5 ms more of the main
 * thread per program (streams, signals, abort plumbing), and validate starts dozens of them while
 * the main thread is what hands out the work.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ExecResult {
  /** undefined when the program could not start or was ended by a signal */
  exitCode: number | undefined;
  stdout: string;
  /** stdout and stderr interleaved as they arrived */
  all: string;
  timedOut: boolean;
}

export interface ExecOptions {
  cwd?: string;
  /** added to this process's environment, or the whole environment with extendEnv: false */
  env?: Record<string, string | undefined>;
  extendEnv?: boolean;
  timeout?: number;
  /** written to stdin (otherwise stdin is /dev/null) */
  input?: string;
}

// Programs still running when ha-gen exits are stopped (as execa's cleanup did).
const running = new Set<ChildProcess>();
let hooked = false;

/** Like execa, one final newline is not part of the output. */
export const stripFinalNewline = (s: string) => (s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s);

export function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGTERM');
    });
  }
  return new Promise((resolve) => {
    const env = opts.extendEnv === false ? opts.env : opts.env ? { ...process.env, ...opts.env } : process.env;
    const out: Buffer[] = [];
    const all: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let child: ChildProcess;
    const settle = (exitCode: number | undefined, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      running.delete(child);
      const text = Buffer.concat(all).toString('utf8') + extra;
      resolve({ exitCode, stdout: stripFinalNewline(Buffer.concat(out).toString('utf8')), all: stripFinalNewline(text), timedOut });
    };
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ exitCode: undefined, stdout: '', all: (err as Error).message, timedOut: false });
      return;
    }
    running.add(child);
    child.stdout!.on('data', (b: Buffer) => {
      out.push(b);
      all.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => all.push(b));
    if (opts.timeout) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }, opts.timeout);
    }
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined); // a program that exits without reading it
      child.stdin!.end(opts.input);
    }
    child.on('error', (err) => settle(undefined, err.message));
    child.on('close', (code) => settle(code ?? undefined));
  });
}
