import { readFile } from 'node:fs/promises';
import { isPair, isScalar, parseDocument, visit } from 'yaml';
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

/** Limits that keep a hostile spec file cheap to refuse: every check below is linear in its size. */
export const SPEC_LIMITS = { bytes: 1024 * 1024, lines: 50_000, keysPerMap: 1000, itemsPerList: 10_000 } as const;
/** Keys that would reach an object's prototype in JavaScript consumers of the spec. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function parseSpecText(text: string, file = 'ha-gen.yaml'): Record<string, unknown> {
  if (Buffer.byteLength(text, 'utf8') > SPEC_LIMITS.bytes) {
    throw new SpecError(`${file} is too large`, [{ path: file, message: `${Buffer.byteLength(text, 'utf8')} bytes; a spec file may have at most ${SPEC_LIMITS.bytes} bytes (1 MiB)` }]);
  }
  // Lines before parsing: the parser's time grows with them (5000 hosts in block style are ~20 000).
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1 && lines <= SPEC_LIMITS.lines; i = text.indexOf('\n', i + 1)) lines++;
  if (lines > SPEC_LIMITS.lines) throw new SpecError(`${file} is too large`, [{ path: file, message: `more than ${SPEC_LIMITS.lines} lines; a spec file may have at most ${SPEC_LIMITS.lines}` }]);
  // uniqueKeys off: the yaml library compares every key with every other (quadratic for a huge map);
  // duplicates are found below with one Set per map instead.
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: true });
  if (doc.errors.length) {
    throw new SpecError(`${file} is not valid YAML`, doc.errors.map((e) => ({ path: `${file}:${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.message })));
  }
  checkShape(doc, text, file);
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

/** Duplicate keys, prototype keys at any depth, and maps or lists past the limits: exit 2 naming the key. */
function checkShape(doc: ReturnType<typeof parseDocument>, text: string, file: string): void {
  const issues: Array<{ path: string; message: string }> = [];
  const lineStarts: number[] = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const keyOf = (node: unknown) => (isScalar(node) ? String(node.value) : JSON.stringify(node));
  const where = (path: readonly unknown[]) => path.filter(isPair).map((p) => keyOf(p.key));
  visit(doc, {
    Map(_k, map, path) {
      const at = where(path);
      if (map.items.length > SPEC_LIMITS.keysPerMap) issues.push({ path: at.join('.') || '(root)', message: `has ${map.items.length} keys; at most ${SPEC_LIMITS.keysPerMap} are allowed in one mapping` });
      const seen = new Set<string>();
      for (const item of map.items) {
        const key = keyOf(item.key);
        const keyPath = [...at, key].join('.');
        if (FORBIDDEN_KEYS.has(key)) issues.push({ path: keyPath, message: `the key "${key}" is not allowed (it would reach JavaScript object prototypes)` });
        else if (seen.has(key)) {
          const range = isScalar(item.key) ? item.key.range : undefined;
          issues.push({ path: range ? `${file}:${lineOf(range[0])}` : keyPath, message: `duplicate key "${keyPath}": map keys must be unique` });
        }
        seen.add(key);
      }
      return issues.length > 20 ? visit.BREAK : undefined;
    },
    Seq(_k, seq, path) {
      if (seq.items.length > SPEC_LIMITS.itemsPerList) issues.push({ path: where(path).join('.') || '(root)', message: `has ${seq.items.length} items; at most ${SPEC_LIMITS.itemsPerList} are allowed in one list` });
      return undefined;
    },
  });
  if (issues.length) throw new SpecError(`${file} cannot be used`, issues.slice(0, 20));
}
