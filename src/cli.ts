#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=1 --heap-growing-percent=50
// Memory at 10,000 routes (bench/README.md): a 1 MB young generation and a slower-growing heap
// keep V8's share small, and two glibc malloc arenas instead of one per thread keep libuv's pool
// threads (which write the 3 MB config) from each holding freed memory: 128-138 MiB resident after
// changes instead of 144-146. scripts/run.sh and the image run Node the same way.
import yargs, { Argv } from 'yargs';
import { SidecarError } from './errors';
import { serve } from './app';
import { addCert, addRoute, listCerts, listRoutes, removeCert, removeRoute, renderCurrent, validateCurrent } from './commands';
import { paramsFromArgs } from './route/params';
import { CONFIG_SETTINGS, loadSettings, RawSettings, SETTING_DEFINITIONS, Settings, STORE_SETTINGS } from './settings';

/**
 * Exit codes scripts can rely on:
 *   0 success; 1 the operation failed (config rejected, store unavailable, ...);
 *   2 bad usage (unknown flag, invalid setting or route parameter).
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const USAGE_CODES = new Set(['INVALID_PARAMETER', 'ROUTE_CONFLICT', 'INVALID_SETTING']);

type Flags = Record<string, unknown>;

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Environment overlaid with the flags that were given: a flag wins over its variable. */
function settingsFrom(argv: Flags): Settings {
  const raw: Record<string, string | undefined> = { ...process.env };
  for (const definition of SETTING_DEFINITIONS) {
    const value = argv[camel(definition.flag)];
    if (typeof value === 'string') raw[definition.env] = value;
  }
  return loadSettings(raw as RawSettings);
}

/** The flags of the settings `only` names (all of them for serve); other flags are refused as unknown. */
function withSettingFlags<T>(command: Argv<T>, only?: readonly string[]): Argv<T> {
  let result = command;
  for (const definition of SETTING_DEFINITIONS.filter((d) => only === undefined || only.includes(d.env))) {
    result = result.option(definition.flag, {
      type: 'string',
      group: 'Settings (each also an environment variable; a flag wins):',
      describe: `${definition.description} [env ${definition.env}] (default: ${definition.defaultText})`,
    });
  }
  return result;
}

function fail(error: unknown): never {
  if (error instanceof SidecarError) {
    process.stderr.write(`haproxy-sidecar: ${error.message}\n`);
    process.exit(USAGE_CODES.has(error.code) ? EXIT_USAGE : EXIT_FAILED);
  }
  process.stderr.write(`haproxy-sidecar: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(EXIT_FAILED);
}

function run(action: (settings: Settings, argv: Flags) => Promise<number | void>) {
  return async (argv: Flags): Promise<void> => {
    try {
      const code = await action(settingsFrom(argv), argv);
      process.exitCode = typeof code === 'number' ? code : EXIT_OK;
    } catch (error) {
      fail(error);
    }
  };
}

function routeArguments(values: unknown): Record<string, string> {
  return paramsFromArgs((Array.isArray(values) ? values : []).map(String));
}

function routesCommand(y: Argv): Argv {
  return withSettingFlags(y, STORE_SETTINGS)
    .command(
      'list',
      'Print one line per stored route (name=value pairs; passwords hidden).',
      {},
      run(async (settings) => {
        for (const line of await listRoutes(settings)) process.stdout.write(`${line}\n`);
      }),
    )
    .command(
      'add <params..>',
      'Add or replace a route: reconfigure parameters as name=value (e.g. serviceName=go-demo servicePath=/demo port=8080).',
      {},
      run(async (settings, argv) => {
        process.stdout.write(`${await addRoute(settings, routeArguments(argv.params))}\n`);
      }),
    )
    .command(
      'remove <serviceName>',
      'Remove the route of a service (succeeds when it is absent).',
      {},
      run(async (settings, argv) => {
        process.stdout.write(`${await removeRoute(settings, String(argv.serviceName))}\n`);
      }),
    )
    .demandCommand(1, 'routes needs a subcommand: list, add or remove');
}

function certsCommand(y: Argv): Argv {
  return withSettingFlags(y, STORE_SETTINGS)
    .command(
      'list',
      'Print one line per stored certificate (name, subject, SANs, issuer, notAfter; never a key).',
      {},
      run(async (settings) => {
        for (const line of await listCerts(settings)) process.stdout.write(`${line}\n`);
      }),
    )
    .command(
      'add <certName> <file>',
      'Validate a PEM file (certificate chain and private key) and store it as certificate certName.',
      {},
      run(async (settings, argv) => {
        process.stdout.write(`${await addCert(settings, String(argv.certName), String(argv.file))}\n`);
      }),
    )
    .command(
      'remove <certName>',
      'Remove a stored certificate (succeeds when it is absent).',
      {},
      run(async (settings, argv) => {
        process.stdout.write(`${await removeCert(settings, String(argv.certName))}\n`);
      }),
    )
    .demandCommand(1, 'certs needs a subcommand: list, add or remove');
}

export function main(args: string[]): void {
  yargs(args)
    .scriptName('haproxy-sidecar')
    .usage('$0 <command> [options]\n\nKeeps HAProxy routes in Consul KV (or a local file store) and reloads HAProxy hitlessly.')
    .command('serve', 'Run the sidecar: HAProxy, the store watch and the HTTP API.', (y) => withSettingFlags(y), run(serve))
    .command(
      'render',
      'Print the haproxy.cfg the current store would produce (dry run).',
      (y) => withSettingFlags(y, CONFIG_SETTINGS),
      run(async (settings) => {
        process.stdout.write(await renderCurrent(settings));
      }),
    )
    .command(
      'validate',
      'Render and check with haproxy -c; exit 0, or 1 with the reason.',
      (y) => withSettingFlags(y, CONFIG_SETTINGS),
      run(async (settings) => {
        process.stdout.write(`${await validateCurrent(settings)}\n`);
      }),
    )
    .command('routes', 'List, add or remove routes in the configured store.', routesCommand)
    .command('certs', 'List, add or remove TLS certificates in the configured store.', certsCommand)
    .demandCommand(1, 'Say which command to run: serve, render, validate, routes or certs.')
    // Without this, yargs reads --no-such-flag as 'such-flag: false' and the message hides the typo.
    .parserConfiguration({ 'boolean-negation': false })
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .epilog('Exit codes: 0 success, 1 operation failed, 2 bad usage. Docs: README.md')
    .fail((message, error) => {
      if (error) fail(error);
      process.stderr.write(`haproxy-sidecar: ${message}\nRun with --help for the options.\n`);
      process.exit(EXIT_USAGE);
    })
    .parse();
}

if (require.main === module) main(process.argv.slice(2));
