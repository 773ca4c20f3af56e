import * as fs from 'fs';
import * as path from 'path';
import { Backend, startBackend } from './helpers/backends';
import { sleep, waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { tempDir } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';
const SOURCE = path.join(__dirname, '..', 'templates');

describe('a running sidecar and its TEMPLATES_DIR', () => {
  let templates: string;
  let backend: Backend;
  let sidecar: RunningSidecar;
  const frontend = () => path.join(templates, 'frontend-http.hbs');

  beforeAll(async () => {
    templates = tempDir('templates-');
    for (const file of fs.readdirSync(SOURCE)) fs.copyFileSync(path.join(SOURCE, file), path.join(templates, file));
    backend = await startBackend('demo');
    sidecar = await startSidecar({ env: { TEMPLATES_DIR: templates } });
    const answer = await sidecar.call(`${BASE}/reconfigure?serviceName=demo&servicePath=/demo&port=${backend.port}&outboundHostname=127.0.0.1`);
    expect(answer.status).toBe(200);
  });

  afterAll(async () => {
    await sidecar?.stop();
    await backend?.close();
  });

  it('applies a template edit live', async () => {
    const source = fs.readFileSync(frontend(), 'utf8');
    expect(source).toContain('    mode http\n');
    fs.writeFileSync(frontend(), source.replace('    mode http\n', '    mode http\n    http-response set-header X-Template v2\n'));
    await waitFor('the edited template to be live', async () => (await sidecar.through('/demo/x')).headers['x-template'] === 'v2', 10000, 50);
    // HAProxy serves a new config a moment before the reload is confirmed and published.
    await waitFor('the edited config to be published', async () => (await sidecar.call(`${BASE}/config`)).body.includes('X-Template v2'), 5000, 50);
  });

  it('keeps the last good config when a template breaks, and tells the logs', async () => {
    const before = (await sidecar.call(`${BASE}/config`)).body;
    fs.writeFileSync(frontend(), '{{#each}} broken');
    await waitFor('the sidecar to report the broken template', async () => /templates are broken/.test(sidecar.logs()), 10000, 50);
    await sleep(200);
    expect((await sidecar.call(`${BASE}/config`)).body).toBe(before);
    const through = await sidecar.through('/demo/x');
    expect(through.backend).toBe('demo');
    expect(through.headers['x-template']).toBe('v2');
  });

  it('never writes route passwords to its logs', async () => {
    const answer = await sidecar.call(
      `${BASE}/reconfigure?serviceName=private&servicePath=/private&port=${backend.port}&outboundHostname=127.0.0.1&users=admin:hunter2`,
    );
    expect(answer.status).toBe(200);
    expect(sidecar.logs()).not.toContain('hunter2');
  });
});
