/** Commander wiring only. Each command's work is imported when that command runs. */
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../version.js';
import { DB_HA, LB_KINDS, PLATFORMS, STORAGE_KINDS, TIERS, TLS_MODES } from '../spec/enums.js';
import { run } from './run.js';
import type { GenerateOpts } from '../commands/generate.js';
import type { InitFlags } from '../commands/pipeline.js';

export type { GenerateOpts, InitFlags };

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

export function buildProgram(): Command {
  const program = new Command('ha-gen')
    .description('Generate a complete, validated high-availability deployment bundle for a stateless web app backed by PostgreSQL.')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride();
  program.addHelpText(
    'after',
    examples('npx ha-gen init                     # wizard: asks, writes ha-gen.yaml and ha-bundle/', 'npx ha-gen init --yes --lb haproxy   # no questions: flags and defaults decide', 'ha-gen generate --check              # in CI: fail when ha-bundle/ drifted from ha-gen.yaml', 'ha-gen validate                      # check every file with nginx -t, haproxy -c, ...'),
  );

  program
    .command('init')
    .description('Ask a few questions (or take flags), write the spec file and render the bundle. With --yes or without a terminal it never waits for input.')
    .option('-y, --yes', 'answer nothing interactively: flags and defaults decide')
    .option('-c, --config <file>', 'spec file to write', 'ha-gen.yaml')
    .option('-o, --out <dir>', 'folder to render the bundle into', 'ha-bundle')
    .option('-f, --force', 'overwrite files ha-gen did not write or that were edited by hand (and an existing spec file)')
    .addOption(new Option('--tier <tier>', 'single-server (99%) | multi-server (99.9%) | multi-region (99.99%)').choices(TIERS))
    .addOption(new Option('--platform <platform>', 'compose: one Docker host; swarm: Docker Swarm; hosts: VMs with systemd').choices(PLATFORMS))
    .addOption(new Option('--lb <kind>', 'load balancer in front of the app').choices(LB_KINDS))
    .addOption(new Option('--db <mode>', 'none: one PostgreSQL; streaming: primary + replica; patroni: automatic failover').choices(DB_HA))
    .addOption(new Option('--storage <kind>', 'where uploads live').choices(STORAGE_KINDS))
    .option('--app-image <ref>', 'app container image (default ghcr.io/victorytek/home-registry:latest)')
    .option('--app-port <n>', 'port the app listens on (default 8210)')
    .option('--health-path <path>', 'app health check path (default /health)')
    .option('--app-replicas <n>', 'app instances (default per tier: 2 or 3)')
    .option('--domain <fqdn>', 'public host name of the app (needed for --tls acme)')
    .addOption(new Option('--tls <mode>', 'none: plain HTTP; files: your certificate; acme: automatic certificates').choices(TLS_MODES))
    .option('--name <name>', 'deployment name, used for stack, cluster and file names (default home-registry)')
    .option('--monitoring', 'Prometheus, Alertmanager and alert rules (default: on for multi-server and multi-region)')
    .option('--no-monitoring', 'no monitoring services')
    .option('--alert-webhook <url>', 'where Alertmanager POSTs alerts, e.g. https://alerts.example.com/hook')
    .addHelpText('after', examples('ha-gen init', 'ha-gen init --yes', 'ha-gen init --yes --lb caddy --domain registry.example.com --tls acme --out deploy', 'ha-gen init --yes --tier multi-server --platform swarm --db patroni --storage nfs'))
    .action(async (flags: InitFlags) => {
      const { initCommand } = await import('../commands/init.js');
      lastExit.code = await initCommand(flags);
    });

  program
    .command('generate')
    .description('Render the bundle from the spec file. Refuses to overwrite files edited by hand unless --force; removes files it generated earlier that the spec no longer produces.')
    .option('-c, --config <file>', 'spec file to read', 'ha-gen.yaml')
    .option('-o, --out <dir>', 'folder to render into', 'ha-bundle')
    .option('-f, --force', 'overwrite files ha-gen did not write or that were edited by hand')
    .option('--check', 'write nothing; exit 1 with a unified diff when the folder differs from what the spec renders')
    .addHelpText('after', examples('ha-gen generate', 'ha-gen generate -c prod.yaml -o deploy/prod', 'ha-gen generate --check   # exit 1 and a diff on drift'))
    .action(async (opts: GenerateOpts) => {
      if (opts.check) {
        // A spec rendered before and an unchanged folder: answered without loading the renderer.
        const { fastCheck } = await import('../check-fast.js');
        const code = fastCheck(opts);
        if (code !== null) {
          lastExit.code = code;
          return;
        }
      }
      const { generateCommand } = await import('../commands/generate.js');
      lastExit.code = await generateCommand(opts);
    });

  program
    .command('validate')
    .description('Check every file of a bundle with the real tool that reads it (nginx -t, haproxy -c, caddy validate, docker-compose config, postgres, patroni, shellcheck, yamllint). HA_GEN_REQUIRE_TOOLS=1 turns a skipped check (tool absent) into a failure.')
    .argument('[dir]', 'bundle folder', 'ha-bundle')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', examples('ha-gen validate', 'ha-gen validate deploy/prod --json', 'HA_GEN_REQUIRE_TOOLS=1 ha-gen validate   # in CI: a missing tool fails'))
    .action(async (dir: string, opts: { json?: boolean }) => {
      const { validateCommand } = await import('../commands/validate.js');
      lastExit.code = await validateCommand(dir, opts);
    });

  program
    .command('plan')
    .description('Print what the spec will produce, writing nothing: hosts and services, ports, failures each part survives, expected availability (with the formula), RTO/RPO and warnings.')
    .option('-c, --config <file>', 'spec file to read', 'ha-gen.yaml')
    .option('--json', 'print the plan as JSON')
    .addHelpText('after', examples('ha-gen plan', 'ha-gen plan -c prod.yaml --json'))
    .action(async (opts: { config: string; json?: boolean }) => {
      const { planCommand } = await import('../commands/plan.js');
      lastExit.code = await planCommand(opts);
    });

  program
    .command('schema')
    .description('Print the JSON Schema of the spec file (editors use it for completion).')
    .addHelpText('after', examples('ha-gen schema > ha-gen.schema.json'))
    .action(async () => {
      const { jsonSchema } = await import('../spec/schema.js');
      process.stdout.write(`${JSON.stringify(jsonSchema(), null, 2)}\n`);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  return run(async () => {
    try {
      await program.parseAsync(argv);
    } catch (err) {
      if (err instanceof CommanderError) {
        if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
        return 2;
      }
      throw err;
    }
    return lastExit.code;
  });
}

/** Commands report their exit code here (commander ignores action return values). */
export const lastExit = { code: 0 };
