/**
 * No secret on a command line: in every golden bundle, no script or systemd unit passes a secret
 * variable as an argument of an external program (visible in `ps` and /proc/PID/cmdline), and no
 * compose/stack `command`, `entrypoint` or health check carries one (visible in `docker inspect`).
 * A secret may be expanded by shell builtins (printf, echo, :, export, test, read, [[ ]]), in an
 * assignment, or in a here-string/pipe into a program's stdin.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const SNAP = path.join(path.dirname(fileURLToPath(import.meta.url)), '../golden/__snapshots__');
const BUILTINS = new Set([':', 'printf', 'echo', 'export', 'local', 'declare', 'readonly', 'test', '[', '[[', 'read', 'return', 'exit', 'true', 'false', 'unset']);
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', '(', ')', 'time']);

function walk(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n;
    return statSync(path.join(dir, r)).isDirectory() ? walk(dir, r) : [r];
  });
}

/** The secret variable names of a bundle: every .env name except the fixed user names. */
function secretNames(bundle: string): string[] {
  const text = readFileSync(path.join(SNAP, bundle, '.env.example'), 'utf8');
  return [...text.matchAll(/^([A-Z_][A-Z0-9_]*)=(.*)$/gm)].filter((m) => m[2] === '').map((m) => m[1]!);
}

/** Simple commands of a shell line (a rough split on ; | && || and $( ... ), enough for generated scripts). */
function commandsOf(line: string): string[] {
  return line.split(/\|\||&&|;|\||\$\(|`|\)/).map((s) => s.trim()).filter(Boolean);
}

/** The program a simple command runs ('' for a pure assignment). */
function programOf(cmd: string): string {
  const words = cmd.split(/\s+/);
  let i = 0;
  while (i < words.length && (KEYWORDS.has(words[i]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!))) i++;
  return words[i] ?? '';
}

export function shellViolations(text: string, names: string[]): string[] {
  const ref = new RegExp(`\\$\\{?(${names.join('|')})\\b`);
  const out: string[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of lines) {
    if (/^\s*#/.test(line) || !ref.test(line)) continue;
    // a single-quoted remote/deferred command (deploy.sh's before/after lists) is checked as its own line
    const bodies = [...line.matchAll(/'([^']*)'/g)].map((m) => m[1]!).filter((b) => ref.test(b));
    const outer = line.replace(/'[^']*'/g, "''");
    for (const part of [outer, ...bodies]) {
      for (const cmd of commandsOf(part)) {
        if (!ref.test(cmd)) continue;
        const prog = programOf(cmd);
        if (prog === '' || BUILTINS.has(prog) || prog.startsWith('<<<')) continue;
        out.push(line.trim());
      }
    }
  }
  return out;
}

function unitViolations(text: string, names: string[]): string[] {
  const ref = new RegExp(`\\$\\{?(${names.join('|')})\\b`);
  return text.split('\n').filter((l) => /^Exec[A-Za-z]*=/.test(l) && ref.test(l));
}

function yamlViolations(text: string, names: string[]): string[] {
  const ref = new RegExp(`\\$\\{?(${names.join('|')})\\b`);
  const doc = parse(text) as { services?: Record<string, Record<string, unknown>> };
  const out: string[] = [];
  for (const [name, svc] of Object.entries(doc.services ?? {})) {
    for (const key of ['command', 'entrypoint']) if (ref.test(JSON.stringify(svc[key] ?? ''))) out.push(`${name}.${key}`);
    if (ref.test(JSON.stringify((svc.healthcheck as { test?: unknown } | undefined)?.test ?? ''))) out.push(`${name}.healthcheck`);
  }
  return out;
}

const bundles = readdirSync(SNAP).filter((d) => statSync(path.join(SNAP, d)).isDirectory());

describe('the command-line scanner', () => {
  const names = ['APP_DB_PASSWORD', 'MINIO_ROOT_PASSWORD'];
  it('flags a secret passed to a program', () => {
    expect(shellViolations('mc alias set local "$ep" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"', names)).toHaveLength(1);
    expect(shellViolations('until curl -u "admin:${APP_DB_PASSWORD}" x; do', names)).toHaveLength(1);
    expect(shellViolations("after_cmds=('psql -c \"ALTER ROLE app PASSWORD $APP_DB_PASSWORD\"')", names)).toHaveLength(1);
    expect(unitViolations('ExecStart=/usr/bin/thing --password ${APP_DB_PASSWORD}', names)).toHaveLength(1);
  });
  it('accepts builtins, assignments and stdin', () => {
    expect(shellViolations(': "${APP_DB_PASSWORD:?missing}"', names)).toEqual([]);
    expect(shellViolations('printf \'%s\' "$APP_DB_PASSWORD" | docker secret create x -', names)).toEqual([]);
    expect(shellViolations('export PGPASSWORD="$APP_DB_PASSWORD"', names)).toEqual([]);
    expect(shellViolations('MC_HOST_local="http://u:${MINIO_ROOT_PASSWORD}@h"', names)).toEqual([]);
  });
});

describe.each(bundles)('golden bundle %s', (bundle) => {
  it('passes no secret on a command line', () => {
    const names = secretNames(bundle);
    expect(names.length).toBeGreaterThan(1);
    const found: string[] = [];
    for (const rel of walk(path.join(SNAP, bundle))) {
      const text = readFileSync(path.join(SNAP, bundle, rel), 'utf8');
      if (rel.endsWith('.sh') || text.startsWith('#!/bin/sh') || text.startsWith('#!/usr/bin/env bash')) found.push(...shellViolations(text, names).map((v) => `${rel}: ${v}`));
      else if (/\.(service|timer|mount)$/.test(rel)) found.push(...unitViolations(text, names).map((v) => `${rel}: ${v}`));
      else if (/(^|\/)(stack[^/]*|docker-compose[^/]*)\.yml$/.test(rel)) found.push(...yamlViolations(text, names).map((v) => `${rel}: ${v}`));
    }
    expect(found).toEqual([]);
  });
});

describe.each(bundles.filter((b) => b.startsWith('swarm-')))('golden bundle %s (docker service inspect)', (bundle) => {
  it('no service but the app has a password in its environment (they are Swarm secrets)', () => {
    const names = secretNames(bundle).filter((n) => !['JWT_SECRET', 'APP_DB_PASSWORD', 'AWS_SECRET_ACCESS_KEY'].includes(n));
    const ref = new RegExp(`\\$\\{?(${names.join('|')})\\b`);
    const appRef = /\$\{?(JWT_SECRET|APP_DB_PASSWORD|AWS_SECRET_ACCESS_KEY)\b/;
    const found: string[] = [];
    let stacks = 0;
    for (const rel of walk(path.join(SNAP, bundle)).filter((r) => /(^|\/)stack[^/]*\.yml$/.test(r))) {
      stacks++;
      const doc = parse(readFileSync(path.join(SNAP, bundle, rel), 'utf8')) as { services: Record<string, { environment?: unknown }> };
      for (const [name, svc] of Object.entries(doc.services)) {
        const env = JSON.stringify(svc.environment ?? {});
        // the app reads its secrets from its environment only (README: no *_FILE support)
        if (ref.test(env) || (!name.startsWith('app') && appRef.test(env))) found.push(`${rel}: ${name}`);
      }
    }
    expect(stacks).toBeGreaterThan(0);
    expect(found).toEqual([]);
  });
});
