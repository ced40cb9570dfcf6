import { Document, isScalar, type YAMLMap } from 'yaml';
import { headerLines, type RenderContext } from '../../render/context.js';

/** YAML from an object, with short "why" comments above chosen keys (path = keys from the root). */
export function commentedYaml(value: unknown, ctx: RenderContext, top: string, comments: Array<[string[], string]>): string {
  // YAML 1.1 rules: Patroni reads with PyYAML, where an unquoted on/off/yes would become a boolean.
  const doc = new Document(value, { aliasDuplicateObjects: false, version: '1.1' });
  doc.commentBefore = [...headerLines(ctx), ...top.split('\n').filter(Boolean)].map((l) => ` ${l}`).join('\n');
  for (const [path, text] of comments) {
    const parent = (path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents) as YAMLMap | undefined;
    const pair = parent?.items?.find((p) => (isScalar(p.key) ? p.key.value : p.key) === path[path.length - 1]);
    if (!pair || !isScalar(pair.key)) throw new Error(`internal: no key ${path.join('.')} to comment`);
    pair.key.commentBefore = wrap(text).map((l) => ` ${l}`).join('\n');
  }
  return doc.toString({ lineWidth: 0, indentSeq: true, singleQuote: false });
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
