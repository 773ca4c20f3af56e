import * as fs from 'fs';
import * as path from 'path';
import { TemplateError } from '../src/errors';
import { DEFAULT_TEMPLATES_DIR } from '../src/settings';
import { Backend, request, startBackend } from './helpers/backends';
import { removeTempDirs, tempDir } from './helpers/tmp';
import { Harness, routeTo, shippedRender, snapshotOf, startHarness } from './fixtures/applier-harness';

/** Template edits go live through setRender; a broken template never takes the proxy down. */

let backend: Backend;
let harness: Harness;

beforeAll(async () => {
  backend = await startBackend('templated');
  harness = await startHarness();
  await harness.applier.applyNow(snapshotOf(1, [routeTo('templated', backend)]));
});

afterAll(async () => {
  await harness?.applier.stop();
  await backend?.close();
  removeTempDirs();
});

/** A copy of the shipped templates with one backend line added. */
function editedTemplates(line: string): string {
  const dir = tempDir('templates-');
  for (const name of fs.readdirSync(DEFAULT_TEMPLATES_DIR)) fs.copyFileSync(path.join(DEFAULT_TEMPLATES_DIR, name), path.join(dir, name));
  const backendFile = path.join(dir, 'backend.hbs');
  fs.writeFileSync(backendFile, fs.readFileSync(backendFile, 'utf8').replace('backend {{name}}\n', `backend {{name}}\n    ${line}\n`));
  return dir;
}

it('re-applies the current routes with new templates', async () => {
  const report = await harness.applier.setRender(shippedRender(harness.settings, editedTemplates('http-response set-header X-Template v2')));
  expect(report.outcome).toBe('success');
  const answer = await request(`${harness.base}/templated`);
  expect(answer.backend).toBe('templated');
  expect(answer.headers['x-template']).toBe('v2');
});

it('keeps the last good config when the render throws', async () => {
  const before = harness.applier.state().config;
  const report = await harness.applier.setRender(() => {
    throw new TemplateError('template backend.hbs: Parse error');
  });
  expect(report.outcome).toBe('failed');
  expect(report.error).toMatch(/Parse error/);
  expect(harness.applier.state().config).toBe(before);
  expect((await request(`${harness.base}/templated`)).headers['x-template']).toBe('v2');
});

it('keeps the last good config when the templates render something HAProxy rejects', async () => {
  const before = fs.readFileSync(harness.settings.haproxyConfig, 'utf8');
  const report = await harness.applier.setRender(shippedRender(harness.settings, editedTemplates('http-response no-such-action')));
  expect(report.outcome).toBe('rejected');
  expect(fs.readFileSync(harness.settings.haproxyConfig, 'utf8')).toBe(before);
  expect((await request(`${harness.base}/templated`)).headers['x-template']).toBe('v2');
});

it('keeps the last good config when the templates break every route, instead of serving none', async () => {
  await harness.applier.setRender(shippedRender(harness.settings));
  expect((await harness.applier.applyNow(snapshotOf(2, [routeTo('templated', backend), routeTo('second', backend)]))).outcome).toBe('success');
  const before = fs.readFileSync(harness.settings.haproxyConfig, 'utf8');
  const report = await harness.applier.setRender(shippedRender(harness.settings, editedTemplates('http-response no-such-action')));
  expect(report.outcome).toBe('rejected');
  expect(harness.applier.state().routes).toHaveLength(2);
  expect(fs.readFileSync(harness.settings.haproxyConfig, 'utf8')).toBe(before);
  expect((await request(`${harness.base}/second`)).backend).toBe('templated');
});
