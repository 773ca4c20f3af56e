import { setTimeout as setTimeoutPromise } from 'timers/promises';
import * as net from 'net';

/*
 * Ports below the kernel's ephemeral range (32768-60999 here): a port the kernel picks for
 * `listen(0)` can be handed out a moment later as the local port of an outgoing connection (to
 * Consul, a backend, a peer), and HAProxy then fails to bind it ("Address already in use"). Each
 * Jest worker takes its own slice of 10000-32767 and walks it from a random start, so two workers,
 * or two test runs at once, rarely try the same port; every port is still tried with a bind.
 */
const RANGE_START = 10000;
const RANGE_END = 32768;
const SLICES = 8;
const SLICE = Math.floor((RANGE_END - RANGE_START) / SLICES);
const slice = (Number(process.env.JEST_WORKER_ID ?? '1') - 1) % SLICES;
let cursor = Math.floor(Math.random() * SLICE);

function nextCandidate(): number {
  cursor = (cursor + 1) % SLICE;
  return RANGE_START + slice * SLICE + cursor;
}

async function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A TCP port that is free on `host` right now, outside the ephemeral range (see above). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < SLICE; attempt += 1) {
    const port = nextCandidate();
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port on ${host} in ${RANGE_START}-${RANGE_END - 1}`);
}

/** Several distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

export async function sleep(ms: number): Promise<void> {
  await setTimeoutPromise(ms);
}

/** Wait for `promise`, but at most `ms`; the timer is cleared so it never keeps a process alive. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    timeout,
  ]);
  clearTimeout(timer);
}

/** Poll `probe` until it returns a truthy value or `timeoutMs` passes; then throw with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null>, timeoutMs = 10000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
}

/** Resolve once something accepts TCP connections on host:port. */
export async function waitForPort(host: string, port: number, timeoutMs = 10000): Promise<void> {
  await waitFor(
    `${host}:${port} to accept connections`,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect({ host, port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    timeoutMs,
  );
}
