import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { challengeMapFile } from './acme/paths';
import { ensureRouteMapFiles } from './applier/route-map-files';
import { certPaths, CertPaths, tlsFiles, writeCertFiles } from './certs/cert-files';
import { certFiles, servingOrder } from './certs/cert-plan';
import type { Certificate } from './certs/certificate';
import { judgeCerts } from './certs/stored-certs';
import { CertChanges, RouteChanges, RouteChecker, StoredRoutesChecker } from './changes';
import { checkConfigText } from './haproxy/check';
import { ignoredParameters } from './route/ignored';
import { loadTemplates, Templates } from './render';
import { parseEntries } from './route/entries';
import { redactParams } from './route/redact';
import type { RouteParams } from './route/route';
import type { Settings } from './settings';
import { createStore } from './store';
import type { RouteStore, StoreSnapshot } from './store/route-store';

/**
 * The one-shot CLI commands (render, validate, routes and certs list/add/remove). They work on the
 * configured store directly, without a running sidecar; render and validate see the stored
 * certificates as `serve` does (the `:ssl` binds and their crt-list); `routes add/remove` go through the same
 * write path as the API (changes/), checked against the stored routes.
 */

async function withStore<T>(settings: Settings, action: (store: RouteStore) => Promise<T>): Promise<T> {
  const store = createStore(settings, undefined, 'CLI');
  try {
    return await action(store);
  } finally {
    await store.close();
  }
}

interface Rendered {
  readonly config: string;
  /** The certificates the config's `:ssl` binds serve, in serving order (their files under `paths`). */
  readonly certs: readonly Certificate[];
}

/** What `serve` renders from a snapshot, its certificates' files named under `paths`; what it leaves out goes to stderr. */
function renderSnapshot(settings: Settings, templates: Templates, snapshot: StoreSnapshot, paths: CertPaths): Rendered {
  const { routes, invalid } = parseEntries(snapshot.entries);
  for (const entry of invalid) process.stderr.write(`warning: ${entry.serviceName} is left out: ${entry.reason}\n`);
  const certs = judgeCerts(snapshot.certs ?? []);
  for (const entry of certs.invalid) process.stderr.write(`warning: certificate ${entry.name} is left out: ${entry.reason}\n`);
  const served = servingOrder(certs.valid, settings.tls.defaultCert);
  return { config: templates.render(routes, settings, tlsFiles(paths, served)), certs: served };
}

export async function renderCurrent(settings: Settings): Promise<string> {
  const templates = loadTemplates(settings.templatesDir);
  const snapshot = await withStore(settings, (store) => store.list());
  return renderSnapshot(settings, templates, snapshot, certPaths(settings.stateDir)).config;
}

/**
 * Render and check with `haproxy -c`. The certificates' files go to a temporary folder for the
 * check (the rendered config names that one instead of STATE_DIR/certs): a one-shot command never
 * writes into the folder a running sidecar's HAProxy reads.
 */
export async function validateCurrent(settings: Settings): Promise<string> {
  const templates = loadTemplates(settings.templatesDir);
  const snapshot = await withStore(settings, (store) => store.list());
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'haproxy-sidecar-validate-'));
  try {
    const paths = certPaths(dir);
    const { config, certs } = renderSnapshot(settings, templates, snapshot, paths);
    await writeCertFiles(paths, certFiles(paths, certs));
    // With ACME on, the config names the challenge map, which `serve` creates; HAProxy refuses a missing one.
    if (settings.acme) await ensureFile(challengeMapFile(settings.stateDir));
    // So do the route maps: `serve` writes them with the config; an empty one is enough for the check.
    await ensureRouteMapFiles(settings.stateDir);
    await checkConfigText(settings.haproxyBin, config);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
  return 'configuration is valid';
}

async function ensureFile(file: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  await fs.promises.writeFile(file, '', { flag: 'a' });
}

function describeRoute(params: RouteParams): string {
  const pairs = Object.entries(redactParams(params))
    .filter(([name]) => name !== 'serviceName')
    .map(([name, value]) => `${name}=${value}`);
  return [params.serviceName, ...pairs].join(' ');
}

export async function listRoutes(settings: Settings): Promise<string[]> {
  return withStore(settings, async (store) => {
    const snapshot = await store.list();
    return snapshot.entries.map((entry) => (entry.params ? describeRoute(entry.params) : `${entry.serviceName} (invalid: ${entry.error})`));
  });
}

/** The API's write path without an applier: nothing to wait for, checked against `checker`. */
function changesOn(store: RouteStore, settings: Settings, checker: RouteChecker): RouteChanges {
  return new RouteChanges({
    store,
    checker,
    liveTimeoutMs: settings.distributeTimeoutMs,
    users: settings.users,
    defaults: { reqMode: settings.proxy.defaultReqMode },
  });
}

/** A remove checks nothing (so broken templates never block it): it only leaves a route out. */
const NO_CHECK: RouteChecker = { checkRoute: async () => undefined };

export async function addRoute(settings: Settings, input: Readonly<Record<string, string>>): Promise<string> {
  return withStore(settings, async (store) => {
    const result = await changesOn(store, settings, new StoredRoutesChecker(store, settings)).reconfigure(input);
    // replicas=0 removes the service: the result then has no parameters.
    const done = `${result.params ? 'stored' : 'removed'} ${result.serviceName} (index ${result.index})`;
    return [done, ...ignoredParameters(input).map(({ parameter, reason }) => `ignored ${parameter}: ${reason}`)].join('\n');
  });
}

export async function removeRoute(settings: Settings, serviceName: string): Promise<string> {
  return withStore(settings, async (store) => {
    const result = await changesOn(store, settings, NO_CHECK).remove(serviceName);
    return `removed ${result.serviceName} (index ${result.index})`;
  });
}

function certChangesOn(store: RouteStore, settings: Settings): CertChanges {
  return new CertChanges({ store, liveTimeoutMs: settings.distributeTimeoutMs });
}

/** `certs add <name> <file>`: validated like a PUT, then stored; every running replica serves it. */
export async function addCert(settings: Settings, certName: string, file: string): Promise<string> {
  const pem = await fs.promises.readFile(file, 'utf8');
  return withStore(settings, async (store) => {
    const result = await certChangesOn(store, settings).put(certName, pem);
    return `stored certificate ${result.certName} (${result.cert?.subject}, expires ${result.cert?.notAfter}; index ${result.index})`;
  });
}

export async function removeCert(settings: Settings, certName: string): Promise<string> {
  return withStore(settings, async (store) => {
    const result = await certChangesOn(store, settings).remove(certName);
    return `removed certificate ${result.certName} (index ${result.index})`;
  });
}

/** One line per stored certificate: name, subject, SANs, issuer, notAfter; never a key. */
export async function listCerts(settings: Settings): Promise<string[]> {
  return withStore(settings, async (store) => {
    const { certs, invalid } = await certChangesOn(store, settings).list();
    const lines = certs.map((c) => `${c.name} subject="${c.subject}" sans="${c.sans.join(', ')}" issuer="${c.issuer}" notAfter=${c.notAfter}`);
    return [...lines, ...invalid.map((c) => `${c.name} (invalid: ${c.reason})`)];
  });
}
