import * as fs from 'fs';
import * as path from 'path';
import Handlebars from 'handlebars';
import { TemplateError } from '../errors';
import { parseRoute } from '../route/params';
import { Route } from '../route/route';
import { Settings, loadSettings } from '../settings';
import type { RenderResult, TlsFiles } from './types';
import { flattened } from './flat';
import { routeMapFiles } from './route-maps';
import { BuiltView, buildView, ConfigView, ViewMemo } from './view';
import { ViewCache } from './view-cache';

export const MAIN_TEMPLATE = 'haproxy.cfg.hbs';

/** A compiled template set. Rendering is pure: no I/O, same input, same text. */
export interface Templates {
  readonly dir: string;
  /** `tls`: the certificate files of the `:ssl` binds; false (the default) while none is stored. */
  render(routes: readonly Route[], settings: Settings, tls?: TlsFiles | false): string;
  renderWithProblems(routes: readonly Route[], settings: Settings, tls?: TlsFiles | false): RenderResult;
}

type Compiled = (view: ConfigView) => string;

/**
 * noEscape: HTML escaping must never alter a config; strict: a missing field is an error, not an
 * empty string. Only the built-in helpers and no @data variables: both make rendering faster.
 */
const COMPILE_OPTIONS = { noEscape: true, strict: true, knownHelpersOnly: true, data: false };

function readTemplates(dir: string): Map<string, string> {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((name) => name.endsWith('.hbs'));
  } catch (error) {
    throw new TemplateError(`cannot read templates directory ${dir}: ${(error as Error).message}`);
  }
  if (!names.includes(MAIN_TEMPLATE)) throw new TemplateError(`${path.join(dir, MAIN_TEMPLATE)} is missing`);
  const sources = new Map<string, string>();
  for (const name of names) sources.set(name, fs.readFileSync(path.join(dir, name), 'utf8'));
  return sources;
}

/** Compile eagerly so a syntax error names its file now, not at the first render. */
function compileOne(env: typeof Handlebars, file: string, source: string): Handlebars.TemplateDelegate {
  try {
    env.precompile(source, COMPILE_OPTIONS);
    return env.compile(source, COMPILE_OPTIONS);
  } catch (error) {
    throw new TemplateError(`template ${file}: ${(error as Error).message}`);
  }
}

/**
 * A partial's text depends only on its context object, unless it reaches out of it (`../`; there
 * are no @data variables and only the built-in, pure helpers): such a partial remembers its text
 * per context object, and ViewMemo hands it the same object for a route that did not change, so
 * a change of one route among thousands renders that route's parts only. Handlebars has no such
 * cache of its own; indentation of a partial is applied by Handlebars after this returns.
 */
function remembered(source: string, compiled: Handlebars.TemplateDelegate): Handlebars.TemplateDelegate {
  if (source.includes('..')) return compiled;
  const texts = new WeakMap<object, string>();
  return (context: unknown, options?: Handlebars.RuntimeOptions) => {
    if (typeof context !== 'object' || context === null) return compiled(context, options);
    let text = texts.get(context);
    if (text === undefined) {
      text = flattened(compiled(context, options));
      texts.set(context, text);
    }
    return text;
  };
}

function compileAll(sources: Map<string, string>): Compiled {
  const env = Handlebars.create();
  let main: Handlebars.TemplateDelegate | undefined;
  for (const [file, source] of sources) {
    const compiled = compileOne(env, file, source);
    if (file === MAIN_TEMPLATE) main = compiled;
    else env.registerPartial(file.slice(0, -'.hbs'.length), remembered(source, compiled));
  }
  if (!main) throw new TemplateError(`${MAIN_TEMPLATE} is missing`);
  const template = main;
  return (view) => template(view);
}

function renderView(dir: string, compiled: Compiled, built: BuiltView): string {
  try {
    return compiled(built.view);
  } catch (error) {
    throw new TemplateError(`templates in ${dir}: ${(error as Error).message}`);
  }
}

/**
 * Routes that use every part of the view, so that a trial render at load time finds a missing
 * partial or a misspelt field (strict mode) before the templates are used for real.
 */
function sampleInput(): { routes: Route[]; settings: Settings } {
  const settings = loadSettings({ STATS_USER: 'u', STATS_PASS: 'p', DEFAULT_PORTS: '80,443:ssl', USERS: 'u:p', SECRETS_DIR: '/nonexistent' });
  const routes = [
    {
      serviceName: 'a',
      servicePath: '/a',
      serviceDomain: 'a.test,*b.test',
      port: '1',
      users: 'u:p',
      httpsOnly: 'true',
      redirectWhenHttpProto: 'true',
      reqPathSearch: '^/a',
      reqPathReplace: '/',
      reqPathSearchReplace: '^/b,/c',
      addReqHeader: 'X-A a',
      delResHeader: 'X-B',
      timeoutServer: '1',
      timeoutTunnel: '1',
      isDefaultBackend: 'true',
      allowedMethods: 'GET',
      deniedMethods: 'DELETE',
      denyHttp: 'true',
      serviceHeader: 'X-A:1',
      userAgent: 'bot',
      servicePathExclude: '/a/x',
      redirectFromDomain: 'old.a.test',
      httpsRedirectCode: '301',
      httpsPort: '2',
      backendExtra: 'http-response set-header X-E 1',
      checkResolvers: 'true',
      compressionAlgo: 'gzip',
      compressionType: 'text/html',
      connectionMode: 'http-server-close',
    },
    { serviceName: 'b', port: '1', srcPort: '81', reqMode: 'tcp', timeoutClient: '5', checkTcp: 'true' },
    { serviceName: 'd', port: '1', servicePath: '/d', sessionType: 'sticky-server', replicas: '2' },
    { serviceName: 'c', port: '1', srcPort: '82', reqMode: 'sni', serviceDomain: 'c.test' },
  ].map(parseRoute);
  return { routes, settings };
}

/**
 * Whether the templates route through the route maps (the shipped ones do). A template set
 * written before them has no map lines: its routes all keep ACLs, so none goes unrouted.
 */
function usesRouteMaps(dir: string, compiled: Compiled, sample: { routes: Route[]; settings: Settings }): boolean {
  const built = buildView(sample.routes, sample.settings, false, undefined, true);
  const prefixMap = routeMapFiles(sample.settings.stateDir).prefix;
  return renderView(dir, compiled, built).includes(prefixMap);
}

function templatesFrom(dir: string, compiled: Compiled, useMaps: boolean): Templates {
  const views = new ViewCache(new ViewMemo());
  // The templates are a pure function of the view: the same view object, the same text.
  let last: { readonly view: ConfigView; readonly config: string } | undefined;
  const renderWithProblems = (routes: readonly Route[], settings: Settings, tls: TlsFiles | false = false): RenderResult => {
    const built = views.build(routes, settings, tls, useMaps);
    const config = last?.view === built.view ? last.config : renderView(dir, compiled, built);
    last = { view: built.view, config };
    return { config, problems: built.problems, maps: built.maps };
  };
  return {
    dir,
    renderWithProblems,
    render: (routes, settings, tls) => renderWithProblems(routes, settings, tls).config,
  };
}

/**
 * Read `haproxy.cfg.hbs` and every other `*.hbs` (a partial named after its file) from `dir`,
 * compile them (noEscape: HTML escaping must never alter a config; strict: a missing field is an
 * error) and try them once. Throws TemplateError naming the problem.
 */
export function loadTemplates(dir: string): Templates {
  const compiled = compileAll(readTemplates(dir));
  const sample = sampleInput();
  const templates = templatesFrom(dir, compiled, usesRouteMaps(dir, compiled, sample));
  templates.render(sample.routes, sample.settings);
  const sampleWithStatsPort = { ...sample.settings, stats: { auth: { user: 'u', pass: 'p' }, uri: '/s', port: 83 } };
  templates.render(sample.routes, sampleWithStatsPort);
  templates.render([], sample.settings);
  return templates;
}
