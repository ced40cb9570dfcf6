/**
 * Injection: every user string that can reach a generated file, set to hostile text, is either
 * refused by resolveSpec (a SpecError naming the key) or lands in every file as data only: the
 * format-aware skeleton of each file (directives, keys, statements, commands, lines) is the same
 * as with a plain value.
 */
import * as fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { render, type Bundle } from '../../src/render/index.js';
import { structuralDiff } from './compare.js';
import { CTX, countCase, fcParams, nastyFragment, nastyString, printCaseCounts, ranCases, renderBases, reportedPath, setSlot, slotsOf, stringFields, type Field } from './support.js';

const { fields, unconstrained } = stringFields();
const bases = renderBases();

const hostile = (f: Field) =>
  fc.oneof(
    { arbitrary: f.valid, weight: 3 },
    { arbitrary: fc.tuple(f.valid, nastyFragment, f.valid, fc.nat(2)).map(([a, n, b, where]) => (where === 0 ? `${a}${n}` : where === 1 ? `${n}${a}` : `${a}${n}${b}`)), weight: 3 },
    { arbitrary: nastyString, weight: 2 },
    { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 1 },
  );

const baselines = new Map<string, Array<{ bundle: Bundle; v0: string | undefined }>>();

/**
 * The renders of base with the slot at its own value (or a benign one when the base leaves it
 * unset), plus one per representative value of a different meaning (see Field.reps).
 */
function baselinesFor(baseId: string, values: Record<string, unknown>, slot: string, f: Field): Array<{ bundle: Bundle; v0: string | undefined }> {
  const key = `${baseId}|${slot}`;
  const hit = baselines.get(key);
  if (hit) return hit;
  const probe = structuredClone(values);
  const old = setSlot(probe, slot, f.benign);
  const out = [];
  const own = old ?? f.benign;
  for (const v0 of [own, ...f.reps.filter((r) => r !== own)]) {
    const vals = structuredClone(values);
    setSlot(vals, slot, v0);
    try {
      out.push({ bundle: render(resolveSpec([{ source: 'file', values: vals }]).spec, CTX), v0 });
    } catch (e) {
      if (v0 === own) throw e; // a representative may not fit this base (a duplicate address): skip it
    }
  }
  baselines.set(key, out);
  return out;
}

describe('injection: every user string field', () => {
  it('the schema constrains every string leaf with a pattern or an enum (no free text reaches a file)', () => {
    expect(unconstrained).toEqual([]);
    expect(fields.length).toBeGreaterThanOrEqual(20);
  });

  it('at least one base spec renders, so the properties below test something', () => {
    expect(bases.length).toBeGreaterThan(0);
  });

  const stats = { accepted: 0, rejected: 0 };

  it.each(fields.map((f) => [f.path, f] as const))('%s: refused with its key path, or data only in every file', (name, f) => {
    // Array items: the first and the last of each base (each slot costs baseline renders).
    const choices = bases.flatMap((b) => slotsOf(f, b.values).filter((_, i, all) => i === 0 || i === all.length - 1).map((slot) => ({ base: b.id, slot })));
    expect(choices.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.constantFrom(...choices), hostile(f), ({ base: id, slot }, v) => {
        const b = bases.find((x) => x.id === id)!;
        countCase(`injection ${name}`);
                const vals = structuredClone(b.values);
        setSlot(vals, slot, v);
        let spec;
        try {
          spec = resolveSpec([{ source: 'file', values: vals }]).spec;
        } catch (e) {
          if (!(e instanceof SpecError)) throw e;
          stats.rejected++;
          const want = reportedPath(slot);
          const parent = slot.includes('<key>') ? slot.split('.<key>')[0]! : want;
          const paths = e.issues.map((i) => /\(([^)]+)\)$/.exec(i.path)?.[1] ?? i.path);
          // The error names the key, or (a valid value that breaks a reference elsewhere: a renamed
          // region the hosts still name) quotes the value.
          const names = paths.some((p) => p === want || p.startsWith(`${parent}.`) || p === parent || want.startsWith(`${p}.`)) || (v !== '' && e.issues.some((i) => i.message.includes(v)));
          if (!names) throw new Error(`rejected ${JSON.stringify(v)} at ${slot} but the error names ${JSON.stringify(paths)}: ${e.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
          // The message says what is allowed.
          const msg = e.issues.map((i) => i.message).join(' ');
          expect(msg).toMatch(/must|allowed|expected|is not|appears|unknown|missing|needs|choose/);
          return;
        }
        stats.accepted++;
        const cand = render(spec, CTX);
        const tries = baselinesFor(b.id, b.values, slot, f).map(({ bundle, v0 }) => structuralDiff(bundle, v0, cand, v));
        const problems = tries.find((p) => p.length === 0) ?? tries[0]!;
        if (problems.length) throw new Error(`value ${JSON.stringify(v)} at ${slot} (base ${b.id}) was accepted and changed the structure:\n  ${problems.slice(0, 5).join('\n  ')}`);
      }),
      fcParams(),
    );
  });

  afterAll(() => {
    console.log(`injection: ${stats.accepted} accepted values rendered as data, ${stats.rejected} refused with their key path`);
    printCaseCounts('injection');
    ranCases.clear();
  });
});
