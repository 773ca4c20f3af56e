import * as fs from 'fs';
import { RouteMapFiles } from '../src/applier/route-map-files';
import { MapFile, mapText, routeMapFiles, sameMaps } from '../src/render/route-maps';
import { removeTempDirs, tempDir } from './helpers/tmp';

afterAll(removeTempDirs);

function mapsOf(stateDir: string, prefix: Record<string, string>): MapFile[] {
  const files = routeMapFiles(stateDir);
  return [
    { file: files.exact, entries: new Map() },
    { file: files.prefix, entries: new Map(Object.entries(prefix)) },
    { file: files.wildcards, entries: new Map() },
  ];
}

const inode = (file: string): number => fs.statSync(file).ino;

describe('RouteMapFiles.write: only the files whose text changed', () => {
  it('rewrites the changed map only, and none when nothing changed since the last write or the start', async () => {
    const stateDir = tempDir();
    const files = new RouteMapFiles(stateDir);
    const { exact, prefix } = routeMapFiles(stateDir);
    fs.mkdirSync(stateDir, { recursive: true });
    fs.writeFileSync(prefix, '/a one-be1\n');
    await files.prepare(`use_backend %[path,map_beg(${prefix})]`);
    const [exactInode, prefixInode] = [inode(exact), inode(prefix)];
    await files.write(mapsOf(stateDir, { '/a': 'one-be1' }));
    expect([inode(exact), inode(prefix)]).toEqual([exactInode, prefixInode]);
    await files.write(mapsOf(stateDir, { '/a': 'one-be1', '/b': 'two-be2' }));
    expect(inode(exact)).toBe(exactInode);
    expect(fs.readFileSync(prefix, 'utf8')).toBe('/a one-be1\n/b two-be2\n');
    const written = inode(prefix);
    await files.write(mapsOf(stateDir, { '/a': 'one-be1', '/b': 'two-be2' }));
    expect(inode(prefix)).toBe(written);
  });

  it('rewrites a map file whose text differs from what it would write, though it holds the same entries', async () => {
    const stateDir = tempDir();
    const files = new RouteMapFiles(stateDir);
    const { prefix } = routeMapFiles(stateDir);
    fs.mkdirSync(stateDir, { recursive: true });
    fs.writeFileSync(prefix, '# by hand\n/a   one-be1\n');
    await files.prepare(`use_backend %[path,map_beg(${prefix})]`);
    await files.write(mapsOf(stateDir, { '/a': 'one-be1' }));
    expect(fs.readFileSync(prefix, 'utf8')).toBe('/a one-be1\n');
  });

  it('writes a map file removed since its last write, when a failed write left nothing to compare with', async () => {
    const stateDir = tempDir();
    const files = new RouteMapFiles(stateDir);
    const { prefix } = routeMapFiles(stateDir);
    await files.prepare(`use_backend %[path,map_beg(${prefix})]`);
    fs.rmSync(prefix);
    fs.mkdirSync(prefix);
    await expect(files.write(mapsOf(stateDir, { '/a': 'one-be1' }))).rejects.toThrow();
    fs.rmdirSync(prefix);
    await files.write(mapsOf(stateDir, {}));
    expect(fs.readFileSync(prefix, 'utf8')).toBe('');
  });

  it('compares maps by entries and their order, as their text does', () => {
    const stateDir = tempDir();
    const a = mapsOf(stateDir, { '/a': 'x', '/b': 'y' });
    expect(sameMaps(a, mapsOf(stateDir, { '/a': 'x', '/b': 'y' }))).toBe(true);
    expect(sameMaps(a, mapsOf(stateDir, { '/b': 'y', '/a': 'x' }))).toBe(false);
    expect(sameMaps(a, mapsOf(stateDir, { '/a': 'x', '/b': 'z' }))).toBe(false);
    expect(sameMaps(a, mapsOf(stateDir, { '/a': 'x' }))).toBe(false);
    expect(mapText(a[1].entries)).toBe('/a x\n/b y\n');
  });
});
