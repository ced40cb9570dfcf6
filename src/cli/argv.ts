/** The fast path of main.ts: recognises the plain forms of `generate`, the command CI runs on every commit. */

export interface GenerateOpts {
  config: string;
  out: string;
  force?: boolean;
  check?: boolean;
}

/**
 * `generate` with only the options it defines, in their plain forms; anything else returns null
 * so commander parses it (and reports errors and help exactly as documented).
 */
export function parseGenerateArgs(args: string[]): GenerateOpts | null {
  if (args[0] !== 'generate') return null;
  const opts: GenerateOpts = { config: 'ha-gen.yaml', out: 'ha-bundle' };
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--check') opts.check = true;
    else if (a === '-f' || a === '--force') opts.force = true;
    else if (a === '-c' || a === '--config' || a === '-o' || a === '--out') {
      const v = args[++i];
      if (v === undefined || v === '' || v.startsWith('-')) return null;
      if (a === '-c' || a === '--config') opts.config = v;
      else opts.out = v;
    } else if (a.startsWith('--config=') && a.length > 9) opts.config = a.slice(9);
    else if (a.startsWith('--out=') && a.length > 6) opts.out = a.slice(6);
    else return null;
  }
  return opts;
}
