/**
 * Ctrl+C (SIGINT) and SIGTERM. Outside a write nothing is on disk yet, so the process stops at once
 * with exit 130. During a write the signal is recorded and writeBundle stops at its next step,
 * removes its staging folder and reports "nothing was written" (exit 130); once the swap into the
 * output folder has begun it is finished first, so the folder is never left half old, half new.
 * No imports: the CLI entry loads this on every run.
 */
type Guard = { active: number; signal: NodeJS.Signals | null; swapping: boolean; installed: boolean; cleanups: Set<() => void> };
// One guard per process, even when this module is bundled twice (dist/cli.js installs the handler,
// the built CLI does the write): both copies find it under the same global symbol.
const KEY = Symbol.for('ha-gen.writeGuard');
const g = globalThis as unknown as Record<symbol, Guard | undefined>;
export const writeGuard: Guard = (g[KEY] ??= { active: 0, signal: null, swapping: false, installed: false, cleanups: new Set() });

/**
 * Work that must not outlive an interrupted run (validate's throwaway PostgreSQL and temp folder):
 * run synchronously before the process exits with 130. Returns the function that unregisters it.
 */
export function onInterrupt(fn: () => void): () => void {
  writeGuard.cleanups.add(fn);
  return () => writeGuard.cleanups.delete(fn);
}

export function installSignalHandlers(): void {
  if (writeGuard.installed) return;
  writeGuard.installed = true;
  const onSignal = (sig: NodeJS.Signals) => {
    if (writeGuard.active > 0) {
      writeGuard.signal ??= sig;
      return;
    }
    // last registered first, like nested finally blocks
    for (const fn of [...writeGuard.cleanups].reverse()) {
      try {
        fn();
      } catch {
        /* exiting anyway */
      }
    }
    process.stderr.write('\nha-gen: interrupted; nothing was written\n');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Throws when a signal arrived and the write has not started swapping. */
export function checkInterrupted(make: () => Error): void {
  if (writeGuard.signal && !writeGuard.swapping) throw make();
}
