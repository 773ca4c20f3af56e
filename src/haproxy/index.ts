export type { HaproxyControl } from './control';
export { checkConfig, usefulAlerts } from './check';
export { MasterCli, parseShowProc } from './master-cli';
export type { ProcList } from './master-cli';
export { ChildHaproxy } from './process';
export type { ChildHaproxyOptions } from './process';
export { AdoptedHaproxy } from './adopted';
export type { AdoptedHaproxyOptions } from './adopted';
export { createHaproxyControl } from './create';
