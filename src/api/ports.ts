import type { AppliedState } from '../applier/applied-state';
import type { Route } from '../route/route';
import type { StoreSnapshot } from '../store/route-store';

/** What the API needs of the applier (the Applier class provides it). */
export interface ApplierPort {
  state(): AppliedState;
  waitForIndex(index: number, timeoutMs: number): Promise<AppliedState>;
  checkRoute(route: Route): Promise<void>;
  applyNow(snapshot?: StoreSnapshot): Promise<unknown>;
}
