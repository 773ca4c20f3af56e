import { ConfigRejected } from '../errors';
import type { Route } from '../route/route';

/**
 * HAProxy's reason for refusing a route, told as a bad parameter: it names the file it checked
 * (a temporary path that means nothing to a client) and the config line, never the parameter.
 * HAProxy quotes the offending value (a regex, a header, a path), so the parameter is the one
 * whose value appears in the reason; the longest such value wins, because a short one (a path
 * such as `/a`) may also appear inside a longer one. The config line HAProxy names is searched
 * first: its message may not quote the value (an unknown fetch in a header value says only
 * `<nosuchfetch]>`) and names the backend, whose name holds the port.
 */
export function explainRejection(route: Route, error: ConfigRejected): ConfigRejected {
  const reason = withoutFilePaths(error.detail || error.message);
  const parameter = parameterIn(route, error.lines.join('\n')) ?? parameterIn(route, reason);
  if (parameter === undefined) return new ConfigRejected(`HAProxy rejects the route ${route.serviceName}`, reason);
  return new ConfigRejected(`${parameter}: HAProxy rejects this value`, reason);
}

/** `parsing [/tmp/x/haproxy.cfg:45]` -> `parsing [line 45]`; any other path -> its file name. */
function withoutFilePaths(text: string): string {
  return text.replace(/\[[^\]\s]*:(\d+)\]/g, '[line $1]').replace(/(?:\/[^\s'"/]+)+\/([^\s'"/]+\.cfg)/g, '$1');
}

function parameterIn(route: Route, reason: string): string | undefined {
  let best: { name: string; length: number } | undefined;
  for (const [name, value] of Object.entries(route.params)) {
    if (name === 'serviceName' || name.startsWith('users')) continue;
    // Lists are split at `,` and reqPathSearchReplace's pairs at `:` too.
    for (const item of [value, ...value.split(/[,:]/).map((part) => part.trim())]) {
      if (item.length < 2 || !reason.includes(item)) continue;
      if (!best || item.length > best.length) best = { name, length: item.length };
    }
  }
  return best?.name;
}
