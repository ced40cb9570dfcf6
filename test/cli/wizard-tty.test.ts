/**
 * The wizard on a real terminal: `ha-gen init` inside tmux, answered with keystrokes. The spec and
 * bundle must equal the ones from the equivalent flags; Ctrl+C must leave nothing and exit 130.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanupTempDirs, ensureBuilt, readTree, runCli, tempDir } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['tmux'], 'wizard on a real terminal');
const SOCKET = `ha-gen-test-${process.pid}`;
const sessions: string[] = [];

const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `node bin/ha-gen.js init ARGS` in a fresh tmux session in cwd; the exit code lands in statusFile. */
function start(name: string, cwd: string, statusFile: string, args: string[] = []): void {
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} init ${args.join(' ')}; echo $? > ${JSON.stringify(statusFile)}; sleep 30`;
  tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', '-c', cwd, '-e', 'NO_COLOR=1', '-e', 'TERM=xterm-256color', 'sh', '-c', cmd);
  sessions.push(name);
}

const screen = (name: string) => tmux('capture-pane', '-p', '-t', name);

async function waitFor(name: string, re: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = screen(name);
    if (re.test(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} on the terminal; it shows:\n${s}`);
    await sleep(100);
  }
}

async function waitExit(statusFile: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(statusFile) || !readFileSync(statusFile, 'utf8').trim()) {
    if (Date.now() > deadline) throw new Error('the command did not exit');
    await sleep(100);
  }
  return Number(readFileSync(statusFile, 'utf8').trim());
}

/** Waits for the question, then types the keys (tmux key names: Down, Enter, C-c, or literal text). */
async function answer(name: string, question: RegExp, keys: Array<string | { text: string }>): Promise<void> {
  await waitFor(name, question);
  for (const k of keys) {
    if (typeof k === 'string') tmux('send-keys', '-t', name, k);
    else tmux('send-keys', '-t', name, '-l', k.text);
    await sleep(60);
  }
}

beforeAll(() => ensureBuilt());
afterAll(async () => {
  for (const s of sessions) {
    try {
      tmux('kill-session', '-t', s);
    } catch {
      /* already gone */
    }
  }
  try {
    tmux('kill-server');
  } catch {
    /* no server left */
  }
  await cleanupTempDirs();
});

describe.skipIf(tools.skip)('wizard on a real terminal (tmux)', () => {
  it('answers by keystroke give the same spec and bundle as the equivalent flags', { timeout: 90_000 }, async () => {
    const wiz = await tempDir('tty-wizard');
    const status = path.join(await tempDir('tty-status'), 'exit');
    start('answer', wiz, status);
    await answer('answer', /Which tier/, ['Enter']); // single-server (default)
    await answer('answer', /Where does it run/, ['Enter']); // compose (default)
    await answer('answer', /Which load balancer/, ['Down', 'Enter']); // nginx -> haproxy
    await answer('answer', /Database high availability/, ['Enter']); // none
    await answer('answer', /Where do uploads live/, ['Enter']); // local
    await answer('answer', /Public domain/, [{ text: 'shop.example.com' }, 'Enter']);
    await answer('answer', /HTTPS\?/, ['Enter']); // acme is the default once a domain is given
    await answer('answer', /App image/, ['Enter']);
    await answer('answer', /Monitoring and alerting/, [{ text: 'y' }, 'Enter']); // default no for single-server
    await answer('answer', /Webhook URL for alerts/, [{ text: 'https://alerts.example.com/hook' }, 'Enter']);
    const summary = await answer('answer', /Write ha-gen\.yaml and \d+ files/, []).then(() => screen('answer'));
    expect(summary).toMatch(/tier single-server \(99%\), platform compose, haproxy, database none, storage local, tls acme/);
    // nothing is written before the confirmation
    expect(await fs.readdir(wiz)).toEqual([]);
    tmux('send-keys', '-t', 'answer', 'Enter');
    expect(await waitExit(status)).toBe(0);

    const flags = await tempDir('tty-flags');
    const r = await runCli(['init', '--yes', '--lb', 'haproxy', '--domain', 'shop.example.com', '--tls', 'acme', '--monitoring', '--alert-webhook', 'https://alerts.example.com/hook'], { cwd: flags });
    expect(r.code, r.output).toBe(0);
    expect(await fs.readFile(path.join(wiz, 'ha-gen.yaml'), 'utf8')).toBe(await fs.readFile(path.join(flags, 'ha-gen.yaml'), 'utf8'));
    const a = await readTree(path.join(wiz, 'ha-bundle'));
    const b = await readTree(path.join(flags, 'ha-bundle'));
    a.delete('.env');
    b.delete('.env');
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [rel, text] of a) expect(b.get(rel), rel).toBe(text);
  });

  it('asks only what flags left open', { timeout: 60_000 }, async () => {
    const wiz = await tempDir('tty-partial');
    const status = path.join(await tempDir('tty-status'), 'exit');
    start('partial', wiz, status, ['--tier', 'single-server', '--platform', 'compose', '--lb', 'caddy', '--db', 'none', '--storage', 'local', '--app-image', 'ghcr.io/acme/shop:1.0']);
    const first = await waitFor('partial', /Public domain|Which tier|Where does it run|Which load balancer|Database high|Where do uploads|App image/);
    expect(first).toMatch(/Public domain/);
    expect(first).not.toMatch(/Which tier|Where does it run|Which load balancer|Database high|Where do uploads/);
    tmux('send-keys', '-t', 'partial', 'Enter'); // no domain
    await answer('partial', /HTTPS\?/, ['Enter']); // none
    await answer('partial', /Monitoring and alerting/, ['Enter']); // no
    const s = await waitFor('partial', /Write ha-gen\.yaml/);
    expect(s).not.toMatch(/App image/);
    tmux('send-keys', '-t', 'partial', 'Enter');
    expect(await waitExit(status)).toBe(0);
    expect(await fs.readFile(path.join(wiz, 'ha-gen.yaml'), 'utf8')).toMatch(/kind: caddy/);
  });

  it('Ctrl+C at the last question leaves nothing behind and exits 130', { timeout: 60_000 }, async () => {
    const wiz = await tempDir('tty-cancel');
    const status = path.join(await tempDir('tty-status'), 'exit');
    start('cancel', wiz, status, ['--lb', 'nginx', '--tier', 'single-server', '--platform', 'compose', '--db', 'none', '--storage', 'local']);
    await answer('cancel', /Public domain/, ['Enter']);
    await answer('cancel', /HTTPS\?/, ['Enter']);
    await answer('cancel', /App image/, ['Enter']);
    await answer('cancel', /Monitoring and alerting/, ['Enter']);
    await answer('cancel', /Write ha-gen\.yaml/, ['C-c']);
    expect(await waitExit(status)).toBe(130);
    expect(screen('cancel')).toMatch(/interrupted; nothing was written/);
    expect(await fs.readdir(wiz)).toEqual([]);
  });

  it('Ctrl+C at the first question exits 130 with nothing written', { timeout: 60_000 }, async () => {
    const wiz = await tempDir('tty-cancel1');
    const status = path.join(await tempDir('tty-status'), 'exit');
    start('cancel1', wiz, status);
    await answer('cancel1', /Which tier/, ['C-c']);
    expect(await waitExit(status)).toBe(130);
    expect(await fs.readdir(wiz)).toEqual([]);
    expect(screen('cancel1')).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });
});
