import { header, type RenderContext } from '../../render/context.js';

export type UnitSection = Array<[string, string | number]>;
export interface Unit {
  Unit: UnitSection;
  Service?: UnitSection;
  Timer?: UnitSection;
  Mount?: UnitSection;
  Install?: UnitSection;
}

/** A unit file from ordered data; values never contain newlines (the schema forbids them upstream). */
export function renderUnit(unit: Unit, ctx: RenderContext): string {
  const out = [header(ctx).trimEnd()];
  for (const [section, entries] of Object.entries(unit) as Array<[string, UnitSection | undefined]>) {
    if (!entries) continue;
    out.push('', `[${section}]`);
    for (const [k, v] of entries) {
      const s = String(v);
      if (/[\n\r]/.test(s)) throw new Error(`internal: newline in unit value ${k}`);
      out.push(`${k}=${s}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Where a service's secrets land on a host: written from .env by deploy.sh, mode 0600. */
export const envFilePath = (name: string, service: string) => `/etc/${name}/${service}.env`;
