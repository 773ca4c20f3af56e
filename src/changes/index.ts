export { RouteChanges } from './route-changes';
export type { ChangeResult, RouteChangesOptions } from './route-changes';
export type { RouteChecker, Served, ServedWaiter } from './ports';
export { StoredRoutesChecker } from './store-checker';
export { CertChanges } from './cert-changes';
export type { CertResult, CertServedWaiter, StoredCerts } from './cert-changes';
