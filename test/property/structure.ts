/**
 * Format-aware "skeletons" of generated files: what a value must never change. Each tokenizer
 * follows the quoting rules of the program that reads the file, so a value that is quoted or
 * escaped correctly leaves the skeleton alone, and a value that adds a directive, a key, a
 * statement, a command or a line changes it.
 */
import { parseAllDocuments } from 'yaml';
import type { BundleFile } from '../../src/render/bundle.js';

export type Format = 'nginx' | 'haproxy' | 'caddy' | 'yaml' | 'json' | 'pg-conf' | 'pg-hba' | 'sql' | 'shell' | 'systemd' | 'env' | 'lines';

export function formatOf(rel: string, file: BundleFile): Format {
  const tools = file.checks.map((c) => c.tool);
  if (tools.includes('nginx')) return 'nginx';
  if (tools.includes('haproxy')) return 'haproxy';
  if (tools.includes('caddy')) return 'caddy';
  if (tools.some((t) => t === 'compose' || t === 'stack' || t === 'yaml' || t === 'patroni' || t === 'etcd')) return 'yaml';
  if (tools.includes('json') || rel.endsWith('.json')) return 'json';
  if (tools.includes('pg-conf')) return 'pg-conf';
  if (tools.includes('pg-hba')) return 'pg-hba';
  if (tools.includes('sql') || rel.endsWith('.sql') || rel.endsWith('.psql')) return 'sql';
  if (tools.includes('shell') || rel.endsWith('.sh')) return 'shell';
  if (tools.includes('systemd') || /\.(service|socket|timer|mount|target)$/.test(rel)) return 'systemd';
  if (/\.ya?ml$/.test(rel)) return 'yaml';
  if (/(^|\/)\.env(\.[a-z]+)?$/.test(rel) || rel.endsWith('.env')) return 'env';
  if (/nginx.*\.conf$/.test(rel)) return 'nginx';
  if (/haproxy.*\.cfg$/.test(rel)) return 'haproxy';
  if (/Caddyfile$/.test(rel)) return 'caddy';
  if (/postgresql.*\.conf$/.test(rel)) return 'pg-conf';
  if (/pg_hba.*\.conf$/.test(rel)) return 'pg-hba';
  return 'lines';
}

/** Splits a line into words the way a quote-aware config reader does; returns null when a quote is left open. */
function words(line: string, quotes: string, backslash: boolean, comment: string | null): string[] | null {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (backslash && c === '\\' && i + 1 < line.length) {
        cur += line[++i];
        continue;
      }
      if (c === q) {
        q = null;
        continue;
      }
      cur += c;
      continue;
    }
    if (comment && c === comment && !inWord) break;
    if (backslash && c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
      continue;
    }
    if (quotes.includes(c)) {
      q = c;
      inWord = true;
      continue;
    }
    if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    cur += c;
    inWord = true;
  }
  if (q) return null;
  if (inWord) out.push(cur);
  return out;
}

const physicalLines = (text: string) => text.split('\n');

/** nginx: the sequence of ';', '{', '}' outside quotes and comments, and the line count. */
function nginxSkeleton(text: string): string {
  let out = '';
  let q: string | null = null;
  let comment = false;
  let tokenStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (comment) {
      if (c === '\n') {
        comment = false;
        out += 'N';
        tokenStart = true;
      }
      continue;
    }
    if (q) {
      if (c === '\\') i++;
      else if (c === q) q = null;
      else if (c === '\n') out += 'n';
      continue;
    }
    if (c === '#' && tokenStart) comment = true;
    else if (c === '"' || c === "'") q = c;
    else if (c === '\\') i++;
    else if (c === ';' || c === '{' || c === '}') out += c;
    else if (c === '\n') out += 'N';
    tokenStart = /[\s;{}]/.test(c);
  }
  return `${out}${q ? '<open quote>' : ''}`;
}

/** Caddyfile: braces and non-empty logical lines outside "..." and `...` tokens and comments; words per line. */
function caddySkeleton(text: string): string {
  return physicalLines(text)
    .map((l) => {
      const w = words(l, '"`', true, '#');
      if (w === null) return '<open quote>';
      return w.length ? `${w.length}:${w.filter((x) => x === '{' || x === '}').join('')}` : '';
    })
    .join('|');
}

/** Line formats (HAProxy, pg_hba, postgresql.conf, systemd, .env): per line, the word count and the first word. */
function lineSkeleton(text: string, quotes: string, backslash: boolean, comment: string | null, keyOf: (w: string[], raw: string) => string): string {
  return physicalLines(text)
    .map((l) => {
      const w = words(l, quotes, backslash, comment);
      if (w === null) return '<open quote>';
      return w.length ? `${w.length}:${keyOf(w, l)}` : '';
    })
    .join('|');
}

/** SQL run by psql: statements (';' outside quotes/comments), psql meta-commands, dollar quotes, lines. */
function sqlSkeleton(text: string): string {
  let out = '';
  let q: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q === '--') {
      if (c === '\n') {
        q = null;
        out += 'N';
      }
      continue;
    }
    if (q === '/*') {
      if (c === '*' && text[i + 1] === '/') {
        q = null;
        i++;
      }
      continue;
    }
    if (q) {
      if (c === q && text[i + 1] === q) i++;
      else if (c === q) q = null;
      else if (c === '\n') out += 'n';
      continue;
    }
    if (c === '-' && text[i + 1] === '-') q = '--';
    else if (c === '/' && text[i + 1] === '*') q = '/*';
    else if (c === "'" || c === '"') q = c;
    else if (c === '$' && /^\$[A-Za-z_]*\$/.test(text.slice(i))) out += '$$';
    else if (c === ';') out += ';';
    else if (c === '\\') out += `\\${/^\\([a-z]+)/.exec(text.slice(i))?.[1] ?? ''}`;
    else if (c === '\n') out += 'N';
  }
  return `${out}${q && q !== '--' ? '<open quote>' : ''}`;
}

/**
 * Shell (bash): control operators and command substitutions outside single quotes, words per line,
 * and heredoc bodies (a quoted delimiter makes the body data; an unquoted one still expands $( and `).
 */
function shellSkeleton(text: string): string {
  const lines = physicalLines(text);
  const out: string[] = [];
  let q: string | null = null;
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    let sk = '';
    let wordCount = 0;
    let inWord = false;
    const heredocs: Array<{ delim: string; quoted: boolean }> = [];
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (q === "'") {
        if (c === "'") q = null;
        continue;
      }
      if (q === '"') {
        if (c === '\\') i++;
        else if (c === '"') q = null;
        else if (c === '`') sk += '`';
        else if (c === '$' && line[i + 1] === '(') sk += '$(';
        continue;
      }
      if (c === '#' && !inWord) break;
      if (c === '\\') {
        i++;
        inWord = true;
        continue;
      }
      if (c === "'" || c === '"') {
        q = c;
        if (!inWord) wordCount++;
        inWord = true;
        continue;
      }
      const h = /^<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(line.slice(i));
      if (h) {
        heredocs.push({ delim: h[3]!, quoted: h[2] !== '' });
        sk += `<<${h[2] ? 'q' : 'u'}`;
        i += h[0].length - 1;
        continue;
      }
      if (c === '$' && line[i + 1] === '(') sk += '$(';
      else if (c === '`') sk += '`';
      else if (';&|(){}<>'.includes(c)) sk += c;
      if (c === ' ' || c === '\t' || ';&|()<>'.includes(c)) inWord = false;
      else if (!inWord) {
        wordCount++;
        inWord = true;
      }
    }
    out.push(line.trim() ? `${wordCount}:${sk}` : '');
    for (const hd of heredocs) {
      let n = 0;
      let subst = '';
      while (++li < lines.length && lines[li]!.replace(/^\t+/, '') !== hd.delim) {
        n++;
        if (!hd.quoted) subst += (lines[li]!.match(/\$\(|`/g) ?? []).join('');
      }
      out.push(`heredoc:${n}:${subst}`);
    }
  }
  if (q) out.push('<open quote>');
  return out.join('|');
}

/** A YAML key path where each key is passed through norm (so data-derived keys compare equal). */
function yamlSkeleton(text: string, norm: (k: string) => string, arrayLengths = true): string {
  const docs = parseAllDocuments(text);
  const paths: string[] = [];
  const walk = (v: unknown, p: string) => {
    if (Array.isArray(v)) {
      if (arrayLengths) paths.push(`${p}[${v.length}]`);
      v.forEach((x) => walk(x, `${p}[]`));
    } else if (v && typeof v === 'object') {
      const keys = Object.keys(v as object);
      paths.push(`${p}{${keys.length}}`);
      for (const k of keys) walk((v as Record<string, unknown>)[k], `${p}.${norm(k)}`);
    } else if (typeof v === 'string') {
      // compose/stack interpolate ${...} and $VAR in values; a value must not add one.
      const dollars = (v.match(/\$/g) ?? []).length;
      if (dollars) paths.push(`${p}=$${dollars}`);
      if (v.includes('\n')) paths.push(`${p}=${v.split('\n').length}lines`);
    }
  };
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
  if (errors.length) return `<yaml error: ${errors[0]}>`;
  // YAML 1.1 readers (PyYAML in docker-compose 1.x and Patroni, Go yaml.v2 in etcd) take on, yes,
  // 22:22 or 0o17 for a bool or a number: a string value must be a string for them too.
  const docs11 = parseAllDocuments(text, { version: '1.1' });
  const typeDiff = (a: unknown, b: unknown, p: string): void => {
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      for (const k of Object.keys(a as object)) typeDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${p}.${Array.isArray(a) ? '[]' : norm(k)}`);
    } else if (typeof a !== typeof b) paths.push(`${p}: ${typeof a} in YAML 1.2 but ${typeof b} in YAML 1.1`);
  };
  docs.forEach((d, i) => {
    const js = d.toJS({ maxAliasCount: 1000 });
    walk(js, `#${i}`);
    typeDiff(js, docs11[i]?.toJS({ maxAliasCount: 1000 }), `#${i}`);
  });
  return paths.sort().join('\n');
}

function jsonSkeleton(text: string, norm: (k: string) => string): string {
  try {
    // JSON.stringify escapes everything; list lengths (the manifest's names) may follow the spec.
    return yamlSkeleton(JSON.stringify(JSON.parse(text)), norm, false);
  } catch (e) {
    return `<json error: ${(e as Error).message}>`;
  }
}

/**
 * The skeleton of a file. norm maps data-derived names (a YAML key that is a host name, a manifest
 * key that is a path) to a placeholder so that renaming a host compares equal.
 */
export function skeleton(format: Format, text: string, norm: (k: string) => string = (k) => k): string {
  const lineCount = `lines=${text.split('\n').length} cr=${(text.match(/[\r\u2028\u2029\u0085\0]/g) ?? []).length}`;
  const first = (w: string[]) => norm(w[0]!);
  switch (format) {
    case 'nginx':
      return `${lineCount}\n${nginxSkeleton(text)}`;
    case 'caddy':
      return `${lineCount}\n${caddySkeleton(text)}`;
    case 'haproxy':
      return `${lineCount}\n${lineSkeleton(text, '"\'', true, '#', first)}`;
    case 'pg-conf':
      return `${lineCount}\n${lineSkeleton(text.replace(/''/g, ''), "'", false, '#', (w, raw) => `${first(w)}${raw.includes('=') ? '=' : ''}`)}`;
    case 'pg-hba':
      return `${lineCount}\n${lineSkeleton(text, '"', false, '#', (w) => w[0]!)}`;
    case 'systemd':
      return `${lineCount}\n${physicalLines(text)
        .map((l) => (/^\s*[#;]/.test(l) || !l.trim() ? '' : l.startsWith('[') ? l : `${/^([A-Za-z0-9]+)=/.exec(l)?.[1] ?? '<no key>'}:${(words(l, '"\'', true, null) ?? ['<open quote>']).length}:${l.endsWith('\\') ? 'cont' : ''}`))
        .join('|')}`;
    case 'env':
      return `${lineCount}\n${physicalLines(text)
        .map((l) => (/^\s*#/.test(l) || !l.trim() ? '' : `${/^([A-Za-z_][A-Za-z0-9_]*)=/.exec(l)?.[1] ?? '<no key>'}`))
        .join('|')}`;
    case 'sql':
      return `${lineCount}\n${sqlSkeleton(text)}`;
    case 'shell':
      return `${lineCount}\n${shellSkeleton(text)}`;
    case 'yaml':
      return `${lineCount}\n${yamlSkeleton(text, norm)}`;
    case 'json':
      return jsonSkeleton(text, norm);
    case 'lines':
      return `${lineCount} fences=${(text.match(/```/g) ?? []).length}`;
  }
}
