import { Document } from 'yaml';
import type { RenderContext } from './context.js';
import { headerLines } from './context.js';

/** Structured formats are built as objects and stringified here, never assembled from strings. */
export function toYaml(value: unknown, ctx: RenderContext, extraComment?: string): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  const lines = [...headerLines(ctx), ...(extraComment ? extraComment.split('\n') : [])];
  doc.commentBefore = lines.map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0, indentSeq: true, singleQuote: false });
}
