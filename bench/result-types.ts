import type { Summary } from './measure';

/**
 * The rows the scenarios write to bench/results/<scenario>.json and the summary reads back, one
 * per route count. (The floor's row is FloorResult in floor.ts.)
 */

export interface ReconfigureRow {
  readonly routes: number;
  /** From process start until HAProxy served the pre-loaded store. */
  readonly loadMs: number;
  /** Until the API answered 200. */
  readonly apiMs: Summary;
  /** Until a request through HAProxy reached the new backend: the figure the target is about. */
  readonly liveMs: Summary;
  readonly cutShortByCap: boolean;
  readonly reloads: number;
  readonly failedReloads: number;
  /** Render, check and reload inside the applier, per change (the rest is the API's check and the store). */
  readonly meanApplyMs: number;
  readonly rssAfterLoadBytes: number;
  readonly rssAfterChangesBytes: number;
  readonly heapUsedAfterLoadBytes: number;
  readonly heapUsedAfterChangesBytes: number;
}

export interface KvEditRow {
  readonly routes: number;
  readonly loadMs: number;
  /** Until all three serve the edit: the figure the target is about. */
  readonly allLiveMs: Summary;
  /** Each instance on its own, by host. */
  readonly perInstanceMs: Readonly<Record<string, Summary>>;
  readonly cutShortByCap: boolean;
  /** An edit that did not reach every instance in time ends the series; the edits before it stand. */
  readonly stoppedBy?: string;
  readonly reloadsPerInstance: readonly number[];
  /** Reloads that failed and were rolled back, per instance. */
  readonly failedReloadsPerInstance: readonly number[];
  readonly meanApplyMs: readonly number[];
}

export interface BurstRow {
  readonly routes: number;
  readonly attempted: number;
  readonly accepted: number;
  /** Answers other than 200, by status. */
  readonly refused: Readonly<Record<string, number>>;
  readonly cutShortByCap: boolean;
  /** From the first call to the last 200. */
  readonly burstMs: number;
  readonly acceptedPerSecond: number;
  readonly reloads: number;
  readonly failedReloads: number;
  /** From the last 200 until every accepted route answered through HAProxy. */
  readonly allLiveAfterLastMs: number;
  /** Accepted routes that answered at the first request (the rest needed polling). */
  readonly liveAtFirstRequest: number;
  readonly rssAfterBytes: number;
}
