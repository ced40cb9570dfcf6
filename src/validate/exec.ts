/**
 * Runs a program and collects its output, never throwing: the one shape of execa every checker
 * uses (reject: false, `all`, timeout, env, input; stdin is /dev/null unless input is given).
 * Measured against a bare child_process.spawn wrapper: no difference in validate's wall time
 * (2.8 vs 3.0 s on the big bundle), so the library stays.
 */
import { execa } from 'execa';

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

/** Like execa, one final newline is not part of the output. */
export const stripFinalNewline = (s: string) => (s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s);

export async function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await execa(cmd, args, {
    reject: false,
    all: true,
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    timeout: opts.timeout,
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
  });
  // a program that could not start: its error is the output
  const all = String(r.all ?? '') || (r.exitCode === undefined && !r.timedOut ? (r.shortMessage ?? '') : '');
  return { exitCode: r.exitCode ?? undefined, stdout: String(r.stdout ?? ''), all, timedOut: !!r.timedOut };
}
