import * as fs from 'fs';
import * as path from 'path';
import { RuntimeRefused } from '../src/errors';
import { RuntimeApi } from '../src/haproxy/runtime-api';
import { request } from './helpers/backends';
import { HTTP_DEFAULTS, RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { tempDir } from './helpers/tmp';

/**
 * Map commands sent together on one master CLI connection (RuntimeApi.mapBatch), against a real
 * HAProxy 2.6: they run in the order given, a lookup sees the commands before it, a refused command
 * is reported with HAProxy's words, and a batch longer than HAProxy's buffer still runs whole.
 */

let haproxy: RunningHaproxy;
let api: RuntimeApi;
let port: number;
let map: string;

beforeAll(async () => {
  const dir = tempDir('map-batch-');
  map = path.join(dir, 'paths.map');
  fs.writeFileSync(map, '/a be_a\n');
  port = await freePort();
  haproxy = await startHaproxy(
    [
      ...HTTP_DEFAULTS,
      'frontend http',
      `  bind 127.0.0.1:${port}`,
      `  use_backend %[path,map_beg(${map},be_none)]`,
      ...['be_a', 'be_b', 'be_none'].flatMap((name) => [`backend ${name}`, `  http-request return status 200 content-type text/plain string ${name}`]),
      '',
    ].join('\n'),
  );
  api = new RuntimeApi(haproxy.masterSocket);
});

afterAll(async () => {
  await haproxy?.stop();
});

const served = async (p: string): Promise<string> => (await request(`http://127.0.0.1:${port}${p}`)).body;

it('runs added, changed and removed entries and the lookups after them in order, on one batch', async () => {
  const found: Record<string, { key: string; value: string } | undefined> = {};
  const batch = api.mapBatch();
  batch.addMapEntries(map, '/b be_b\n/c be_a\n');
  batch.setMapEntry(map, '/c', 'be_b');
  batch.deleteMapEntry(map, '/a');
  batch.deleteMapEntry(map, '/never-there');
  for (const key of ['/a', '/b', '/c']) batch.lookUpMap(map, key, (entry) => (found[key] = entry));
  await batch.send();
  expect(found).toEqual({ '/a': undefined, '/b': { key: '/b', value: 'be_b' }, '/c': { key: '/c', value: 'be_b' } });
  expect([await served('/a/x'), await served('/b/x'), await served('/c/x')]).toEqual(['be_none', 'be_b', 'be_b']);
});

it('names the refused command with HAProxy words, and still reads the answers after it', async () => {
  const batch = api.mapBatch();
  batch.setMapEntry(map, '/not-a-key', 'be_a');
  batch.addMapEntries(map, '/d be_a\n');
  const failure = batch.send();
  await expect(failure).rejects.toThrow(RuntimeRefused);
  await expect(failure).rejects.toThrow(/set map .*\/not-a-key.*entry not found/i);
  expect(await served('/d/x')).toBe('be_a');
});

it('runs a batch longer than HAProxy buffer whole, in order', async () => {
  const keys = Array.from({ length: 600 }, (_, i) => `/many-${String(i).padStart(4, '0')}-${'x'.repeat(20)}`);
  const batch = api.mapBatch();
  for (const key of keys) batch.addMapEntries(map, `${key} be_a\n`);
  for (const key of keys) batch.setMapEntry(map, key, 'be_b');
  let last: { key: string; value: string } | undefined;
  batch.lookUpMap(map, keys[keys.length - 1], (entry) => (last = entry));
  await batch.send();
  expect(last).toEqual({ key: keys[keys.length - 1], value: 'be_b' });
  expect(await served(`${keys[0]}/x`)).toBe('be_b');
  expect((await api.showMap(map)).filter(([key]) => key.startsWith('/many-'))).toHaveLength(600);
});
