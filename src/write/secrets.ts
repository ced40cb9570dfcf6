import { randomBytes } from 'node:crypto';
import type { SecretDef } from '../render/bundle.js';

/** URL-, shell-, YAML- and connection-string-safe: letters and digits only. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const SECRET_LENGTH = 40; // 40 * log2(62) = 238 bits

/** A secret from the OS's cryptographic source; rejection sampling keeps every character equally likely. */
export function randomSecret(length = SECRET_LENGTH): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;

export function parseEnv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const hit = LINE.exec(line);
    if (hit) m.set(hit[1]!, hit[2]!.trim());
  }
  return m;
}

/** Adds the secrets .env lacks (new names only); every existing line and value is kept as it is. */
export function mergeEnv(existing: string | null, secrets: SecretDef[], random: (length?: number) => string): { text: string; added: string[] } {
  const have = parseEnv(existing ?? '');
  const added: string[] = [];
  const lines: string[] = [];
  for (const s of secrets) {
    if (have.has(s.name)) continue;
    added.push(s.name);
    lines.push(`# ${s.help}`, `${s.name}=${s.value ?? random(s.length)}`);
  }
  const head = existing === null ? '# Secrets of this bundle: keep this file private (mode 0600) and out of git.\n' : existing.endsWith('\n') || existing === '' ? existing : `${existing}\n`;
  return { text: lines.length ? `${head}${lines.join('\n')}\n` : head, added };
}
