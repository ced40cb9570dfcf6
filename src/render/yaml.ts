import { Document, parse, visit } from 'yaml';
import type { RenderContext } from './context.js';
import { headerLines } from './context.js';

/** Structured formats are built as objects and stringified here, never assembled from strings. */
export function toYaml(value: unknown, ctx: RenderContext, extraComment?: string): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  const lines = [...headerLines(ctx), ...(extraComment ? extraComment.split('\n') : [])];
  doc.commentBefore = lines.map((l) => ` ${l}`).join('\n');
  quoteAmbiguous(doc);
  return doc.toString({ lineWidth: 0, indentSeq: true, singleQuote: false });
}

/**
 * YAML 1.1 readers (PyYAML in docker-compose 1.x and Patroni, Go yaml.v2 in etcd) read on, yes, y,
 * 22:22 or 1_000 as a bool or a number, and YAML 1.2 reads 0o17 as one: strings like these are
 * double-quoted so every reader sees a string (e.g. a port mapping "22:22", an env value "on").
 */
const plainSafe = new Map<string, boolean>();

function isPlainSafe(s: string): boolean {
  let same = plainSafe.get(s);
  if (same === undefined) {
    try {
      same = parse(s, { version: '1.1' }) === s && parse(s) === s;
    } catch {
      same = false;
    }
    if (plainSafe.size > 10_000) plainSafe.clear();
    plainSafe.set(s, same);
  }
  return same;
}

function quoteAmbiguous(doc: Document): void {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') return;
      if (!isPlainSafe(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
}
