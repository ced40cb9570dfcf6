import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { SpecError, UsageError } from '../errors.js';
import { migrate } from './resolve.js';

/** Reads ha-gen.yaml into a plain object (migrated to the current version); no defaults applied. */
export async function loadSpecFile(file: string): Promise<Record<string, unknown>> {
  return parseSpecText((await readSpecFile(file)).toString('utf8'), file);
}

/** The spec file's bytes; a missing or unreadable file is a usage error naming it. */
export async function readSpecFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`spec file ${file} does not exist; create one with \`ha-gen init\` or pass --config FILE`);
    throw new UsageError(`cannot read spec file ${file}: ${(err as Error).message}`);
  }
}

export function parseSpecText(text: string, file = 'ha-gen.yaml'): Record<string, unknown> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    throw new SpecError(`${file} is not valid YAML`, doc.errors.map((e) => ({ path: `${file}:${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.message })));
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // e.g. an alias bomb ("Excessive alias count"): bad input, not a crash
    throw new SpecError(`${file} cannot be read`, [{ path: file, message: (err as Error).message }]);
  }
  if (value === null || value === undefined) return migrate({});
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new SpecError(`${file} must be a mapping of keys`, [{ path: '(root)', message: 'expected keys such as version, name, tier' }]);
  }
  return migrate(value as Record<string, unknown>);
}
