export { loadTemplates, MAIN_TEMPLATE } from './templates';
export type { Templates } from './templates';
export type { InvalidRoute, RenderResult } from './types';
export { watchTemplates } from './template-watcher';
export type { TemplateWatcher } from './template-watcher';
export { backendNames, buildView } from './view';
export type { ConfigView } from './view';
export { quote } from './quote';
