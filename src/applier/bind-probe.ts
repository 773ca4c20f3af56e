import * as net from 'net';
import type { Route } from '../route/route';

/** One `bind` of a config: the address HAProxy listens on. */
export interface Bind {
  /** '' for every address (`*` or nothing before the colon). */
  readonly host: string;
  readonly port: number;
}

const BIND_LINE = /^\s*bind\s+(\S+)/gm;

/** The addresses of every `bind` line of a config (`127.0.0.1:80`, `*:443 ssl ...`, `[::1]:8080`). */
export function bindsOf(config: string): Bind[] {
  const binds: Bind[] = [];
  for (const match of config.matchAll(BIND_LINE)) {
    const address = match[1];
    const colon = address.lastIndexOf(':');
    const port = Number(address.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port) || port <= 0) continue;
    const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    binds.push({ host: host === '*' || host === '0.0.0.0' ? '' : host, port });
  }
  return binds;
}

/** Ports that the config `after` binds and the config HAProxy runs (`held`) does not. */
export function newBinds(after: string, held: string): Bind[] {
  const heldPorts = new Set(bindsOf(held).map((bind) => bind.port));
  const seen = new Set<number>();
  return bindsOf(after).filter((bind) => !heldPorts.has(bind.port) && !seen.has(bind.port) && seen.add(bind.port));
}

/**
 * Why HAProxy could not bind `bind`, or undefined when it can: we listen on it for a moment
 * ourselves. Only ports HAProxy does not hold yet may be probed (see newBinds): its own ports
 * are in use by HAProxy itself, which a reload takes over, and would look taken. Worded as
 * HAProxy words a failed bind, which is what it would report on the reload.
 */
export function bindProblem(bind: Bind): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    const shown = `${bind.host === '' ? '*' : bind.host}:${bind.port}`;
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'Address already in use' : error.code === 'EACCES' ? 'Permission denied' : error.message;
      resolve(`cannot bind socket (${why}) for [${shown}]`);
    });
    server.listen({ host: bind.host === '' ? undefined : bind.host, port: bind.port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** The routes that make HAProxy bind `port` (a srcPort of one of their destinations). */
export function routesOnPort(routes: readonly Route[], port: number): Route[] {
  return routes.filter((route) => route.destinations.some((d) => d.srcPort === port));
}

/**
 * The ports HAProxy named in a failed reload's alerts as ones it cannot bind, with its own words:
 * `Binding [haproxy.cfg:52] for frontend tcpFE_6379: cannot bind socket (Address already in use) for [127.0.0.1:6379]`.
 */
export function unboundPorts(message: string): Map<number, string> {
  const ports = new Map<number, string>();
  for (const match of message.matchAll(/(cannot bind socket \([^)]*\) for \[([^\]]*):(\d+)\])/g)) ports.set(Number(match[3]), match[1]);
  return ports;
}
