export { Applier } from './applier';
export type { ApplierOptions, ApplierSettings, ParseRoute, RenderRoutes } from './applier';
export type { CheckCacheCounts } from './checked-configs';
export type { AppliedState, ApplyReport, InvalidRoute, ReloadOutcome } from './applied-state';
export type { ReconcileOutcome, ReconcileStatus } from './reconciler';
