export { RouteChanges } from './route-changes';
export type { ChangeResult, RouteChangesOptions } from './route-changes';
export type { RouteChecker, Served, ServedWaiter } from './ports';
export { StoredRoutesChecker } from './store-checker';
