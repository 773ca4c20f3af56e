import { InvalidParameter, InvalidSetting, SidecarError } from './errors';
import { parseRoute } from './route/params';
import type { RouteParams } from './route/route';

/**
 * DFP's routes from the environment: `DFP_SERVICE_<PARAM>` is one service, `DFP_SERVICE_<N>_<PARAM>`
 * the service N, each PARAM a reconfigure parameter in upper snake case (SERVICE_NAME ->
 * serviceName, USERS_PASS_ENCRYPTED -> usersPassEncrypted), a trailing `_<digits>` its
 * destination suffix (PORT_1 -> port.1). They are stored at start through the API's write path.
 */
export interface EnvRoute {
  /** `DFP_SERVICE` or `DFP_SERVICE_<N>`: what an error names. */
  readonly variable: string;
  readonly params: RouteParams;
}

const PREFIX = 'DFP_SERVICE_';

/** `SERVICE_PATH_1` -> `servicePath.1`. */
function paramName(snake: string): string {
  const suffix = /_(\d+)$/.exec(snake);
  const base = suffix ? snake.slice(0, suffix.index) : snake;
  const camel = base.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return suffix ? `${camel}.${suffix[1]}` : camel;
}

type Raw = Readonly<Record<string, string | undefined>>;

/** The variables of each service, by its prefix. */
function grouped(raw: Raw): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  for (const [name, value] of Object.entries(raw)) {
    if (!name.startsWith(PREFIX) || value === undefined || value.trim() === '') continue;
    const indexed = /^DFP_SERVICE_(\d+)_(.+)$/.exec(name);
    const variable = indexed ? `DFP_SERVICE_${indexed[1]}` : 'DFP_SERVICE';
    const rest = indexed ? indexed[2] : name.slice(PREFIX.length);
    if (!groups.has(variable)) groups.set(variable, new Map());
    groups.get(variable)?.set(rest, value);
  }
  return groups;
}

/** Every service of the environment, validated: a bad one throws InvalidSetting naming its variable. */
export function envRoutes(raw: Raw): EnvRoute[] {
  const routes: EnvRoute[] = [];
  for (const [variable, vars] of [...grouped(raw)].sort((a, b) => a[0].localeCompare(b[0]))) {
    const input: Record<string, string> = Object.create(null);
    const names = new Map<string, string>();
    for (const [snake, value] of vars) {
      input[paramName(snake)] = value;
      names.set(paramName(snake), `${variable}_${snake}`);
    }
    try {
      routes.push({ variable, params: parseRoute(input).params });
    } catch (error) {
      if (!(error instanceof SidecarError)) throw error;
      const named = error instanceof InvalidParameter ? names.get(error.parameter) : undefined;
      throw new InvalidSetting(named ?? variable, error.message);
    }
  }
  return routes;
}
