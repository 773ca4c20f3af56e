import { HaproxyError, RuntimeRefused } from '../errors';
import { MasterCli } from './master-cli';

/**
 * HAProxy's Runtime API of the current worker, reached through the master CLI: `@1 <command>`
 * goes to the worker the master started last (old workers still draining after a reload are not
 * `@1`). This works the same for our child HAProxy and an adopted one, since both have a master
 * socket and neither needs a stats socket in the config.
 *
 * Certificate commands as HAProxy 2.6 has them: `new ssl cert`, `set ssl cert <file> <<payload`,
 * `commit ssl cert` / `abort ssl cert` (one transaction at a time per worker), `add ssl crt-list`,
 * `del ssl crt-list`, `del ssl cert`. HAProxy answers in text; each method checks the answer for
 * the success sentence of its command and throws HaproxyError with HAProxy's words otherwise.
 * A certificate's payload holds its private key: it never appears in an error. Map commands
 * (`add map`, `del map`, `set map`, `prepare map` / `add map @<version>` / `commit map`) keep
 * HAProxy's ACME challenge map and the route maps in step; server commands (`set server ... addr`,
 * `set server ... fqdn`, `show servers state`) move a server to another address.
 */

/** Committing a big chain to a worker with many binds takes a while on a busy machine. */
const COMMAND_TIMEOUT_MS = 10000;

/** A server's address as the worker uses it; `fqdn`: the host name its resolvers follow, if any. */
export interface ServerState {
  readonly address: string;
  readonly port: number;
  readonly fqdn: string | undefined;
}

/** A server's state with the names of its backend and itself. */
export interface NamedServerState extends ServerState {
  readonly backend: string;
  readonly server: string;
}

const WORKER = '@1';

export class RuntimeApi {
  private readonly cli: MasterCli;

  constructor(masterSocket: string, timeoutMs = COMMAND_TIMEOUT_MS) {
    this.cli = new MasterCli(masterSocket, timeoutMs);
  }

  /** All of HAProxy's statistics as CSV (`show stat`): one line per frontend, backend and server, a `# ` header first (DFP's metrics). */
  async allStats(): Promise<string> {
    const answer = await this.send('show stat');
    if (!answer.startsWith('# ')) throw refused('show stat', answer);
    return answer.endsWith('\n') ? answer : `${answer}\n`;
  }

  /** Certificate files the worker has loaded (`show ssl cert`). */
  async certificates(): Promise<string[]> {
    const answer = await this.send('show ssl cert');
    return answer
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }

  /**
   * Every backend's and server's counters as CSV (`show stat -1 6 -1`: proxies of type backend (2)
   * and server (4), not the frontends), header line first.
   */
  async stats(): Promise<string> {
    const answer = await this.send('show stat -1 6 -1');
    if (!answer.startsWith('# pxname')) throw refused('show stat', answer);
    return answer;
  }

  /** The certificate files of a crt-list, in order (`show ssl crt-list -n`). */
  async crtListFiles(crtList: string): Promise<string[]> {
    const answer = await this.send(`show ssl crt-list -n ${crtList}`);
    if (!answer.startsWith('# ')) throw refused(`show ssl crt-list ${crtList}`, answer);
    return answer
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line) => line.split(/\s+/)[0].replace(/:\d+$/, ''));
  }

  /** Replace what a loaded certificate file serves: every bind using it presents the new one. */
  async updateCertificate(file: string, pem: string): Promise<void> {
    await this.transaction(file, pem);
  }

  /** Load a certificate the worker does not know yet and append it to `crtList`. */
  async addCertificate(crtList: string, file: string, pem: string): Promise<void> {
    await this.expect(`new ssl cert ${file}`, /New empty certificate store/);
    try {
      await this.transaction(file, pem);
    } catch (error) {
      await this.send(`del ssl cert ${file}`).catch(() => '');
      throw error;
    }
    await this.expect(`add ssl crt-list ${crtList} ${file}`, /Success!/);
  }

  /**
   * Take a certificate out of `crtList` and unload it. HAProxy refuses to delete the default
   * certificate of a bind (the first one it loaded); that needs a reload.
   */
  async removeCertificate(crtList: string, file: string): Promise<void> {
    await this.expect(`del ssl crt-list ${crtList} ${file}`, /deleted in crtlist/);
    await this.expect(`del ssl cert ${file}`, /deleted!/);
  }

  /**
   * Add `key value` to a map file the worker loaded. `add map` would add a second entry for a key
   * it already has, so any entry of the key goes first.
   */
  async addMapEntry(map: string, key: string, value: string): Promise<void> {
    const batch = this.mapBatch();
    batch.deleteMapEntry(map, key);
    batch.addMapEntries(map, `${key} ${value}\n`);
    await batch.send();
  }

  /** Remove every entry of `key` from a map; a key it does not have is no error. */
  async deleteMapEntry(map: string, key: string): Promise<void> {
    const batch = this.mapBatch();
    batch.deleteMapEntry(map, key);
    await batch.send();
  }

  /** The entry a lookup of `key` finds (`get map`): for a prefix map, the longest prefix of it; undefined when none. */
  async lookUpMap(map: string, key: string): Promise<MapLookup> {
    let result: MapLookup = undefined;
    const batch = this.mapBatch();
    batch.lookUpMap(map, key, (found) => (result = found));
    await batch.send();
    return result;
  }

  /**
   * Map entry commands to send together (MapBatch): one master CLI connection carries them all,
   * run in the order given, where one connection per command cost a connect and a session each.
   */
  mapBatch(): MapBatch {
    return new MapBatch((commands) => this.sendAll(commands));
  }

  /** A new, empty version of a map (`prepare map`): filled with addMapVersion, live only once committed. */
  async prepareMap(map: string): Promise<number> {
    const answer = await this.send(`prepare map ${map}`);
    const version = /New version created: (\d+)/.exec(answer);
    if (!version) throw refused(`prepare map ${map}`, answer);
    return Number(version[1]);
  }

  /** Add `lines` (`key value` lines, under HAProxy's buffer size) to a prepared version. */
  async addMapVersion(map: string, version: number, lines: string): Promise<void> {
    await this.mapPayload(`add map @${version} ${map}`, lines);
  }

  /** Make a prepared version the live one: the whole map at once. */
  async commitMap(map: string, version: number): Promise<void> {
    const answer = await this.send(`commit map @${version} ${map}`);
    if (answer.trim() !== '') throw refused(`commit map ${map}`, answer);
  }

  /** Drop a prepared version that will not be committed. */
  async clearMapVersion(map: string, version: number): Promise<void> {
    await this.send(`clear map @${version} ${map}`);
  }

  /** A map's entries (`show map`, of `version` when given), in its order. */
  async showMap(map: string, version?: number): Promise<[string, string][]> {
    const answer = await this.send(`show map ${version === undefined ? '' : `@${version} `}${map}`);
    const entries: [string, string][] = [];
    for (const line of answer.split('\n')) {
      const fields = line.trim().split(/\s+/);
      if (fields.length === 3 && fields[0].startsWith('0x')) entries.push([fields[1], fields[2]]);
      else if (line.trim() !== '') throw refused(`show map ${map}`, answer);
    }
    return entries;
  }

  /**
   * Move a server to `address` and `port` (`set server <backend>/<server> addr <ip> port <port>`):
   * HAProxy 2.6 takes an IP address here, never a name.
   */
  async setServerAddress(backend: string, server: string, address: string, port: number): Promise<void> {
    await this.expect(`set server ${backend}/${server} addr ${address} port ${port}`, /changed from|no need to change/);
  }

  /** Give a server another host name (`set server ... fqdn`): its resolvers resolve that name from now on. */
  async setServerName(backend: string, server: string, name: string): Promise<void> {
    await this.expect(`set server ${backend}/${server} fqdn ${name}`, /changed its FQDN|no need to change/);
  }

  /** What the worker holds for one server (`show servers state <backend>`); undefined when it has no such server. */
  async serverState(backend: string, server: string): Promise<ServerState | undefined> {
    const states = await this.serverStates(backend);
    return states.find((state) => state.backend === backend && state.server === server);
  }

  /** What the worker holds for every server of `backend`, or of every backend (`show servers state`, one command). */
  async serverStates(backend?: string): Promise<NamedServerState[]> {
    const label = backend === undefined ? 'show servers state' : `show servers state ${backend}`;
    const answer = await this.send(label);
    const states = parseServerStates(answer);
    if (!states) throw refused(label, answer);
    return states;
  }

  private async mapPayload(command: string, lines: string): Promise<void> {
    const answer = await this.send(payloadCommand(command, lines), command);
    if (answer.trim() !== '') throw refused(command, answer);
  }

  /** `set ssl cert` + `commit ssl cert`; an open transaction is aborted when either fails. */
  private async transaction(file: string, pem: string): Promise<void> {
    const payload = pem.endsWith('\n') ? pem : `${pem}\n`;
    try {
      // The payload ends at the first empty line: the one send() adds after the last PEM line.
      await this.expect(`set ssl cert ${file} <<\n${payload}`, /Transaction (created|updated) for certificate/, `set ssl cert ${file}`);
      await this.expect(`commit ssl cert ${file}`, /Success!/);
    } catch (error) {
      await this.send(`abort ssl cert ${file}`).catch(() => '');
      throw error;
    }
  }

  private async expect(command: string, success: RegExp, label = command): Promise<string> {
    const answer = await this.send(command, label);
    if (!success.test(answer)) throw refused(label, answer);
    return answer;
  }

  /** Several commands on one connection, each prefixed for the worker; their answers in order. */
  private async sendAll(commands: readonly MapCommand[]): Promise<string[]> {
    const label = commands.map((command) => command.label).join('; ');
    try {
      return await this.cli.commands(commands.map((command) => `${WORKER} ${command.text}`));
    } catch (error) {
      throw new HaproxyError(`runtime API: ${label}: ${(error as Error).message}`);
    }
  }

  /** `label` replaces the command in errors (a payload command's text holds a private key). */
  private async send(command: string, label = command): Promise<string> {
    try {
      return await this.cli.command(`${WORKER} ${command}`);
    } catch (error) {
      const message = (error as Error).message.split(command).join(label);
      throw new HaproxyError(`runtime API: ${label}: ${message}`);
    }
  }
}

/** What a `get map` finds: the entry, or undefined when none matches. */
export type MapLookup = { readonly key: string; readonly value: string } | undefined;

/** A map command's text (a payload included) and its name in errors. */
interface MapCommand {
  readonly text: string;
  readonly label: string;
}

/** A command of a batch and the reading of its answer: throws RuntimeRefused unless it says success. */
interface MapStep extends MapCommand {
  readonly read: (answer: string) => void;
}

/**
 * HAProxy reads a CLI command, payload included, into one buffer (tune.bufsize, 16 KB), and the
 * master CLI reads a connection's lines into one too: a batch whose text would pass this goes on
 * more connections, one after another (a payload alone is kept under it by the caller).
 */
const BATCH_BYTES = 12000;

/** `command <<` and its lines; the payload ends at the first empty line, the one the sender adds after the last line. */
function payloadCommand(command: string, lines: string): string {
  return `${command} <<\n${lines.endsWith('\n') ? lines : `${lines}\n`}`;
}

/**
 * Map entry commands gathered, then sent in order on one master CLI connection (more when their
 * text is long: BATCH_BYTES). `send` checks every answer: the first refused command throws, with
 * HAProxy's words; the commands before it were run, the ones after it too (the master runs the
 * lines it was sent), so a caller that sees a throw no longer knows what the map holds.
 */
export class MapBatch {
  private readonly steps: MapStep[] = [];

  constructor(private readonly sendAll: (commands: readonly MapCommand[]) => Promise<string[]>) {}

  /** Entries whose keys the map does not have yet (`key value` lines, under HAProxy's buffer). */
  addMapEntries(map: string, lines: string): void {
    const label = `add map ${map}`;
    this.steps.push({ text: payloadCommand(label, lines), label, read: (answer) => expectEmpty(label, answer) });
  }

  /** The value of a key the map has. */
  setMapEntry(map: string, key: string, value: string): void {
    const text = `set map ${map} ${key} ${value}`;
    this.steps.push({ text, label: `set map ${map} ${key}`, read: (answer) => expectEmpty(`set map ${map} ${key}`, answer) });
  }

  /** Every entry of `key` removed; a key the map does not have is no error. */
  deleteMapEntry(map: string, key: string): void {
    const text = `del map ${map} ${key}`;
    const read = (answer: string): void => {
      if (answer.trim() !== '' && !/Key not found/i.test(answer)) throw refused(`del map ${map}`, answer);
    };
    this.steps.push({ text, label: `del map ${map}`, read });
  }

  /** `get map`, run after the commands added before it; `found` gets what it finds. */
  lookUpMap(map: string, key: string, found: (entry: MapLookup) => void): void {
    const label = `get map ${map} ${key}`;
    this.steps.push({ text: label, label, read: (answer) => found(parseLookUp(label, answer)) });
  }

  async send(): Promise<void> {
    for (const group of groups(this.steps)) {
      const answers = await this.sendAll(group);
      group.forEach((step, i) => step.read(answers[i]));
    }
    this.steps.length = 0;
  }
}

/** The steps in runs whose text stays under BATCH_BYTES (a longer step goes alone). */
function groups(steps: readonly MapStep[]): MapStep[][] {
  const out: MapStep[][] = [];
  let group: MapStep[] = [];
  let bytes = 0;
  for (const step of steps) {
    if (group.length > 0 && bytes + step.text.length > BATCH_BYTES) {
      out.push(group);
      group = [];
      bytes = 0;
    }
    group.push(step);
    bytes += step.text.length + 1;
  }
  if (group.length > 0) out.push(group);
  return out;
}

function expectEmpty(label: string, answer: string): void {
  if (answer.trim() !== '') throw refused(label, answer);
}

function parseLookUp(label: string, answer: string): MapLookup {
  if (/found=no/.test(answer)) return undefined;
  const found = /key="((?:[^"\\]|\\.)*)", value="((?:[^"\\]|\\.)*)"/.exec(answer);
  if (!found) throw refused(label, answer);
  return { key: found[1], value: found[2] };
}

/** The columns of `show servers state` that a NamedServerState holds. */
const STATE_COLUMNS = ['be_name', 'srv_name', 'srv_addr', 'srv_port', 'srv_fqdn'];

/**
 * The servers of a `show servers state` answer (lines of space-separated columns named by its
 * `# be_id ...` header); undefined without that header. A line with another number of columns
 * is not a server. One expression per answer matches a line and captures only the columns used:
 * a split of every line made 25 strings per server (6 MB per reconciliation round at 10,000 routes).
 */
export function parseServerStates(answer: string): NamedServerState[] | undefined {
  const lines = answer.split('\n');
  const header = lines.find((line) => line.startsWith('# be_id'));
  if (!header) return undefined;
  const names = header.slice(2).split(' ');
  const serverLine = new RegExp(`^${names.map((name) => (STATE_COLUMNS.includes(name) ? '([^ ]*)' : '[^ ]*')).join(' ')}$`);
  const captured = names.filter((name) => STATE_COLUMNS.includes(name));
  const column = (match: RegExpExecArray, name: string): string => {
    const group = captured.indexOf(name) + 1;
    return group === 0 ? '' : match[group];
  };
  const states: NamedServerState[] = [];
  for (const line of lines) {
    const match = line.startsWith('#') ? null : serverLine.exec(line.trim());
    if (!match) continue;
    const fqdn = column(match, 'srv_fqdn');
    states.push({
      backend: column(match, 'be_name'),
      server: column(match, 'srv_name'),
      address: column(match, 'srv_addr'),
      port: Number(column(match, 'srv_port')),
      fqdn: fqdn === '-' ? undefined : fqdn,
    });
  }
  return states;
}

function refused(label: string, answer: string): RuntimeRefused {
  const words = answer.trim().replace(/\s+/g, ' ').slice(0, 300) || 'no answer';
  return new RuntimeRefused(`runtime API: ${label}: ${words}`);
}
