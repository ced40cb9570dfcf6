/**
 * Monitoring files with their own tools: promtool (Prometheus config, rules, and the rules' unit
 * tests that ha-gen generates: a rule that no longer fires on its input fails here), amtool
 * (Alertmanager config) and the blackbox exporter's --config.check. They only read the files.
 */
import * as path from 'node:path';
import { exec } from './exec.js';
import type { Checker, CheckEnv, CheckOutcome } from './common.js';

const run = async (env: CheckEnv, file: string, cmd: string, args: (abs: string) => string[], okText: string): Promise<CheckOutcome> => {
  const abs = path.join(env.bundleDir, file);
  const r = await exec(cmd, args(abs), { cwd: path.dirname(abs), timeout: 60000 });
  if (r.timedOut) return { ok: false, message: `${cmd} timed out` };
  return r.exitCode === 0 ? { ok: true, message: okText } : { ok: false, message: r.all || `${cmd} exit code ${r.exitCode}` };
};

const PROMTOOL = 'apt-get install prometheus (promtool)';

/** promtool check config also checks the rule files prometheus.yml names (they sit next to it). */
export const promtoolConfig: Checker = {
  needs: ['promtool'],
  install: PROMTOOL,
  run: (env, file) => run(env, file, 'promtool', (abs) => ['check', 'config', abs], 'promtool check config: SUCCESS'),
};

export const promtoolRules: Checker = {
  needs: ['promtool'],
  install: PROMTOOL,
  run: (env, file) => run(env, file, 'promtool', (abs) => ['check', 'rules', abs], 'promtool check rules: SUCCESS'),
};

export const promtoolTest: Checker = {
  needs: ['promtool'],
  install: PROMTOOL,
  async run(env, file) {
    const r = await run(env, file, 'promtool', (abs) => ['test', 'rules', abs], '');
    if (!r.ok) return r;
    return { ok: true, message: 'promtool test rules: every alert fires on its input and stays quiet on the other' };
  },
};

export const amtool: Checker = {
  needs: ['amtool'],
  install: 'apt-get install prometheus-alertmanager (amtool)',
  run: (env, file) => run(env, file, 'amtool', (abs) => ['check-config', abs], 'amtool check-config: SUCCESS'),
};

export const blackbox: Checker = {
  needs: ['prometheus-blackbox-exporter'],
  install: 'apt-get install prometheus-blackbox-exporter',
  run: (env, file) => run(env, file, 'prometheus-blackbox-exporter', (abs) => [`--config.file=${abs}`, '--config.check'], 'blackbox exporter --config.check: valid'),
};
