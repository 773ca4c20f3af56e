export * from './route';
export { parseRoute, parseServiceName, normalizeParams, paramsFromArgs, MAX_DESTINATION_INDEX } from './params';
export { PATH_TYPES, SERVICE_DOMAIN_ALGOS } from './values';
export { EntryParser, parseEntries, withRoutes } from './entries';
export type { ParsedEntries, ParseRoute } from './entries';
export { flagParam, optionalServiceName, wholeNumberParam } from './flags';
