/**
 * What the applier needs from HAProxy, whoever runs it: our own child (process.ts) or an
 * HAProxy started elsewhere that we reach through its master socket (adopted.ts).
 */
export interface HaproxyControl {
  /** Make HAProxy run `configPath` (always the same path: reloads re-read it). */
  start(configPath: string): Promise<void>;
  /** Resolves only once a new worker runs and the master counted no failure; else HaproxyError. */
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** True while HAProxy is known to serve (for /healthz). */
  running(): boolean;
}
