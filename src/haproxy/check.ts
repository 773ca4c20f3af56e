import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigRejected, HaproxyError } from '../errors';
import { CheckRun, CheckShell, ShellUnavailable } from './check-shell';

/** Long enough for a config of thousands of routes on a busy machine; a hung check is a bug. */
const CHECK_TIMEOUT_MS = 30000;
/** HAProxy lists every keyword it knows after an unknown one: keep the line, not the essay. */
const MAX_LINE_CHARS = 300;

/**
 * HAProxy's output reduced to what explains a rejection: the ALERT lines without their
 * `[ALERT] (pid) :` prefix, minus the closing summary that says nothing new.
 */
export function usefulAlerts(output: string): string {
  const alerts = output
    .split('\n')
    .filter((line) => line.includes('[ALERT]'))
    .map((line) => line.replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, '').trim())
    // HAProxy 2.6 closes with two such lines: "Error(s) found in configuration file : <path>", then
    // "Fatal errors found in configuration."
    .filter((line) => !/^config : (Error\(s\) found in configuration file|Fatal errors found in configuration)/.test(line))
    .map((line) => (line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}...` : line));
  return alerts.length > 0 ? alerts.join('\n') : output.trim();
}

/**
 * Run `haproxy -c -f path` with only stderr piped. HAProxy writes every NOTICE, WARNING and
 * ALERT to stderr and only "Configuration file is valid" to stdout, so stdout is not read.
 * child_process directly, not execa: execa's pipes for stdout, stderr and their merge cost about
 * 14 ms of the sidecar's CPU per check against about 8 ms for one pipe (measured in a 76 MiB Node
 * process; every KV edit that changes the config runs one check), and nothing else of it is used.
 */
function spawnCheck(bin: string, configPath: string): Promise<CheckRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-c', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), CHECK_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'close', not 'exit': stderr is read to its end.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/** The check shell of each HAProxy binary (one, but for a test's missing binary). */
const shells = new Map<string, CheckShell>();

/**
 * Through the check shell (check-shell.ts: no fork of the sidecar per check) when it is free,
 * else directly: a second check at once, or a shell that cannot run `bin`. A shell that ended
 * (killed at a deadline) is replaced.
 */
async function runCheck(bin: string, configPath: string): Promise<CheckRun> {
  let shell = shells.get(bin);
  if (!shell?.usable) {
    if (shell && !shell.worked) return spawnCheck(bin, configPath);
    shell = new CheckShell(bin);
    shells.set(bin, shell);
  }
  if (!shell.idle) return spawnCheck(bin, configPath);
  try {
    return await shell.check(configPath, CHECK_TIMEOUT_MS);
  } catch (error) {
    if (!(error instanceof ShellUnavailable)) throw error;
    return spawnCheck(bin, configPath);
  }
}

/** `haproxy -c -f path`: resolves when HAProxy accepts the file, throws ConfigRejected otherwise. */
export async function checkConfig(bin: string, configPath: string): Promise<void> {
  let result: CheckRun;
  try {
    result = await runCheck(bin, configPath);
  } catch (error) {
    throw new HaproxyError(`cannot run ${bin} -c: ${(error as Error).message}`);
  }
  if (result.code === 0) return;
  if (result.code === null) {
    throw new HaproxyError(`cannot run ${bin} -c -f ${configPath}: ended by ${result.signal ?? 'a signal'}: ${result.stderr.trim() || 'no output'}`);
  }
  throw new ConfigRejected('HAProxy rejected the configuration', usefulAlerts(result.stderr));
}

/** HAProxy names a line as `[file:N]`: the rejection keeps those lines of `config`. */
function withLines(error: ConfigRejected, config: string): ConfigRejected {
  const all = config.split('\n');
  const numbers = [...error.detail.matchAll(/\.cfg:(\d+)\]/g)].map((match) => Number(match[1]));
  const lines = numbers.map((n) => all[n - 1]).filter((line): line is string => line !== undefined);
  return new ConfigRejected('HAProxy rejected the configuration', error.detail, lines);
}

/**
 * The one config checker of the applier, the API's write path and the CLI: `haproxy -c` on a
 * config text. With `file`, the text is written there and left for the caller (the applier renames
 * a checked candidate onto the live path); without, it goes to a temporary directory removed after.
 */
export async function checkConfigText(bin: string, config: string, file?: string): Promise<void> {
  if (file !== undefined) {
    await fs.promises.writeFile(file, config);
    return checkConfig(bin, file);
  }
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'haproxy-sidecar-check-'));
  try {
    const temp = path.join(dir, 'haproxy.cfg');
    await fs.promises.writeFile(temp, config);
    await checkConfig(bin, temp).catch((error: unknown) => {
      throw error instanceof ConfigRejected ? withLines(error, config) : error;
    });
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
