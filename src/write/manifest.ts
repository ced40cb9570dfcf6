import type { Bundle, BundleFile, Check } from '../render/bundle.js';
import { MANIFEST_DIR } from '../targets/env/index.js';
import { sha256 } from './tree.js';

export const MANIFEST_PATH = `${MANIFEST_DIR}/manifest.json`;

export interface Manifest {
  generator: string;
  spec: string;
  /** Names that only resolve inside Docker networks or the inventory (validate maps them to loopback). */
  names: string[];
  secrets: string[];
  /** pki/ certificates the bundle's services use (absent when none): validate checks them with openssl. */
  certs?: string[];
  files: Record<string, { sha256: string; mode: string; checks: Check[] }>;
}

/** The manifest is itself part of the bundle: a pure function of the other files. */
export function buildManifest(files: Map<string, BundleFile>, bundle: Pick<Bundle, 'names' | 'secrets' | 'certs'>, generator: string, spec: string): string {
  const m: Manifest = {
    generator,
    spec,
    names: bundle.names,
    secrets: bundle.secrets.map((s) => s.name),
    ...(bundle.certs.length ? { certs: bundle.certs.map((c) => c.name) } : {}),
    files: Object.fromEntries(
      [...files.entries()].map(([p, f]) => [p, { sha256: sha256(f.contents), mode: f.mode.toString(8).padStart(4, '0'), checks: f.checks }]),
    ),
  };
  return `${JSON.stringify(m, null, 2)}\n`;
}

export function readManifestText(text: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  if (!m || typeof m !== 'object' || typeof m.files !== 'object') throw new Error('not an ha-gen manifest');
  return m;
}
