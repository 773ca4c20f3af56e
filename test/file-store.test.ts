import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { StoreUnavailable } from '../src/errors';
import { FileStore, JOURNAL_FILE, ROUTES_FILE } from '../src/store/file-store';
import { DedupedStore } from '../src/store/dedup';
import type { RouteStore, StoreSnapshot } from '../src/store/route-store';
import { waitFor } from './helpers/ports';
import { removeTempDirs, tempDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '..');

/** The file store compiled to plain JavaScript, so a second Node process can run it like the CLI does. */
function compileFileStore(): string {
  const out = tempDir('file-store-js-');
  for (const file of [
    'src/store/file-store.ts',
    'src/store/file-lock.ts',
    'src/store/stored-json.ts',
    'src/store/route-codec.ts',
    'src/store/acme-codec.ts',
    'src/store/route-journal.ts',
    'src/route/values.ts',
    'src/route/record.ts',
    'src/files/atomic-write.ts',
    'src/files/same-bytes.ts',
    'src/files/backoff.ts',
    'src/files/process-alive.ts',
    'src/errors.ts',
  ]) {
    const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const target = path.join(out, file.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
  }
  return path.join(out, 'src/store/file-store.js');
}

/**
 * Run `count` puts of routes `<prefix>-<i>` from another Node process; resolves when it exits cleanly.
 * `crash`: the process kills itself (SIGKILL) right after its last put is acknowledged, before any
 * close or compaction; resolves with the indexes it was acknowledged.
 */
function putFromAnotherProcess(moduleFile: string, dir: string, prefix: string, count: number, crash = false): Promise<number[]> {
  const script = `
    const { FileStore } = require(${JSON.stringify(moduleFile)});
    const store = new FileStore({ dir: ${JSON.stringify(dir)} });
    (async () => {
      for (let i = 0; i < ${count}; i++) {
        const index = await store.put({ serviceName: '${prefix}-' + i, servicePath: '/' + i, port: '80' });
        process.stdout.write(index + '\\n');
      }
      if (${crash}) process.kill(process.pid, 'SIGKILL');
      await store.close();
    })().catch((error) => { console.error(error); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const acknowledged = stdout.split('\n').filter(Boolean).map(Number);
      if (code === 0 || (crash && signal === 'SIGKILL')) resolve(acknowledged);
      else reject(new Error(`writer process exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

function routeNames(snapshot: StoreSnapshot): string[] {
  return snapshot.entries.map((entry) => entry.serviceName);
}

// The exit hook of helpers/tmp does not run in every Jest worker: clean up here.
afterAll(removeTempDirs);

describe('FileStore', () => {
  const stores: RouteStore[] = [];
  // As createStore gives it: behind the de-duplicating wrapper.
  const open = (dir: string, pollIntervalMs?: number): RouteStore => {
    const store = new DedupedStore(new FileStore({ dir, pollIntervalMs }));
    stores.push(store);
    return store;
  };
  /** `store` watched from its first snapshot on: every snapshot it hands the watcher, in order. */
  const watched = async (store: RouteStore): Promise<{ seen: StoreSnapshot[]; watch: ReturnType<RouteStore['watch']> }> => {
    const seen: StoreSnapshot[] = [];
    const watch = store.watch((snapshot) => seen.push(snapshot));
    await waitFor('the first snapshot', async () => seen.length === 1);
    return { seen, watch };
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it('starts empty at index 0 when there is no file', async () => {
    const store = open(tempDir());
    expect(await store.list()).toEqual({ index: 0, entries: [] });
  });

  it('stores whole routes, raises the index on every change and keeps it when nothing changes', async () => {
    const store = open(tempDir());
    const first = await store.put({ serviceName: 'go-demo', servicePath: '/demo', port: '8080' });
    const second = await store.put({ serviceName: 'other', servicePath: '/other', port: '80' });
    expect(second).toBeGreaterThan(first);
    expect(await store.put({ serviceName: 'go-demo', servicePath: '/demo', port: '8080' })).toBe(second);
    const removed = await store.remove('other');
    expect(removed).toBeGreaterThan(second);
    expect(await store.remove('other')).toBe(removed);
    expect(await store.list()).toEqual({
      index: removed,
      entries: [{ serviceName: 'go-demo', params: { serviceName: 'go-demo', servicePath: '/demo', port: '8080' } }],
    });
  });

  it('refuses a serviceName that is not letters, digits, "_", "." or "-"', async () => {
    const store = open(tempDir());
    await expect(store.put({ serviceName: '../x', port: '80' })).rejects.toThrow(/serviceName/);
    await expect(store.put({ port: '80' })).rejects.toThrow(/serviceName/);
  });

  it('survives a restart with every route and a monotonic index', async () => {
    const dir = tempDir();
    const before = open(dir);
    await before.put({ serviceName: 'a', port: '1' });
    const index = await before.put({ serviceName: 'b', port: '2' });
    await before.close();
    const after = open(dir);
    expect(routeNames(await after.list())).toEqual(['a', 'b']);
    expect((await after.list()).index).toBe(index);
    expect(await after.put({ serviceName: 'c', port: '3' })).toBe(index + 1);
  });

  it('writes atomically: the file is always whole JSON and no temp file is left', async () => {
    const dir = tempDir();
    const store = open(dir);
    const file = path.join(dir, ROUTES_FILE);
    let reads = 0;
    const writes = Promise.all(Array.from({ length: 100 }, (_, i) => store.put({ serviceName: `r${i}`, port: String(i) })));
    let done = false;
    void writes.then(() => (done = true));
    while (!done) {
      if (fs.existsSync(file)) {
        expect(() => JSON.parse(fs.readFileSync(file, 'utf8'))).not.toThrow();
        reads++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(reads).toBeGreaterThan(0);
    // The journal beside it (route-journal.ts), and no temp file.
    expect(fs.readdirSync(dir).filter((name) => name !== JOURNAL_FILE)).toEqual([ROUTES_FILE]);
  });

  it('gives a watcher the first snapshot, then each real change once, and every index', async () => {
    const store = open(tempDir());
    await store.put({ serviceName: 'a', port: '1' });
    const seen: StoreSnapshot[] = [];
    const indexes: number[] = [];
    const watch = store.watch(
      (snapshot) => seen.push(snapshot),
      undefined,
      (index) => indexes.push(index),
    );
    await waitFor('the first snapshot', async () => seen.length === 1);
    await store.put({ serviceName: 'b', port: '2' });
    await store.put({ serviceName: 'b', port: '2' });
    const last = await store.remove('a');
    await waitFor('the remove', async () => seen.at(-1)?.index === last);
    await new Promise((resolve) => setTimeout(resolve, 700));
    watch.stop();
    expect(seen.map(routeNames)).toEqual([['a'], ['a', 'b'], ['b']]);
    expect(indexes).toEqual([1, 2, 3]);
  });

  it('hands a watcher the same entry objects for the routes a write left alone, and a new one for the route it changed', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.put({ serviceName: 'a', port: '1' });
    await store.put({ serviceName: 'b', port: '2' });
    const { seen, watch } = await watched(store);
    const index = await store.put({ serviceName: 'b', port: '3' });
    await waitFor('the change', async () => seen.at(-1)?.index === index);
    watch.stop();
    const [before, after] = [seen[0], seen.at(-1) as StoreSnapshot];
    expect(after.entries[0]).toBe(before.entries[0]);
    expect(after.entries[1]).not.toBe(before.entries[1]);
    expect(after.entries[1].params).toEqual({ serviceName: 'b', port: '3' });
    // What the watcher was handed is what the files say (routes.json and its journal), read afresh.
    const read = await new FileStore({ dir }).list();
    expect(read).toEqual({ index, entries: [after.entries[0], { serviceName: 'b', params: { serviceName: 'b', port: '3' } }] });
  });

  it('sees a hand edit made right after its own write, though it remembers what it wrote', async () => {
    const dir = tempDir();
    const file = path.join(dir, ROUTES_FILE);
    const store = open(dir, 50);
    const { seen, watch } = await watched(store);
    const index = await store.put({ serviceName: 'a', port: '1' });
    await waitFor('the write', async () => seen.at(-1)?.index === index);
    // The same length, so only the bytes tell the edit apart from the write.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"1"', '"2"'));
    await waitFor('the hand edit', async () => seen.at(-1)?.entries[0]?.params?.port === '2');
    watch.stop();
    expect((await store.list()).entries).toEqual([{ serviceName: 'a', params: { serviceName: 'a', port: '2' } }]);
  });

  it('sees a hand edit of the same length at the end of a file of several hundred kilobytes, after its own write', async () => {
    const dir = tempDir();
    const file = path.join(dir, ROUTES_FILE);
    const routes = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`r${i}`, { serviceName: `r${i}`, servicePath: `/${i}`, port: '1' }]));
    fs.writeFileSync(file, JSON.stringify({ index: 1, routes }, null, 2));
    const store = open(dir, 50);
    const { seen, watch } = await watched(store);
    const index = await store.put({ serviceName: 'r7999', servicePath: '/7999', port: '2' });
    await waitFor('the write', async () => seen.at(-1)?.index === index);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.length).toBeGreaterThan(2 * 256 * 1024);
    // One byte near the end, the length unchanged: only the file's last bytes tell it from the write.
    const at = text.lastIndexOf('"port": "2"');
    fs.writeFileSync(file, `${text.slice(0, at)}"port": "3"${text.slice(at + '"port": "2"'.length)}`);
    await waitFor('the hand edit', async () => seen.at(-1)?.entries.find((entry) => entry.serviceName === 'r7999')?.params?.port === '3');
    watch.stop();
    expect(seen.at(-1)?.index).toBe(index);
  });

  it('sees the file put back by hand as it was before its own write, and writes on from it', async () => {
    const dir = tempDir();
    const file = path.join(dir, ROUTES_FILE);
    const original = JSON.stringify({ index: 5, routes: { a: { serviceName: 'a', port: '1' } } });
    fs.writeFileSync(file, original);
    const store = open(dir, 50);
    const { seen, watch } = await watched(store);
    const index = await store.put({ serviceName: 'b', port: '2' });
    await waitFor('the write', async () => seen.at(-1)?.index === index);
    fs.writeFileSync(file, original);
    await waitFor('the file as it was', async () => seen.at(-1)?.index === 5);
    watch.stop();
    expect(seen.at(-1)?.entries).toEqual([{ serviceName: 'a', params: { serviceName: 'a', port: '1' } }]);
    expect(await store.put({ serviceName: 'c', port: '3' })).toBe(6);
    expect((await store.list()).entries.map((entry) => entry.serviceName)).toEqual(['a', 'c']);
  });

  it('reports an invalid hand-edited route and keeps the others', async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, ROUTES_FILE),
      JSON.stringify({ index: 7, routes: { good: { serviceName: 'good', port: '80' }, bad: { port: 80 }, worse: 'text' } }),
    );
    const store = open(dir);
    const snapshot = await store.list();
    expect(snapshot.index).toBe(7);
    expect(snapshot.entries).toEqual([
      { serviceName: 'bad', params: null, error: 'parameter "port" is not a string' },
      { serviceName: 'good', params: { serviceName: 'good', port: '80' } },
      { serviceName: 'worse', params: null, error: 'the value is not a JSON object' },
    ]);
    expect(await store.put({ serviceName: 'new', port: '1' })).toBe(8);
  });

  it('refuses to overwrite a corrupt file, tells the watcher, and recovers once the file is fixed', async () => {
    const dir = tempDir();
    const file = path.join(dir, ROUTES_FILE);
    fs.writeFileSync(file, '{"index": 3, "routes": {');
    const store = open(dir, 50);
    const errors: Error[] = [];
    const seen: StoreSnapshot[] = [];
    const watch = store.watch(
      (snapshot) => seen.push(snapshot),
      (error) => errors.push(error),
    );
    await expect(store.put({ serviceName: 'a', port: '1' })).rejects.toThrow(StoreUnavailable);
    await expect(store.list()).rejects.toThrow(/not valid JSON/);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"index": 3, "routes": {');
    await waitFor('the watcher to hear of the corrupt file', async () => errors.length > 0);
    expect(store.health().reachable).toBe(false);
    fs.writeFileSync(file, JSON.stringify({ index: 3, routes: { a: { serviceName: 'a', port: '1' } } }));
    await waitFor('the fixed file', async () => seen.length === 1);
    watch.stop();
    expect(routeNames(seen[0])).toEqual(['a']);
    expect(store.health().reachable).toBe(true);
  });

  it('shows a watcher the write of another process within a second', async () => {
    const dir = tempDir();
    const store = open(dir);
    const { seen, watch } = await watched(store);
    const moduleFile = compileFileStore();
    await putFromAnotherProcess(moduleFile, dir, 'cli', 1);
    const written = Date.now();
    await waitFor('the other process write', async () => seen.at(-1)?.entries.length === 1, 1000, 10);
    expect(Date.now() - written).toBeLessThan(1000);
    watch.stop();
    expect(routeNames(seen.at(-1) as StoreSnapshot)).toEqual(['cli-0']);
  });

  it('loses no write when two processes write at the same time', async () => {
    const dir = tempDir();
    const store = open(dir);
    const moduleFile = compileFileStore();
    const other = putFromAnotherProcess(moduleFile, dir, 'other', 60);
    const ours = Promise.all(Array.from({ length: 60 }, (_, i) => store.put({ serviceName: `ours-${i}`, port: '80' })));
    await Promise.all([other, ours]);
    const snapshot = await store.list();
    expect(snapshot.entries).toHaveLength(120);
    expect(snapshot.index).toBe(120);
  });

  it('keeps every acknowledged write of 200 writers on distinct routes and 50 on one route', async () => {
    const store = open(tempDir());
    const distinct = Array.from({ length: 200 }, (_, i) => store.put({ serviceName: `route-${i}`, port: String(1000 + i) }));
    const same = Array.from({ length: 50 }, (_, i) =>
      store.put({ serviceName: 'shared', port: String(2000 + i) }).then((index) => ({ index, port: String(2000 + i) })),
    );
    await Promise.all(distinct);
    const acknowledged = await Promise.all(same);
    const last = acknowledged.reduce((a, b) => (b.index > a.index ? b : a));
    const snapshot = await store.list();
    expect(snapshot.entries).toHaveLength(201);
    for (let i = 0; i < 200; i++) expect(snapshot.entries.find((e) => e.serviceName === `route-${i}`)?.params?.port).toBe(String(1000 + i));
    expect(snapshot.entries.find((e) => e.serviceName === 'shared')?.params?.port).toBe(last.port);
  });

  it('writes a burst of concurrent changes in a few commits, each change with its own index', async () => {
    const dir = tempDir();
    const store = open(dir);
    const renames: string[] = [];
    const watcher = fs.watch(dir, (_event, name) => name === ROUTES_FILE && renames.push(name));
    const indexes = await Promise.all(Array.from({ length: 300 }, (_, i) => store.put({ serviceName: `burst-${i}`, port: '80' })));
    watcher.close();
    expect(new Set(indexes).size).toBe(300);
    expect(Math.max(...indexes)).toBe(300);
    expect((await store.list()).entries).toHaveLength(300);
    expect(renames.length).toBeLessThan(30);
  });

  describe('the journal (routes.json.journal)', () => {
    const journalOf = (dir: string): string => fs.readFileSync(path.join(dir, JOURNAL_FILE), 'utf8');
    const fileIndex = (dir: string): number => (JSON.parse(fs.readFileSync(path.join(dir, ROUTES_FILE), 'utf8')) as { index: number }).index;

    it('keeps every acknowledged write of a process killed before it folded its journal into routes.json', async () => {
      const dir = tempDir();
      const acknowledged = await putFromAnotherProcess(compileFileStore(), dir, 'killed', 20, true);
      expect(acknowledged).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // The first write of a process rewrites routes.json; the others went to the journal only.
      expect(fileIndex(dir)).toBe(1);
      expect(journalOf(dir).split('\n').filter(Boolean)).toHaveLength(19);
      const snapshot = await open(dir).list();
      expect(snapshot.index).toBe(20);
      expect(routeNames(snapshot)).toHaveLength(20);
    });

    it('ignores a torn last line (never acknowledged), and the next append cuts it off first', async () => {
      const dir = tempDir();
      const store = open(dir);
      await store.put({ serviceName: 'a', port: '1' });
      await store.put({ serviceName: 'b', port: '2' });
      fs.appendFileSync(path.join(dir, JOURNAL_FILE), '{"index":3,"routes":{"torn":{"serviceName":"to');
      expect(routeNames(await new FileStore({ dir }).list())).toEqual(['a', 'b']);
      expect(await store.put({ serviceName: 'c', port: '3' })).toBe(3);
      const lines = journalOf(dir).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((line) => (JSON.parse(line) as { index: number }).index)).toEqual([2, 3]);
      expect(routeNames(await new FileStore({ dir }).list())).toEqual(['a', 'b', 'c']);
    });

    it('keeps the journal on top of a routes.json replaced by hand from an older copy, with the higher index', async () => {
      const dir = tempDir();
      await putFromAnotherProcess(compileFileStore(), dir, 'r', 3, true);
      // routes.json holds r-0 (index 1); the journal r-1 and r-2. A hand edit of routes.json as read.
      const handEdited = { index: 2, routes: { 'r-0': { serviceName: 'r-0', port: '9' }, hand: { serviceName: 'hand', port: '8' } } };
      fs.writeFileSync(path.join(dir, ROUTES_FILE), JSON.stringify(handEdited));
      const snapshot = await open(dir).list();
      expect(snapshot.index).toBe(3);
      expect(routeNames(snapshot)).toEqual(['hand', 'r-0', 'r-1', 'r-2']);
      expect(snapshot.entries.find((entry) => entry.serviceName === 'r-0')?.params).toEqual({ serviceName: 'r-0', port: '9' });
    });

    it('folds the journal into routes.json once writes stop, and a removed route stays removed', async () => {
      const dir = tempDir();
      const store = open(dir);
      await store.put({ serviceName: 'a', port: '1' });
      await store.put({ serviceName: 'b', port: '2' });
      const last = await store.remove('a');
      expect(fileIndex(dir)).toBe(1);
      await waitFor('the fold', async () => fileIndex(dir) === last, 5000, 50);
      expect(journalOf(dir)).toBe('');
      const read = JSON.parse(fs.readFileSync(path.join(dir, ROUTES_FILE), 'utf8')) as { routes: unknown };
      expect(read.routes).toEqual({ b: { serviceName: 'b', port: '2' } });
      expect(await new FileStore({ dir }).list()).toEqual({ index: last, entries: [{ serviceName: 'b', params: { serviceName: 'b', port: '2' } }] });
    });
  });
});
