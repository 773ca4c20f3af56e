import type { CacheUse, Summary } from './measure';

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
  /** Node's CPU (process.cpuUsage()) per change, ms. */
  readonly nodeCpuPerChangeMs: number;
  readonly cache: CacheUse;
}

/** CPU per edit of one peer, in ms. */
export interface PeerCpu {
  /** The controller: the sidecar's Node process (process.cpuUsage()), or consul-template. */
  readonly controllerMs: number;
  /** What the controller ran: `haproxy -c` (the sidecar's check shell included), and for the peer sh and socat. */
  readonly checkMs: number;
  /** The HAProxy master and its workers (reloads, new workers parsing the config). */
  readonly haproxyMs: number;
}

export interface KvEditRow {
  readonly routes: number;
  /** Until each peer's HAProxy served the pre-loaded routes. */
  readonly loadMs: { readonly ours: number; readonly peer: number };
  /** Timed edits per peer. */
  readonly edits: number;
  /** haproxy-sidecar, KV edit until its HAProxy serves it. */
  readonly ours: Summary;
  /** consul-template + HAProxy, the same. */
  readonly peer: Summary;
  /** ours / peer, p50 by p50 and p99 by p99. */
  readonly ratio: { readonly p50: number; readonly p99: number };
  readonly cpuPerEditMs: { readonly ours: PeerCpu; readonly peer: PeerCpu };
  /** The sidecar's checked-config cache during the timed edits. */
  readonly cache: CacheUse;
  readonly cutShortByCap: boolean;
  readonly stoppedBy?: string;
  readonly reloads: number;
  readonly failedReloads: number;
  readonly meanApplyMs: number;
  readonly rssAfterBytes: number;
  /** consul-template's config equalled the sidecar's before and after the edits. */
  readonly sameConfig: boolean;
}

/** One series of edits of the probe's key in kv-fleet. */
export interface KvFleetSeries {
  /** Until all three serve the edit: the figure the target is about. */
  readonly allLiveMs: Summary;
  /** Each instance on its own, by host. */
  readonly perInstanceMs: Readonly<Record<string, Summary>>;
  readonly cutShortByCap: boolean;
  /** An edit that did not reach every instance in time ends the series; the edits before it stand. */
  readonly stoppedBy?: string;
  readonly reloadsPerInstance: readonly number[];
  /** Applies through the Runtime API alone, without a reload, per instance (absent in runs before 2026-12-06 06:00). */
  readonly runtimeAppliesPerInstance?: readonly number[];
  /** Reloads that failed and were rolled back, per instance. */
  readonly failedReloadsPerInstance: readonly number[];
  readonly meanApplyMs: readonly number[];
  /** Node CPU of each sidecar per timed edit (absent in runs before 2026-12-06 06:00). */
  readonly cpuPerEditMs?: readonly number[];
  /** The checked-config cache of the three, summed. */
  readonly cache: CacheUse;
}

/**
 * One size: the reload series' figures at the top level (as runs before the runtime series wrote
 * them; absent when BENCH_FLEET_VARIANTS left it out), the runtime series under `runtime`.
 */
export interface KvFleetRow extends Partial<KvFleetSeries> {
  readonly routes: number;
  readonly loadMs: number;
  /** Edits that move the probe's path only (map entries through the Runtime API). */
  readonly runtime?: KvFleetSeries;
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
  readonly cache: CacheUse;
}

/** The fleet dashboard with three replicas at one size (bench/dashboard.ts). */
export interface DashboardRow {
  readonly routes: number;
  /** GET /v1/docker-flow-proxy/fleet from Node: gathered from all three replicas. */
  readonly fleetMs: Summary;
  readonly fleetBytes: number;
  /** A fresh page (new browser context, nothing cached) until the routes table has every row: in the page (navigation start) and from Node (goto). */
  readonly pageRenderedMs: Summary;
  readonly pageRenderedFromGotoMs: Summary;
  /** Of the in-page time: when the first request to the fleet endpoint started, when its answer was in, and the render after it. */
  readonly fleetAskedMs: Summary;
  readonly fleetArrivedMs: Summary;
  readonly renderAfterFleetMs: Summary;
  /** Typing into the filter box until the table shows the narrowed rows, in the page. */
  readonly filterMs: Summary;
  /** Main-thread tasks over 50 ms while the page polled for 10 s: the longest, and their count. */
  readonly longestTaskMs: number;
  readonly longTasks: number;
  readonly polls: number;
  readonly bundleBytes: number;
  readonly bundleGzipBytes: number;
  readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
}

/** Keep-alive clients on an unchanged route while another route's path moves 1,000 times (bench/keepalive.ts). */
export interface KeepAliveRow {
  readonly routes: number;
  readonly clients: number;
  /** Each change until a request through HAProxy reached the moved route. */
  readonly liveMs: Summary;
  readonly requests: number;
  readonly failed: number;
  /** Up to five distinct failures (status or error). */
  readonly failures: readonly string[];
  /** Connections the clients opened beyond their first one each. */
  readonly reconnects: number;
  readonly reloads: number;
  readonly runtimeApplies: number;
}
