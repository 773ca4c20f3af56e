import { isRouteParameter, MAX_DESTINATION_INDEX } from './params';

/**
 * Parameters a reconfigure request may carry that change nothing. The Swarm listener sends every
 * `com.df.*` label of a service, so an unknown name is not an error; but nothing may be dropped
 * silently either: the reply lists each one with the reason (README, "Route parameters").
 */
export interface IgnoredParameter {
  readonly parameter: string;
  readonly reason: string;
}

/** The API's own parameters beside the route's: never listed. */
const API_FLAGS = new Set(['distribute', 'serviceCert']);

const CUSTOM_TEMPLATES = 'per-service template files are not supported: replace the Handlebars templates (TEMPLATES_DIR) instead';

/** Docker Flow Proxy parameters without an effect here, and why. */
const DFP_IGNORED: Readonly<Record<string, string>> = {
  templateFePath: CUSTOM_TEMPLATES,
  templateBePath: CUSTOM_TEMPLATES,
  consulTemplateFePath: CUSTOM_TEMPLATES,
  consulTemplateBePath: CUSTOM_TEMPLATES,
  userDef: "only DFP's custom templates read it",
  xForwardedProto: 'always on: requests that came over TLS carry X-Forwarded-Proto: https',
  discoveryType: 'servers are always found through DNS at runtime (HAPROXY_RESOLVERS); sessionType=sticky-server uses every address of the name',
  skipCheck: 'there are no health checks unless checkResolvers (http) or checkTcp (tcp, sni) asks for them',
  proxyInstanceName: 'one proxy fleet per PROXY_INSTANCE_NAME (its own KV prefix); FILTER_PROXY_INSTANCE_NAME is not supported',
  srcHttpsPort: 'not supported: requests over TLS reach httpsPort on every :ssl port of DEFAULT_PORTS',
  serviceGroup: 'tcp groups (one listen section for several services) are not supported',
  balanceGroup: 'tcp groups (one listen section for several services) are not supported',
  clitcpka: 'not supported: TCP keep-alive on client connections is not set per service',
};

/** `allowedMethods.2` -> `allowedMethods`; a name without a valid suffix stays as it is. */
function baseName(name: string): string {
  const match = /^(.+)\.(\d+)$/.exec(name);
  return match && Number(match[2]) >= 1 && Number(match[2]) <= MAX_DESTINATION_INDEX ? match[1] : name;
}

function reasonFor(name: string, input: Readonly<Record<string, unknown>>): string | undefined {
  if (API_FLAGS.has(name)) return undefined;
  if (isRouteParameter(name)) return timeoutClientOnHttp(name, input);
  return DFP_IGNORED[baseName(name)] ?? 'not a parameter of haproxy-sidecar or Docker Flow Proxy';
}

/** DFP sets `timeout client` only in tcp frontends; the HTTP frontend is shared by every route. */
function timeoutClientOnHttp(name: string, input: Readonly<Record<string, unknown>>): string | undefined {
  if (baseName(name) !== 'timeoutClient') return undefined;
  const suffix = name.slice('timeoutClient'.length);
  const mode = input[`reqMode${suffix}`] ?? input.reqMode ?? 'http';
  if (mode !== 'http') return undefined;
  return 'applies to tcp and sni routes only: the HTTP frontend, shared by every route, has TIMEOUT_CLIENT';
}

/** The parameters of `input` that change nothing, each with the reason, in the order given. */
export function ignoredParameters(input: Readonly<Record<string, unknown>>): IgnoredParameter[] {
  const ignored: IgnoredParameter[] = [];
  for (const parameter of Object.keys(input)) {
    const reason = reasonFor(parameter, input);
    if (reason !== undefined) ignored.push({ parameter, reason });
  }
  return ignored;
}
