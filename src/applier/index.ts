export { Applier } from './applier';
export type { ApplierOptions, ApplierSettings, ParseRoute, RenderRoutes } from './applier';
export type { AppliedState, ApplyReport, InvalidRoute, ReloadOutcome } from './applied-state';
