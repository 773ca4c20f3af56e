import type { CertificateInfo } from '../certs/certificate';
import type { InvalidRoute } from '../render/types';
import type { Route } from '../route/route';

export type { InvalidRoute } from '../render/types';

/** A stored certificate that is not served, and why (it no longer parses, or its key does not match). */
export interface InvalidCert {
  readonly name: string;
  readonly reason: string;
}

/** What the local HAProxy serves right now, as published by the applier. */
export interface AppliedState {
  /** The store index whose snapshot is live; callers wait until it reaches their write's index. */
  readonly index: number;
  readonly routes: readonly Route[];
  readonly invalid: readonly InvalidRoute[];
  /** The live haproxy.cfg text ('' before the first apply). */
  readonly config: string;
  /** Certificates served, in serving order (the first is the default); absent: none. */
  readonly certs?: readonly CertificateInfo[];
  readonly invalidCerts?: readonly InvalidCert[];
}

/** How far the applier got: whether it applied a store snapshot yet, and which index it saw last. */
export interface ApplyProgress {
  /** False until the first store snapshot is live (HAProxy serves the last-known-good config meanwhile). */
  readonly appliedOnce: boolean;
  /** The newest store index the watch reported. */
  readonly storeIndex: number;
}

/** `runtime`: route maps, server addresses, certificates or ACME challenges changed through the Runtime API, without a reload. */
export type ReloadOutcome = 'success' | 'runtime' | 'skipped' | 'rejected' | 'failed';

/** What the applier tells observers (metrics, logs) after each attempt. */
export interface ApplyReport {
  readonly outcome: ReloadOutcome;
  readonly durationMs: number;
  readonly routes: number;
  readonly invalid: readonly InvalidRoute[];
  readonly index: number;
  /** Milliseconds from the first store change this apply covers to the config being live. */
  readonly changeToLiveMs?: number;
  readonly error?: string;
}
