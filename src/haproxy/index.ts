export type { HaproxyControl, HaproxyExit } from './control';
export { checkConfig, checkConfigText, usefulAlerts } from './check';
export { MasterCli, parseShowProc } from './master-cli';
export type { ProcList } from './master-cli';
export { ChildHaproxy } from './process';
export type { ChildHaproxyOptions } from './process';
export { AdoptedHaproxy } from './adopted';
export type { AdoptedHaproxyOptions } from './adopted';
export { createHaproxyControl } from './create';
