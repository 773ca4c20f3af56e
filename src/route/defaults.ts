import type { ReqMode } from './route';

/**
 * Defaults of DFP's environment that a route stored through the API or the CLI is given, so that
 * the store says what is served, whichever replica reads it: DEFAULT_REQ_MODE.
 */
export interface RouteDefaults {
  readonly reqMode: ReqMode;
}

type Params = Readonly<Record<string, unknown>>;

function given(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
}

/** The parameters with the defaults filled in where the route gives no value. */
export function withDefaults(input: Params, defaults: RouteDefaults | undefined): Params {
  if (!defaults || defaults.reqMode === 'http' || given(input.reqMode)) return input;
  return { ...input, reqMode: defaults.reqMode };
}
