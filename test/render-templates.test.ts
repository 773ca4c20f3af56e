import * as fs from 'fs';
import * as path from 'path';
import { TemplateError } from '../src/errors';
import { loadTemplates, Templates, watchTemplates } from '../src/render';
import { parseRoute } from '../src/route';
import { DEFAULT_TEMPLATES_DIR, loadSettings } from '../src/settings';
import { checkConfig } from './helpers/haproxy';
import { waitFor } from './helpers/ports';
import { aclTemplates, loopbackSettings, shippedTemplates, writeMaps } from './helpers/render';
import { tempDir } from './helpers/tmp';

/** Loading, naming, ordering and conflicts: what the config text says, checked with haproxy -c. */

function copyTemplates(): string {
  const dir = tempDir('templates-');
  for (const file of fs.readdirSync(DEFAULT_TEMPLATES_DIR)) fs.copyFileSync(path.join(DEFAULT_TEMPLATES_DIR, file), path.join(dir, file));
  return dir;
}

function loadError(dir: string): TemplateError {
  try {
    loadTemplates(dir);
  } catch (error) {
    if (error instanceof TemplateError) return error;
    throw error;
  }
  throw new Error('the templates loaded');
}

const settings = loopbackSettings(18080);

function render(routes: Record<string, string>[]): string {
  return shippedTemplates().render(routes.map(parseRoute), settings);
}

/** Plain routes are in the route maps with the shipped templates: DFP's ACL names and order show with templates that route by ACLs only. */
function renderAcls(routes: Record<string, string>[]): string {
  return aclTemplates().render(routes.map(parseRoute), settings);
}

/** The lines of `text` that start with `prefix` (after indentation), in order. */
function lines(text: string, prefix: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith(prefix));
}

describe('loadTemplates', () => {
  it('loads the shipped templates from DEFAULT_TEMPLATES_DIR (<repo>/templates)', () => {
    expect(DEFAULT_TEMPLATES_DIR).toBe(path.resolve(__dirname, '..', 'templates'));
    expect(loadTemplates(DEFAULT_TEMPLATES_DIR).dir).toBe(DEFAULT_TEMPLATES_DIR);
  });

  it('names a missing directory or a missing haproxy.cfg.hbs', () => {
    expect(loadError('/nonexistent/templates').message).toContain('/nonexistent/templates');
    const dir = copyTemplates();
    fs.rmSync(path.join(dir, 'haproxy.cfg.hbs'));
    expect(loadError(dir).message).toContain('haproxy.cfg.hbs is missing');
  });

  it('names the file with a syntax error', () => {
    const dir = copyTemplates();
    fs.writeFileSync(path.join(dir, 'backend.hbs'), 'backend {{name}\n');
    expect(loadError(dir).message).toContain('backend.hbs');
  });

  it('refuses a misspelt field (strict mode) and a missing partial at load time', () => {
    const misspelt = copyTemplates();
    fs.appendFileSync(path.join(misspelt, 'defaults.hbs'), '    timeout check {{timeouts.chekc}}s\n');
    expect(loadError(misspelt).message).toContain('chekc');
    const missing = copyTemplates();
    fs.rmSync(path.join(missing, 'backend.hbs'));
    expect(loadError(missing).message).toContain('backend');
  });

  it('never HTML-escapes (noEscape)', () => {
    const config = renderAcls([{ serviceName: 'a', servicePath: '/a&b<c>', port: '1', addReqHeader: `X-Q "x" & <y>` }]);
    expect(config).toContain(`'/a&b<c>'`);
    expect(config).toContain(`X-Q "x" & <y>`);
  });
});

describe('render', () => {
  it('is a pure function: the same input gives the same text, whatever the route order', () => {
    const routes = [
      { serviceName: 'b', servicePath: '/b', port: '1' },
      { serviceName: 'a', servicePath: '/a', port: '2' },
    ];
    expect(render(routes)).toBe(render([...routes].reverse()));
  });

  it('renders after a change exactly what a fresh template set renders, though it reuses the text of unchanged routes', () => {
    const templates = loadTemplates(DEFAULT_TEMPLATES_DIR);
    const kept = [
      { serviceName: 'api', servicePath: '/api', port: '1', users: 'u:p', addReqHeader: 'X-A a' },
      { serviceName: 'web', serviceDomain: 'web.test,*.web.test', port: '2', reqPathSearch: '^/w/(.*)', reqPathReplace: '/\\1' },
    ].map(parseRoute);
    const steps = [
      [...kept, parseRoute({ serviceName: 'moving', servicePath: '/m', port: '3' })],
      // moving changes port; then route aaa (aclName api) sorts first and takes api's ACL names
      [...kept, parseRoute({ serviceName: 'moving', servicePath: '/m', port: '4', setResHeader: 'X-B b' })],
      [
        ...kept,
        parseRoute({ serviceName: 'moving', servicePath: '/m', port: '4', setResHeader: 'X-B b' }),
        parseRoute({ serviceName: 'aaa', aclName: 'api', servicePath: '/a2', port: '1' }),
      ],
      kept,
    ];
    for (const routes of steps) {
      const { config: text, maps } = templates.renderWithProblems(routes, settings);
      expect(text).toBe(loadTemplates(DEFAULT_TEMPLATES_DIR).render(routes, settings));
      writeMaps(maps);
      expect(checkConfig(text).ok).toBe(true);
    }
  });

  it('uses DFP names: url_<aclName><port>, domain_<aclName><port>, <serviceName>-be<port>, <host>:<port>', () => {
    const config = renderAcls([
      { serviceName: 'go-demo', servicePath: '/demo', serviceDomain: 'demo.test', port: '8080' },
      {
        serviceName: 'api',
        aclName: 'my-api',
        servicePath: '/api',
        outboundHostname: 'api.internal',
        'port.1': '9000',
        'port.2': '9001',
        'servicePath.2': '/api/v2',
      },
    ]);
    expect(lines(config, 'acl ')).toEqual([
      "acl url_go-demo8080 path_beg -- '/demo'",
      "acl domain_go-demo8080 req.hdr(host),field(1,:) -i -m str -- 'demo.test'",
      "acl url_my-api9000_1 path_beg -- '/api'",
      "acl url_my-api9001_2 path_beg -- '/api/v2'",
    ]);
    expect(lines(config, 'use_backend ')).toEqual([
      'use_backend go-demo-be8080 if url_go-demo8080 domain_go-demo8080',
      'use_backend api-be9000 if url_my-api9000_1',
      'use_backend api-be9001 if url_my-api9001_2',
    ]);
    expect(lines(config, 'server ')).toEqual([
      'server api api.internal:9000 resolvers docker resolve-prefer ipv4 init-addr last,none',
      'server api api.internal:9001 resolvers docker resolve-prefer ipv4 init-addr last,none',
      'server go-demo go-demo:8080 resolvers docker resolve-prefer ipv4 init-addr last,none',
    ]);
    expect(checkConfig(config).ok).toBe(true);
  });

  it('puts /.well-known paths first and a root path without a domain last, otherwise orders by aclName', () => {
    const config = renderAcls([
      { serviceName: 'aaa-root', servicePath: '/', port: '1' },
      { serviceName: 'zzz-acme', servicePath: '/.well-known/acme-challenge', port: '2' },
      { serviceName: 'mmm', servicePath: '/m', port: '3' },
      { serviceName: 'bbb', aclName: 'zzz', servicePath: '/b', port: '4' },
      { serviceName: 'ccc', servicePath: '/', serviceDomain: 'c.test', port: '5' },
    ]);
    expect(lines(config, 'use_backend ').map((line) => line.split(' ')[1])).toEqual(['zzz-acme-be2', 'ccc-be5', 'mmm-be3', 'bbb-be4', 'aaa-root-be1']);
  });

  it('keeps names unique when the DFP scheme would repeat one', () => {
    const config = renderAcls([
      { serviceName: 'a1', servicePath: '/x', port: '23' },
      { serviceName: 'a12', servicePath: '/y', port: '3' },
      { serviceName: 'b', port: '5', 'servicePath.1': '/z', 'servicePath.2': '/zz' },
    ]);
    expect(lines(config, 'acl ').map((line) => line.split(' ')[1])).toEqual(['url_a123', 'url_a123_2', 'url_b5_1', 'url_b5_2']);
    expect(lines(config, 'backend ')).toEqual(['backend a1-be23', 'backend a12-be3', 'backend b-be5', 'backend b-be5_2']);
    expect(checkConfig(config).ok).toBe(true);
  });

  it('renders the settings: timeouts, resolvers, binds on BIND_ADDRESS, and a note for ssl ports', () => {
    const custom = loadSettings({
      BIND_ADDRESS: '127.0.0.1',
      DEFAULT_PORTS: '18080,18443:ssl',
      TIMEOUT_CONNECT: '7',
      TIMEOUT_TUNNEL: '99',
      HAPROXY_RESOLVERS: '127.0.0.11:53,127.0.0.12:5353',
    });
    const config = shippedTemplates().render([], custom);
    expect(lines(config, 'timeout connect')).toEqual(['timeout connect 7s']);
    expect(lines(config, 'timeout tunnel')).toEqual(['timeout tunnel 99s']);
    expect(lines(config, 'nameserver')).toEqual(['nameserver dns0 127.0.0.11:53', 'nameserver dns1 127.0.0.12:5353']);
    expect(lines(config, 'bind ')).toEqual(['bind 127.0.0.1:18080']);
    expect(config).toContain('18443:ssl is not bound');
    expect(checkConfig(config).ok).toBe(true);
  });

  it('leaves out, and reports, tcp destinations that cannot share their srcPort', () => {
    const result = shippedTemplates().renderWithProblems(
      [
        { serviceName: 'db1', reqMode: 'tcp', srcPort: '5000', port: '1' },
        { serviceName: 'db2', reqMode: 'tcp', srcPort: '5000', port: '2' },
        { serviceName: 'tls', reqMode: 'sni', srcPort: '5000', port: '3', serviceDomain: 'x.test' },
        { serviceName: 'web', reqMode: 'tcp', srcPort: '18080', port: '4' },
      ].map(parseRoute),
      settings,
    );
    expect(result.problems.map((p) => p.serviceName)).toEqual(['db2', 'tls', 'web']);
    expect(lines(result.config, 'frontend ')).toEqual(['frontend services', 'frontend tcpFE_5000']);
    expect(lines(result.config, 'backend ')).toEqual(['backend db1-be1']);
    expect(checkConfig(result.config).ok).toBe(true);
  });
});

describe('watchTemplates', () => {
  it('hands over a new template set after an edit, and reports a broken one without replacing it', async () => {
    const dir = copyTemplates();
    const changes: Templates[] = [];
    const errors: Error[] = [];
    const watcher = watchTemplates(
      dir,
      (t) => changes.push(t),
      (e) => errors.push(e),
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the watcher get ready
      fs.appendFileSync(path.join(dir, 'global.hbs'), '    # edited live\n\n');
      await waitFor('the changed templates', async () => changes.length > 0, 10000);
      expect(changes[changes.length - 1].render([], settings)).toContain('# edited live');
      const before = changes.length;
      fs.writeFileSync(path.join(dir, 'backend.hbs'), 'backend {{#if}}\n');
      await waitFor('the template error', async () => errors.length > 0, 10000);
      expect(errors[0]).toBeInstanceOf(TemplateError);
      expect(changes).toHaveLength(before);
    } finally {
      await watcher.close();
    }
  });
});
