/** What a renderer produces: files keyed by bundle-relative path. Pure data, no I/O. */
import type { LbKind } from '../spec/enums.js';

/** How `ha-gen validate` checks a file; each target says it for the files it emits. */
export type Check =
  /** a load balancer's own config check (and haproxy for the database endpoint) */
  | { tool: LbKind }
  | { tool: 'compose' }
  | { tool: 'stack' }
  | { tool: 'pg-conf' }
  | { tool: 'pg-hba'; ssl?: boolean }
  | { tool: 'sql' }
  | { tool: 'patroni' }
  | { tool: 'etcd' }
  | { tool: 'shell' }
  | { tool: 'yaml' }
  | { tool: 'systemd' }
  | { tool: 'json' }
  | { tool: 'keepalived' }
  | { tool: 'nft' }
  | { tool: 'k6' }
  /** Prometheus: promtool check config / check rules / test rules; Alertmanager: amtool check-config; blackbox --config.check */
  | { tool: 'promtool-config' }
  | { tool: 'promtool-rules' }
  | { tool: 'promtool-test' }
  | { tool: 'amtool' }
  | { tool: 'blackbox' }
  | { tool: 'pgbackrest'; stanza: string }
  /** a certificate of the bundle's CA (pki/, not a generated file: listed in the manifest's certs) */
  | { tool: 'x509' };

export type CheckTool = Check['tool'];

export interface BundleFile {
  contents: string;
  mode: number;
  checks: Check[];
}

export interface SecretDef {
  /** The variable name the consuming service reads. */
  name: string;
  /** What it is for, written above it in .env.example. */
  help: string;
  /** Fixed value (a user name); absent means a random secret is generated. */
  value?: string;
  /** Length of a random value when the consumer limits it (VRRP PASS: 8); default 40. */
  length?: number;
}

/** A certificate the bundle's private CA issues at the edge (targets/pki.ts, write/pki.ts): pki/<name>.crt and .key. */
export interface CertRequest {
  name: string;
  cn: string;
  /** subjectAltName entries, e.g. DNS:db1, IP:10.0.2.10. */
  sans: string[];
}

export interface Bundle {
  /** Sorted by path. */
  files: Map<string, BundleFile>;
  secrets: SecretDef[];
  /** Certificates of the bundle's CA (pki/), sorted by name; empty when nothing uses TLS between hosts. */
  certs: CertRequest[];
  /** Names that only resolve inside Docker networks or the inventory; validate maps them to loopback. */
  names: string[];
  warnings: string[];
}

export class BundleBuilder {
  private files = new Map<string, BundleFile>();
  private secrets = new Map<string, SecretDef>();
  private certs = new Map<string, CertRequest>();
  private names = new Set<string>();
  private warnings: string[] = [];
  private deferred: Array<() => void> = [];

  add(path: string, contents: string, opts: { mode?: number; checks?: Check[] } = {}): this {
    if (this.files.has(path)) throw new Error(`internal: two targets emit ${path}`);
    if (!/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._@-]+)*$/.test(path) || path.split('/').some((p) => p === '..' || p === '.')) {
      throw new Error(`internal: bad bundle path ${path}`);
    }
    this.files.set(path, { contents: contents.endsWith('\n') ? contents : `${contents}\n`, mode: opts.mode ?? 0o644, checks: opts.checks ?? [] });
    return this;
  }

  secret(def: SecretDef): this {
    if (!this.secrets.has(def.name)) this.secrets.set(def.name, def);
    return this;
  }

  /** Names of the secrets registered so far (what a script reading .env may set). */
  secretNames(): string[] {
    return [...this.secrets.keys()].sort();
  }

  cert(req: CertRequest): this {
    const had = this.certs.get(req.name);
    if (had && JSON.stringify(had) !== JSON.stringify(req)) throw new Error(`internal: two different certificates named ${req.name}`);
    this.certs.set(req.name, req);
    return this;
  }

  resolveNames(...names: string[]): this {
    names.forEach((n) => this.names.add(n));
    return this;
  }

  warn(message: string): this {
    this.warnings.push(message);
    return this;
  }

  contents(path: string): string {
    const f = this.files.get(path);
    if (!f) throw new Error(`internal: ${path} was not rendered`);
    return f.contents;
  }

  has(path: string): boolean {
    return this.files.has(path);
  }

  /** Runs fn at runDeferred(): for a file that lists the others (deploy.sh installs files other targets add later). */
  defer(fn: () => void): this {
    this.deferred.push(fn);
    return this;
  }

  runDeferred(): this {
    const fns = this.deferred.splice(0);
    fns.forEach((fn) => fn());
    return this;
  }

  /** path and mode of every file under a folder (prefix ends with '/'). */
  filesUnder(prefix: string): Array<{ path: string; mode: number }> {
    return [...this.files.entries()].filter(([p]) => p.startsWith(prefix)).map(([p, f]) => ({ path: p, mode: f.mode })).sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  build(): Bundle {
    if (this.deferred.length) throw new Error('internal: build() before runDeferred()');
    const sorted = [...this.files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      files: new Map(sorted),
      secrets: [...this.secrets.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      certs: [...this.certs.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      names: [...this.names].sort(),
      warnings: this.warnings,
    };
  }
}
