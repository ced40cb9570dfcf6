import Handlebars from 'handlebars';
import { PRECOMPILED } from './precompiled.js';

/**
 * Compiler options; scripts/build.mjs reads this line (and the helper names below) to precompile
 * templates the same way. knownHelpersOnly: a `{{name}}` is a value, never a helper looked up at
 * run time, so the compiled code is a direct lookup (the precompiled templates are a fifth
 * smaller, and V8 parses them on every run); a template naming a helper not registered below
 * fails to compile.
 */
export const COMPILE_OPTIONS = { noEscape: true, strict: true, knownHelpersOnly: true };

/** The one Handlebars instance: no HTML escaping (configs are not HTML), strict (a missing value is a bug). */
const hb = Handlebars.create();

hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
// A POSIX shell single-quoted word.
hb.registerHelper('shq', (s: unknown) => `'${String(s).replace(/'/g, `'\\''`)}'`);
hb.registerHelper('inc', (n: number) => n + 1);
hb.registerHelper('not', (a: unknown) => !a);
hb.registerHelper('join', (xs: unknown[], sep: unknown) => (Array.isArray(xs) ? xs.join(typeof sep === 'string' ? sep : ', ') : ''));

const knownHelpers = Object.fromEntries(Object.keys(hb.helpers).map((n) => [n, true]));

const cache = new Map<string, HandlebarsTemplateDelegate>();

/** Renders a template's source (imported with `?raw`) with a context; compiled once per process. */
export function renderTemplate(source: string, context: object): string {
  let tpl = cache.get(source);
  if (!tpl) {
    const spec = PRECOMPILED.get(source);
    // The built CLI carries only the runtime (no compile): every template there is precompiled.
    if (!spec && typeof hb.compile !== 'function') throw new Error('internal: a template was not precompiled by scripts/build.mjs');
    tpl = spec ? hb.template(spec) : hb.compile(source, { ...COMPILE_OPTIONS, knownHelpers });
    cache.set(source, tpl);
  }
  // Templates end each block with a newline; collapse the blank-line runs that {{#if}} leaves.
  return tpl(context).replace(/\n{3,}/g, '\n\n');
}
