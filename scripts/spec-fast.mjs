// Build-time compiler for the spec schema (used by scripts/build.mjs; tested by
// test/unit/spec-fast.test.ts). Loading zod and constructing the schema costs more than all of
// `ha-gen generate --check` besides, so the CLI checks a spec with plain code generated here from
// the schema's definition, and loads zod only when that code cannot accept the input.
//
// The generated parser is conservative: it returns the value zod would return, or INVALID for
// anything it is not sure about (then zod parses, and reports its own messages). It handles the
// schema kinds the spec uses; any other kind throws Unsupported and the build falls back to zod.
export class Unsupported extends Error {}

const t = (s) => s._zod.def.type;

function literal(value, what) {
  const json = JSON.stringify(value);
  if (json === undefined || JSON.stringify(JSON.parse(json)) !== json || !deepEqual(JSON.parse(json), value)) throw new Unsupported(`${what} is not plain JSON`);
  return json;
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && deepEqual(a[k], b[k]));
}

/**
 * Source of a module body defining `parseSpecFast(input)`: the parsed spec or the INVALID symbol.
 * `schema` is a zod v4 schema object (from the bundled src/spec/schema.ts).
 */
export function compileSpecParser(schema) {
  const fns = [];
  const consts = [];
  let n = 0;
  const constant = (src) => {
    consts.push(`const k${consts.length} = ${src};`);
    return `k${consts.length - 1}`;
  };

  /** Emits a function for the node; returns its name. */
  function node(s, path) {
    const name = `p${n++}`;
    const def = s._zod.def;
    const body = [];
    const checks = def.checks ?? [];
    const checkDefs = checks.map((c) => c._zod.def);
    switch (t(s)) {
      case 'string': {
        body.push('if (typeof v !== "string") return INVALID;');
        for (const c of checkDefs) {
          if (c.check === 'string_format' && c.format === 'regex' && c.pattern instanceof RegExp && !c.pattern.global && !c.pattern.sticky) {
            body.push(`if (!${constant(c.pattern.toString())}.test(v)) return INVALID;`);
          } else if (c.check === 'min_length') body.push(`if (v.length < ${Number(c.minimum)}) return INVALID;`);
          else if (c.check === 'max_length') body.push(`if (v.length > ${Number(c.maximum)}) return INVALID;`);
          else throw new Unsupported(`${path}: string check ${c.check}/${c.format}`);
        }
        body.push('return v;');
        break;
      }
      case 'number': {
        body.push('if (typeof v !== "number" || !Number.isFinite(v)) return INVALID;');
        for (const c of checkDefs) {
          if (c.check === 'number_format' && c.format === 'safeint') body.push('if (!Number.isSafeInteger(v)) return INVALID;');
          else if (c.check === 'greater_than') body.push(`if (!(v ${c.inclusive ? '>=' : '>'} ${Number(c.value)})) return INVALID;`);
          else if (c.check === 'less_than') body.push(`if (!(v ${c.inclusive ? '<=' : '<'} ${Number(c.value)})) return INVALID;`);
          else throw new Unsupported(`${path}: number check ${c.check}/${c.format}`);
        }
        body.push('return v;');
        break;
      }
      case 'boolean':
        if (checks.length) throw new Unsupported(`${path}: boolean checks`);
        body.push('return typeof v === "boolean" ? v : INVALID;');
        break;
      case 'literal':
      case 'enum': {
        if (checks.length) throw new Unsupported(`${path}: ${t(s)} checks`);
        const values = t(s) === 'literal' ? def.values : Object.values(def.entries);
        if (!values.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)) || typeof x === 'boolean')) throw new Unsupported(`${path}: ${t(s)} values`);
        body.push(`return ${constant(`new Set(${JSON.stringify(values)})`)}.has(v) ? v : INVALID;`);
        break;
      }
      case 'optional': {
        if (def.innerType._zod.optin === 'defaulted') throw new Unsupported(`${path}: optional of a defaulted schema`);
        const inner = node(def.innerType, path);
        body.push(`return v === undefined ? undefined : ${inner}(v);`);
        break;
      }
      case 'default': {
        const inner = node(def.innerType, path);
        body.push(`if (v === undefined) return ${literal(def.defaultValue, `${path} default`)};`, `const r = ${inner}(v);`, `return r === undefined ? ${literal(def.defaultValue, `${path} default`)} : r;`);
        break;
      }
      case 'prefault': {
        const inner = node(def.innerType, path);
        body.push(`return ${inner}(v === undefined ? ${literal(def.defaultValue, `${path} prefault`)} : v);`);
        break;
      }
      case 'pipe': {
        if (t(def.in) !== 'transform') throw new Unsupported(`${path}: pipe from ${t(def.in)}`);
        const fn = def.in._zod.def.transform;
        const src = fn.toString();
        // Only a self-contained arrow function can be copied; the test compares it with zod.
        if (!/^\(?\s*\w*\s*\)?\s*=>/.test(src) || /\b(this|arguments|await|ctx|payload)\b/.test(src) || fn.length !== 1) throw new Unsupported(`${path}: preprocess function is not a one-argument arrow function`);
        const pre = constant(`(${src})`);
        const out = node(def.out, path);
        body.push(`const x = ${pre}(v);`, 'if (x instanceof Promise) return INVALID;', `return ${out}(x);`);
        break;
      }
      case 'array': {
        const el = node(def.element, `${path}[]`);
        body.push('if (!Array.isArray(v)) return INVALID;');
        for (const c of checkDefs) {
          if (c.check === 'min_length') body.push(`if (v.length < ${Number(c.minimum)}) return INVALID;`);
          else if (c.check === 'max_length') body.push(`if (v.length > ${Number(c.maximum)}) return INVALID;`);
          else throw new Unsupported(`${path}: array check ${c.check}`);
        }
        body.push('const out = new Array(v.length);', 'for (let i = 0; i < v.length; i++) {', '  if (!(i in v)) return INVALID;', `  const r = ${el}(v[i]);`, '  if (r === INVALID) return INVALID;', '  out[i] = r;', '}', 'return out;');
        break;
      }
      case 'record': {
        if (checks.length) throw new Unsupported(`${path}: record checks`);
        if (t(def.keyType) !== 'string' || def.keyType._zod.values) throw new Unsupported(`${path}: record key type`);
        const key = node(def.keyType, `${path}.<key>`);
        const val = node(def.valueType, `${path}.<value>`);
        body.push('if (!plain(v)) return INVALID;', 'const out = {};', 'for (const k of Object.keys(v)) {', `  if (k === "__proto__" || ${key}(k) !== k) return INVALID;`, `  const r = ${val}(v[k]);`, '  if (r === INVALID) return INVALID;', '  out[k] = r;', '}', 'return out;');
        break;
      }
      case 'object': {
        if (checks.length) throw new Unsupported(`${path}: object checks`);
        const strict = def.catchall !== undefined;
        if (strict && t(def.catchall) !== 'never') throw new Unsupported(`${path}: object catchall ${t(def.catchall)}`);
        const shape = def.shape;
        if (Object.getOwnPropertySymbols(shape).length) throw new Unsupported(`${path}: symbol keys`);
        const keys = Object.keys(shape);
        body.push('if (!plain(v)) return INVALID;');
        // strip mode drops unknown keys; strict rejects them (here: lets zod report them)
        if (strict) body.push(`for (const k of Object.keys(v)) if (!${constant(`new Set(${JSON.stringify(keys)})`)}.has(k)) return INVALID;`);
        body.push('const out = {};');
        for (const k of keys) {
          if (k === '__proto__') throw new Unsupported(`${path}: __proto__ key`);
          const el = shape[k];
          const optin = el._zod.optin;
          const optout = el._zod.optout;
          const f = node(el, `${path}.${k}`);
          const K = JSON.stringify(k);
          // mirrors zod's handlePropertyResult; a present key holding undefined goes to zod
          body.push('{', `  const present = ${K} in v;`, `  if (present && v[${K}] === undefined) return INVALID;`);
          if (optout === 'optional' && optin === 'optional') body.push('  if (present) {');
          else body.push('  {');
          if (optin === undefined) body.push('    if (!present) return INVALID;');
          body.push(`    const r = ${f}(v[${K}]);`);
          if (optin !== undefined && optout === 'optional') body.push('    if (r === INVALID && !present) {} else {');
          else body.push('    {');
          body.push('      if (r === INVALID) return INVALID;');
          if (optin === 'defaulted' && optout !== 'optional') body.push(`      out[${K}] = r;`);
          else body.push(`      if (r !== undefined || present) out[${K}] = r;`);
          body.push('    }', '  }', '}');
        }
        body.push('return out;');
        break;
      }
      default:
        throw new Unsupported(`${path}: schema kind ${t(s)}`);
    }
    fns.push(`function ${name}(v) {\n  ${body.join('\n  ')}\n}`);
    return name;
  }

  const root = node(schema, 'spec');
  return [
    'const INVALID = Symbol("invalid spec");',
    // zod accepts objects whose prototype is Object.prototype or null (and a few exotic ones: those go to zod)
    'const plain = (v) => typeof v === "object" && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) && Object.getOwnPropertySymbols(v).length === 0 && Object.getOwnPropertyNames(v).length === Object.keys(v).length;',
    ...consts,
    ...fns,
    `function parseSpecFast(input) {\n  return ${root}(input);\n}`,
  ].join('\n');
}
