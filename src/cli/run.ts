import { EXIT, HaGenError, OwnershipError } from '../errors.js';
import { err } from './output.js';

/** The one place that turns errors into messages and exit codes. */
export async function run(body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    return report(e);
  }
}

export function report(e: unknown): number {
  const w = (s: string) => process.stderr.write(`${s}\n`);
  if (e instanceof HaGenError) {
    if (e.code === 'interrupted') {
      w('ha-gen: interrupted; nothing was written');
      return EXIT.interrupted;
    }
    w(`${err.red('error:')} ${e.message}`);
    for (const i of e.issues) w(`  ${err.bold(i.path)}: ${i.message}`);
    if (e instanceof OwnershipError || e.code === 'spec' || e.code === 'usage') return EXIT.usage;
    return EXIT.failed;
  }
  // @inquirer/prompts throws ExitPromptError on Ctrl+C.
  if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) {
    w('ha-gen: interrupted; nothing was written');
    return EXIT.interrupted;
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOSPC' || code === 'EROFS') {
    w(`${err.red('error:')} ${(e as Error).message}`);
    return EXIT.failed;
  }
  w(`${err.red('unexpected error')} (please report it with the command you ran): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return EXIT.failed;
}
