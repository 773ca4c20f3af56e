import * as net from 'net';

/** One server of a backend that moves to another address (an IP, or a host name HAProxy resolves). */
export interface ServerChange {
  readonly backend: string;
  readonly server: string;
  readonly host: string;
  readonly port: number;
  /** The host the live config names for it (the name whose FQDN the worker holds). */
  readonly liveHost: string;
  /** The resolvers section the server line names (a host name is resolved by its nameservers), if any. */
  readonly resolvers: string | undefined;
  /** `resolve-prefer` of the server line; HAProxy prefers IPv6 without it. */
  readonly prefer: 4 | 6;
}

/** Strings are compared in blocks this long: V8 compares a block in native code, not char by char. */
const BLOCK = 4096;

/** `    server <name> <host>:<port>[ options]` (not server-template, not a resolvers' nameserver). */
const SERVER_LINE = /^(\s+)server (\S+) (\S+):(\d+)((?: .*)?)$/;

/**
 * The servers whose address alone changed from `live` to `next`: [] when the texts are equal,
 * undefined when anything else differs (another line, a server's name or options, a server of a
 * section that is not a backend), so that only then the config needs `haproxy -c` and a reload.
 * Only the span between the common head and tail is split into lines: one route's change in a
 * config of 10,000 routes costs a few block compares, not a split of megabytes.
 */
export function serverChanges(live: string, next: string): ServerChange[] | undefined {
  if (live === next) return [];
  const head = lineStart(live, commonHead(live, next));
  const tail = commonTail(live, next, head);
  const liveLines = live.slice(head, live.length - tail).split('\n');
  const nextLines = next.slice(head, next.length - tail).split('\n');
  if (liveLines.length !== nextLines.length) return undefined;
  const changes: ServerChange[] = [];
  let offset = head;
  for (let i = 0; i < liveLines.length; i++) {
    if (liveLines[i] !== nextLines[i]) {
      const change = addressChange(liveLines[i], nextLines[i], sectionOf(live, offset));
      if (!change) return undefined;
      changes.push(change);
    }
    offset += liveLines[i].length + 1;
  }
  return changes;
}

/** A server line of a backend as the config has it. */
export type ConfigServer = Omit<ServerChange, 'liveHost'>;

function addressChange(liveLine: string, nextLine: string, section: string | undefined): ServerChange | undefined {
  const before = SERVER_LINE.exec(liveLine);
  const after = SERVER_LINE.exec(nextLine);
  if (!before || !after || !section?.startsWith('backend ')) return undefined;
  // The same indent, server name and options: only the address differs.
  if (before[1] !== after[1] || before[2] !== after[2] || before[5] !== after[5]) return undefined;
  return { ...configServer(section, after), liveHost: before[3] };
}

// Constants, not literals in the function: a literal is a new RegExp object per call (10,000 servers per reconciliation round).
const RESOLVERS = / resolvers (\S+)/;
const PREFER_IPV4 = / resolve-prefer ipv4\b/;

function configServer(section: string, line: RegExpExecArray): ConfigServer {
  const options = line[5];
  return {
    backend: section.slice('backend '.length).trim(),
    server: line[2],
    host: line[3],
    port: Number(line[4]),
    resolvers: RESOLVERS.exec(options)?.[1],
    prefer: PREFER_IPV4.test(options) ? 4 : 6,
  };
}

/**
 * Every `server <name> <host>:<port>` line of the backends of `config`, in order. The text is
 * walked line by line without splitting it: only section headers and server lines become strings
 * (a split of a config of 10,000 routes made 13 MB of strings per reconciliation round).
 */
export function configServers(config: string): ConfigServer[] {
  const servers: ConfigServer[] = [];
  let section: string | undefined;
  for (let start = 0; start < config.length;) {
    const newline = config.indexOf('\n', start);
    const end = newline < 0 ? config.length : newline;
    const first = config.charCodeAt(start);
    if (start === end || first === HASH) {
      // An empty line or a comment: the section goes on.
    } else if (!isBlank(first)) {
      section = config.slice(start, end);
    } else if (section?.startsWith('backend ') && isServerLine(config, start, end)) {
      const server = SERVER_LINE.exec(config.slice(start, end));
      if (server) servers.push(configServer(section, server));
    }
    start = end + 1;
  }
  return servers;
}

const HASH = 0x23;

/** Space, tab, CR, vertical tab or form feed: the white space a config line is indented with. */
function isBlank(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** Whether the indented line from `start` to `end` begins with `server ` after its indent. */
function isServerLine(config: string, start: number, end: number): boolean {
  let at = start;
  while (at < end && isBlank(config.charCodeAt(at))) at++;
  return config.startsWith('server ', at);
}

/** Whether `host` is an IP address (HAProxy then resolves nothing for it). */
export function isAddress(host: string): boolean {
  return net.isIP(host) !== 0;
}

/** The nameservers (`host:port`) of the `resolvers <name>` section of `config`. */
export function nameservers(config: string, name: string): string[] {
  const start = config.indexOf(`\nresolvers ${name}\n`);
  if (start < 0) return [];
  const found: string[] = [];
  for (const line of config
    .slice(start + 1)
    .split('\n')
    .slice(1)) {
    if (line !== '' && !/^\s/.test(line)) break;
    const server = /^\s+nameserver \S+ (\S+)/.exec(line);
    if (server) found.push(server[1]);
  }
  return found;
}

function commonHead(a: string, b: string): number {
  const limit = Math.min(a.length, b.length);
  let i = 0;
  while (i + BLOCK <= limit && a.slice(i, i + BLOCK) === b.slice(i, i + BLOCK)) i += BLOCK;
  while (i < limit && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Length of the common tail of `a` and `b` after `head`, ending at a line boundary. */
function commonTail(a: string, b: string, head: number): number {
  const limit = Math.min(a.length, b.length) - head;
  let n = 0;
  while (n + BLOCK <= limit && a.slice(a.length - n - BLOCK, a.length - n) === b.slice(b.length - n - BLOCK, b.length - n)) n += BLOCK;
  while (n < limit && a.charCodeAt(a.length - n - 1) === b.charCodeAt(b.length - n - 1)) n++;
  // Back to the end of a line: the span then holds whole lines of both texts.
  while (n > 0 && a.charCodeAt(a.length - n) !== 10) n--;
  return n;
}

function lineStart(text: string, index: number): number {
  return text.lastIndexOf('\n', index - 1) + 1;
}

/** The header line (`backend x`, `frontend y`, ...) of the section holding the line at `offset`. */
function sectionOf(config: string, offset: number): string | undefined {
  let at = offset;
  while (at > 0) {
    const start = config.lastIndexOf('\n', at - 2) + 1;
    const line = config.slice(start, config.indexOf('\n', start));
    if (line !== '' && !/^\s/.test(line) && !line.startsWith('#')) return line;
    if (start === 0) return undefined;
    at = start;
  }
  return undefined;
}
