/** Steps shared by init and generate: flags -> spec layer, spec -> bundle, spec -> YAML text. */
import * as path from 'node:path';
import { Document } from 'yaml';
import { SpecError, type Issue } from '../errors.js';
import { zodIssues, type Layer } from '../spec/resolve.js';
import { specSchema, type Spec } from '../spec/schema.js';
import { render, type Bundle } from '../render/index.js';
import { VERSION } from '../version.js';

/** The flags of `ha-gen init` (cli/index.ts). */
export interface InitFlags {
  yes?: boolean;
  config: string;
  out: string;
  force?: boolean;
  tier?: string;
  platform?: string;
  lb?: string;
  db?: string;
  storage?: string;
  appImage?: string;
  appPort?: string;
  healthPath?: string;
  appReplicas?: string;
  domain?: string;
  tls?: string;
  name?: string;
  monitoring?: boolean;
  alertWebhook?: string;
}

const FLAG_KEYS: Array<[keyof InitFlags, string, string, 'string' | 'int' | 'bool']> = [
  ['tier', 'tier', '--tier', 'string'],
  ['platform', 'platform', '--platform', 'string'],
  ['lb', 'loadBalancer.kind', '--lb', 'string'],
  ['db', 'database.ha', '--db', 'string'],
  ['storage', 'storage.kind', '--storage', 'string'],
  ['appImage', 'app.image', '--app-image', 'string'],
  ['appPort', 'app.port', '--app-port', 'int'],
  ['healthPath', 'app.healthPath', '--health-path', 'string'],
  ['appReplicas', 'app.replicas', '--app-replicas', 'int'],
  ['domain', 'domain', '--domain', 'string'],
  ['tls', 'loadBalancer.tls', '--tls', 'string'],
  ['name', 'name', '--name', 'string'],
  ['monitoring', 'monitoring.enabled', '--monitoring', 'bool'],
  ['alertWebhook', 'monitoring.webhookUrl', '--alert-webhook', 'string'],
];

function setPath(obj: Record<string, unknown>, keyPath: string, value: unknown): void {
  const keys = keyPath.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
  cur[keys[keys.length - 1]!] = value;
}

/** Flags as a spec layer; numbers are parsed here so a bad one names its flag. */
export function flagsToLayer(flags: InitFlags): Layer {
  const values: Record<string, unknown> = {};
  const flagOf: Record<string, string> = {};
  const issues: Issue[] = [];
  for (const [prop, keyPath, flag, type] of FLAG_KEYS) {
    const raw = flags[prop];
    if (raw === undefined || (typeof raw === 'boolean') !== (type === 'bool')) continue;
    let value: unknown = raw;
    if (type === 'int' && typeof raw === 'string') {
      if (!/^[0-9]{1,9}$/.test(raw)) {
        issues.push({ path: `${flag} (${keyPath})`, message: `${JSON.stringify(raw)} is not a whole number${keyPath === 'app.port' ? '; allowed: 1-65535' : ''}` });
        continue;
      }
      value = Number(raw);
    }
    setPath(values, keyPath, value);
    flagOf[keyPath] = flag;
  }
  if (issues.length) throw new SpecError('invalid flags', issues);
  return { source: 'flags', values, flagOf };
}

/** Checks a layer's values against the schema alone (no cross-field rules), e.g. flags before the wizard. */
export function checkLayerValues(layer: Layer): void {
  const res = specSchema.safeParse(layer.values);
  if (res.success) return;
  // same wording as spec-file errors: the key or flag, the value, what is allowed
  const issues = zodIssues(res.error, layer.values, layer.flagOf ?? {});
  throw new SpecError('invalid flags', issues);
}

export function renderSpec(spec: Spec, configFile: string): Bundle {
  return render(spec, { version: VERSION, specFile: path.basename(configFile) });
}

export const SCHEMA_COMMENT = 'yaml-language-server: $schema=./node_modules/ha-gen/schema/ha-gen.schema.json';

/** The spec file `init` writes: every setting explicit, so a review sees the whole deployment. */
export function specToYaml(spec: Spec): string {
  const { hosts, regions, ...rest } = spec;
  const value: Record<string, unknown> = { ...rest };
  if (hosts.length) value.hosts = hosts;
  if (regions.length) value.regions = regions;
  const doc = new Document(value);
  doc.commentBefore = [
    ` ${SCHEMA_COMMENT}`,
    ' ha-gen spec (version 1). Edit it and run `ha-gen generate`; `ha-gen schema` prints every key.',
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}
