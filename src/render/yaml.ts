import type { RenderContext } from './context.js';
import { headerLines } from './context.js';

/**
 * Structured formats (YAML) are built as objects and written here, never assembled from strings.
 * A small block-style emitter instead of the yaml library's Document: its output is what the
 * library wrote for these files (test/unit/yaml-emitter.test.ts), at a fraction of the cost (the
 * Document, its visitor and a parse per string to find ambiguous ones cost ~150 ms of a 20-host
 * multi-region generate). Strings that a YAML 1.1 (docker-compose 1.x and Patroni's PyYAML, etcd's
 * Go yaml.v2) or 1.2 reader would take for anything else (on, yes, 22:22, 1_000, 0o17) are
 * double-quoted, so every reader sees a string.
 */
export function toYaml(value: unknown, ctx: RenderContext, extraComment?: string): string {
  const lines = [...headerLines(ctx), ...(extraComment ? extraComment.split('\n') : [])].map(comment);
  return emit(value, lines, new Map());
}

/** toYaml with short "why" comments above chosen keys (path = keys from the root). */
export function commentedYaml(value: Record<string, unknown>, ctx: RenderContext, top: string, comments: Array<[string[], string]>): string {
  const notes = new Map(comments.map(([path, text]) => [path.join('\0'), wrap(text)]));
  return emit(value, [...headerLines(ctx), ...top.split('\n').filter(Boolean)].map(comment), notes);
}

function emit(value: unknown, lines: string[], notes: Map<string, string[]>): string {
  lines.push('');
  if (isBlock(value)) block(value, '', [], notes, lines);
  else lines.push(inline(value));
  if (notes.size) throw new Error(`internal: no key ${[...notes.keys()][0]!.replaceAll('\0', '.')} to comment`);
  return `${lines.join('\n')}\n`;
}

const comment = (line: string) => (line ? `# ${line}` : '#');
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A map's keys at `indent`; `path` is the keys down to it while no list is crossed (null after). */
function mapLines(map: Record<string, unknown>, indent: string, path: string[] | null, notes: Map<string, string[]>, out: string[]): void {
  for (const [k, v] of Object.entries(map)) {
    if (v === undefined) continue; // as JSON and the yaml library: no key
    const here = path && [...path, k];
    const note = here && notes.get(here.join('\0'));
    if (note) {
      for (const l of note) out.push(indent + comment(l));
      notes.delete(here.join('\0'));
    }
    const key = `${indent}${scalar(k)}:`;
    if (isBlock(v)) {
      out.push(key);
      block(v, `${indent}  `, here, notes, out);
    } else out.push(`${key} ${inline(v)}`);
  }
}

/** A non-empty map or list, each line at `indent`. */
function block(v: object, indent: string, path: string[] | null, notes: Map<string, string[]>, out: string[]): void {
  if (!Array.isArray(v)) return mapLines(v as Record<string, unknown>, indent, path, notes, out);
  for (const item of v) {
    if (!isBlock(item)) {
      out.push(`${indent}- ${inline(item)}`);
      continue;
    }
    // the item's first line follows "- ", the rest line up under it
    const start = out.length;
    block(item, `${indent}  `, null, notes, out);
    out[start] = `${indent}- ${out[start]!.slice(indent.length + 2)}`;
  }
}

const isBlock = (v: unknown): v is object => (Array.isArray(v) ? v.length > 0 : isMap(v) && Object.values(v).some((x) => x !== undefined));

function inline(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (isMap(v)) return '{}';
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isFinite(v) ? (Object.is(v, -0) ? '-0' : JSON.stringify(v)) : Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf';
  if (typeof v === 'string') return scalar(v);
  throw new Error(`internal: cannot write ${typeof v} as YAML`);
}

// Plain scalars a YAML 1.1 or 1.2 reader resolves to something other than a string: null,
// booleans, numbers (1.1: 1_000, 0b1, 017, 1:30 sexagesimal; 1.2: 0o17), timestamps, the merge key.
const NOT_A_STRING_FORMS = [
  /^(?:~|[Nn]ull|NULL)?$/,
  /^(?:[YyNn]|[Yy]es|YES|[Nn]o|NO|[Tt]rue|TRUE|[Ff]alse|FALSE|[Oo]n|ON|[Oo]ff|OFF)$/,
  /^[-+]?(?:0b[0-1_]+|0[0-7_]+|[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7]+)$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/,
  /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/,
  /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/,
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:t|T|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:[ \t]*(?:Z|[-+][012]?[0-9](?::[0-9]{2})?))?)?$/,
  /^<<$/,
];
// One test for all of them (one RegExp call per scalar instead of nine: scalar() runs for every key and value).
const NOT_A_STRING = new RegExp(NOT_A_STRING_FORMS.map((re) => `(?:${re.source})`).join('|'));
// What a plain scalar cannot start, contain or end with (the yaml library's rule), line breaks,
// control characters, unpaired surrogates, and document markers.
const NOT_PLAIN = /^[\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|:[ \t]|[\t ]#|[\t :]$|^(?:---|\.\.\.)|[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]|[\ud800-\udfff]/u;

/** A string as a plain scalar when every reader sees that string, else double-quoted. */
function scalar(s: string): string {
  if (!NOT_PLAIN.test(s) && !NOT_A_STRING.test(s)) return s;
  // JSON's escapes are YAML's; YAML also takes C1 controls and U+2028/2029/FEFF as breaks or marks
  return JSON.stringify(s).replace(/[\x7f-\x9f\u2028\u2029\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function wrap(text: string, width = 96): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const w of para.split(' ')) {
      if (line && line.length + w.length + 1 > width) {
        out.push(line);
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    out.push(line);
  }
  return out;
}
