/** How an HAProxy master ended, and how long it had run. */
export interface HaproxyExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly uptimeMs: number;
}

/**
 * What the applier needs from HAProxy, whoever runs it: our own child (process.ts) or an
 * HAProxy started elsewhere that we reach through its master socket (adopted.ts).
 */
export interface HaproxyControl {
  /** The master CLI socket: reloads, and the worker's Runtime API (`@1 <command>`). */
  readonly masterSocket: string;
  /** Make HAProxy run `configPath` (always the same path: reloads re-read it). */
  start(configPath: string): Promise<void>;
  /** Resolves only once a new worker runs and the master counted no failure; else HaproxyError. */
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** True while HAProxy is known to serve (for /healthz). */
  running(): boolean;
  /**
   * True when HAProxy runs and its master answers within `timeoutMs` (for /healthz): a frozen or
   * hung master is not alive even though its process exists. A master re-executing for a reload
   * refuses connections for a while; that is progress, not death.
   */
  responsive(timeoutMs: number): Promise<boolean>;
  /**
   * Be told when an HAProxy we run died on its own (not through stop()). Only an event: the
   * applier decides whether and from which config to start it again. An adopted HAProxy, which we
   * never start, has none.
   */
  onExit?(listener: (exit: HaproxyExit) => void): void;
}
