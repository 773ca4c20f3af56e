import * as fs from 'fs';
import * as path from 'path';
import { ConfigRejected, HaproxyError } from '../src/errors';
import { checkConfig, usefulAlerts } from '../src/haproxy/check';
import { CHECK_SHELL_NAME } from '../src/haproxy/check-shell';
import { parseShowProc } from '../src/haproxy/master-cli';
import { HAPROXY_BIN } from './helpers/haproxy';
import { removeTempDirs, tempDir } from './helpers/tmp';

afterAll(removeTempDirs);

const GOOD = [
  'defaults',
  '  mode http',
  '  timeout connect 1s',
  '  timeout client 1s',
  '  timeout server 1s',
  'frontend f',
  '  bind 127.0.0.1:1',
  '  default_backend b',
  'backend b',
  '  server s 127.0.0.1:2',
  '',
].join('\n');

function write(text: string): string {
  const file = path.join(tempDir('check-'), 'haproxy.cfg');
  fs.writeFileSync(file, text);
  return file;
}

describe('checkConfig', () => {
  it('accepts a config HAProxy accepts', async () => {
    await expect(checkConfig(HAPROXY_BIN, write(GOOD))).resolves.toBeUndefined();
  });

  it('accepts a config HAProxy accepts with warnings on its stderr', async () => {
    // HAProxy 2.6: "'option httplog' directive is ignored in backends", a WARNING, exit 0.
    const warned = `${GOOD}backend unused\n  option httplog\n`;
    await expect(checkConfig(HAPROXY_BIN, write(warned))).resolves.toBeUndefined();
  });

  it("rejects with HAProxy's ALERT lines, not its whole output", async () => {
    const error = await checkConfig(HAPROXY_BIN, write(`${GOOD}  http-request bogus\n`)).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ConfigRejected);
    const detail = (error as ConfigRejected).detail;
    expect(detail).toMatch(/haproxy\.cfg:11\].*'http-request' expects/);
    expect(detail).not.toMatch(/\[ALERT\]|Error\(s\) found|Fatal errors found/);
    expect(detail.length).toBeLessThan(400);
  });

  it('says so when HAProxy cannot be run at all', async () => {
    const error = await checkConfig('/nonexistent/haproxy', write(GOOD)).catch((e: Error) => e);
    expect(error).toBeInstanceOf(HaproxyError);
    expect((error as Error).message).toMatch(/cannot run \/nonexistent\/haproxy -c: .*ENOENT/);
  });
});

/** The check shells this process runs (children whose command line names them). */
function checkShells(): number[] {
  const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  return children.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(CHECK_SHELL_NAME);
    } catch {
      return false;
    }
  });
}

/** Shells of the test files this Jest worker ran before (each file loads its own check module): not this file's. */
const earlierShells = new Set(checkShells());

/** The check shells this file's check module started and that still run. */
const ourShells = () => checkShells().filter((pid) => !earlierShells.has(pid));

describe('checkConfig through the check shell', () => {
  const bad = () => write(`${GOOD}  http-request bogus\n`);

  it("gives each of checks made one after another and at once HAProxy's own verdict", async () => {
    for (let i = 0; i < 3; i++) {
      await expect(checkConfig(HAPROXY_BIN, write(GOOD))).resolves.toBeUndefined();
      await expect(checkConfig(HAPROXY_BIN, bad())).rejects.toThrow(ConfigRejected);
    }
    const together = await Promise.allSettled([checkConfig(HAPROXY_BIN, bad()), checkConfig(HAPROXY_BIN, write(GOOD)), checkConfig(HAPROXY_BIN, bad())]);
    expect(together.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
    for (const result of together) if (result.status === 'rejected') expect((result.reason as ConfigRejected).detail).toMatch(/'http-request' expects/);
    expect(ourShells()).toHaveLength(1);
  });

  it('still checks when the shell was killed, and starts another', async () => {
    await checkConfig(HAPROXY_BIN, write(GOOD));
    const [shell] = ourShells();
    process.kill(shell, 'SIGKILL');
    await expect(checkConfig(HAPROXY_BIN, bad())).rejects.toThrow(ConfigRejected);
    await expect(checkConfig(HAPROXY_BIN, write(GOOD))).resolves.toBeUndefined();
    const now = ourShells();
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(shell);
  });

  it('takes a config path with spaces', async () => {
    const file = path.join(tempDir('check- spaced -'), 'my haproxy.cfg');
    fs.writeFileSync(file, `${GOOD}  http-request bogus\n`);
    const error = await checkConfig(HAPROXY_BIN, file).catch((e: Error) => e);
    expect((error as ConfigRejected).detail).toMatch(/my haproxy\.cfg:11\]/);
  });
});

describe('usefulAlerts', () => {
  it('keeps the output when there is no ALERT line', () => {
    expect(usefulAlerts('  something odd\n')).toBe('something odd');
  });
});

describe('parseShowProc', () => {
  const text = [
    '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
    '24716           master          2 [failed: 1]   0d00h00m01s     2.6.12-1+deb12u4',
    '# workers',
    '24722           worker          0               0d00h00m01s     2.6.12-1+deb12u4',
    '24718           worker          1               0d00h00m05s     2.6.12-1+deb12u4',
    '# programs',
    '',
  ].join('\n');

  it('reads the master pid, reload and failure counts, and every worker', () => {
    expect(parseShowProc(text)).toEqual({ masterPid: 24716, reloads: 2, failed: 1, workers: [24722, 24718] });
  });

  it('refuses an answer without a master line', () => {
    expect(() => parseShowProc('Unknown command\n')).toThrow(HaproxyError);
  });
});
