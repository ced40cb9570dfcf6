/** Every error a user can cause has a class here; src/cli/run.ts alone turns them into messages and exit codes. */
export type ErrorCode = 'usage' | 'spec' | 'ownership' | 'interrupted' | 'io';

export interface Issue {
  /** Key path (`database.ha`) or flag (`--lb`). */
  path: string;
  message: string;
}

export class HaGenError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
    this.name = 'HaGenError';
  }
}

/** Bad flags, bad spec values, impossible combinations: exit 2, nothing written. */
export class SpecError extends HaGenError {
  constructor(message: string, issues: Issue[] = []) {
    super('spec', message, issues);
  }
}

export class UsageError extends HaGenError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Files that ha-gen did not write, or that were edited by hand: exit 2 unless --force. */
export class OwnershipError extends HaGenError {
  constructor(message: string, readonly files: string[]) {
    super('ownership', message);
  }
}

export class InterruptedError extends HaGenError {
  constructor() {
    super('interrupted', 'interrupted');
  }
}

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;
