import { promises as dns } from 'dns';
import type { RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import { isAddress, nameservers, ServerChange } from './server-diff';

/** One DNS question to HAProxy's nameservers: a slow answer means a reload, which resolves on its own. */
const DNS_TIMEOUT_MS = 1000;
const DNS_TRIES = 2;

/** A server move the worker can make: the address to set, and the FQDN it then follows (if any). */
interface Move {
  readonly change: ServerChange;
  readonly address: string;
  readonly fqdn: string | undefined;
}

/**
 * Move servers of the running worker to the addresses of `changes` (the config with them is on
 * disk already) through the Runtime API, and confirm each with `show servers state`: `applied`
 * when the worker serves them all, `reload` when a reload must do it instead (a move this cannot
 * make, a refused command, a check that does not match: only a reload of the files then says
 * what is served, never a worker that differs from them).
 *
 * A host name is resolved here, by the nameservers of the server line's resolvers section in the
 * config and in the family its `resolve-prefer` names (the other one when that has none), as
 * HAProxy's resolvers would; the worker gets `set server ... fqdn <name>` (its resolvers follow
 * that name from now on) and then `set server ... addr <ip>`, so it serves the name at once
 * instead of at its next resolution, which keeps an address its answer still holds. A name that
 * does not resolve reloads (a reload starts that server without an address). A move from a name
 * to an IP address reloads too: HAProxy 2.6 cannot drop a server's FQDN at runtime, and its next
 * resolution of the old name would move the server back.
 */
export async function applyServerChanges(
  changes: readonly ServerChange[],
  config: string,
  runtime: RuntimeApi,
  logger: Logger,
): Promise<'none' | 'applied' | 'reload'> {
  if (changes.length === 0) return 'none';
  try {
    const moves: Move[] = [];
    for (const change of changes) moves.push(await planMove(change, config));
    for (const { change, address, fqdn } of moves) {
      if (fqdn !== undefined && fqdn !== change.liveHost) await runtime.setServerName(change.backend, change.server, fqdn);
      await runtime.setServerAddress(change.backend, change.server, address, change.port);
    }
    for (const move of moves) await confirm(move, runtime);
    const servers = moves.map(({ change, address }) => ({ backend: change.backend, server: change.server, host: change.host, address, port: change.port }));
    logger.info({ servers }, 'server addresses changed through the Runtime API');
    return 'applied';
  } catch (error) {
    logger.warn({ err: (error as Error).message }, 'server address change through the Runtime API not made; reloading instead');
    return 'reload';
  }
}

async function planMove(change: ServerChange, config: string): Promise<Move> {
  const where = `${change.backend}/${change.server}`;
  if (isAddress(change.host)) {
    if (!isAddress(change.liveHost)) throw new Error(`${where}: a host name cannot be replaced by an address at runtime`);
    return { change, address: change.host, fqdn: undefined };
  }
  if (change.resolvers === undefined) throw new Error(`${where}: ${change.host} has no resolvers on its server line`);
  const servers = nameservers(config, change.resolvers);
  if (servers.length === 0) throw new Error(`${where}: no nameservers in resolvers ${change.resolvers}`);
  return { change, address: await resolve(change.host, servers, change.prefer), fqdn: change.host };
}

/** The first address of `name` in the preferred family, else in the other one. */
async function resolve(name: string, servers: readonly string[], prefer: 4 | 6): Promise<string> {
  const resolver = new dns.Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES });
  resolver.setServers([...servers]);
  const families = prefer === 4 ? [4, 6] : [6, 4];
  for (const family of families) {
    const found = await (family === 4 ? resolver.resolve4(name) : resolver.resolve6(name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === dns.NOTFOUND || error.code === dns.NODATA) return [];
      throw error;
    });
    if (found.length > 0) return found[0];
  }
  throw new Error(`${name} does not resolve`);
}

async function confirm(move: Move, runtime: RuntimeApi): Promise<void> {
  const { backend, server, port } = move.change;
  const state = await runtime.serverState(backend, server);
  if (!state) throw new Error(`${backend}/${server}: no such server in the worker`);
  if (state.address !== move.address || state.port !== port || state.fqdn !== move.fqdn) {
    throw new Error(`${backend}/${server}: serves ${state.fqdn ?? '-'} ${state.address}:${state.port}, not ${move.fqdn ?? '-'} ${move.address}:${port}`);
  }
}
