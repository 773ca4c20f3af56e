import { StoreUnavailable } from '../errors';
import type { Logger } from '../logger';
import type { ConsulClient } from './consul-client';
import type { StoreLock } from './route-store';

/**
 * Consul's own lock recipe (sessions + `acquire`), for jobs that one replica of the fleet does at
 * a time (an ACME order): a session with a TTL, renewed while the work runs, and the lock key
 * acquired with it. A holder that dies stops renewing; Consul invalidates the session after the
 * TTL (it may wait up to twice as long) and, with behavior `delete`, removes the lock key, so
 * another replica can take over. Lock delay 0: a replica that takes over after a dead holder
 * need not wait out the default 15 s on top.
 */

/** The shortest TTL Consul accepts. */
export const SESSION_TTL_SECONDS = 10;

interface SessionAnswer {
  readonly ID?: string;
}

export class ConsulLocks {
  constructor(
    private readonly client: ConsulClient,
    private readonly logger?: Logger,
    private readonly ttlSeconds = SESSION_TTL_SECONDS,
  ) {}

  async tryLock(key: string, holder: string): Promise<StoreLock | undefined> {
    const session = await this.createSession(holder);
    let acquired = false;
    try {
      const answer = await this.client.request({ method: 'PUT', path: `/v1/kv/${encodePath(key)}`, query: { acquire: session }, body: holder });
      if (answer.status !== 200)
        throw new StoreUnavailable(`Consul at ${answer.address} refused to acquire ${key}: HTTP ${answer.status}: ${answer.body.trim().slice(0, 200)}`);
      acquired = answer.body.trim() === 'true';
    } finally {
      if (!acquired) await this.destroy(session);
    }
    if (!acquired) return undefined;
    return this.held(key, session);
  }

  private held(key: string, session: string): StoreLock {
    const renew = setInterval(() => void this.renew(key, session), (this.ttlSeconds * 1000) / 3);
    renew.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        // Destroying the session releases the lock and (behavior delete) removes its key.
        await this.destroy(session);
      },
    };
  }

  private async createSession(holder: string): Promise<string> {
    const body = JSON.stringify({ Name: holder, TTL: `${this.ttlSeconds}s`, LockDelay: '0s', Behavior: 'delete' });
    const answer = await this.client.request({ method: 'PUT', path: '/v1/session/create', body });
    const id = answer.status === 200 ? (JSON.parse(answer.body) as SessionAnswer).ID : undefined;
    if (!id) throw new StoreUnavailable(`Consul at ${answer.address} did not create a session: HTTP ${answer.status}: ${answer.body.trim().slice(0, 200)}`);
    return id;
  }

  private async renew(key: string, session: string): Promise<void> {
    try {
      const answer = await this.client.request({ method: 'PUT', path: `/v1/session/renew/${session}` });
      if (answer.status === 404) this.logger?.warn({ lock: key }, 'lost the lock: its Consul session expired');
    } catch (error) {
      this.logger?.warn({ lock: key, err: (error as Error).message }, 'could not renew the lock session; retrying');
    }
  }

  private async destroy(session: string): Promise<void> {
    await this.client.request({ method: 'PUT', path: `/v1/session/destroy/${session}` }).catch((error: Error) => {
      // The session then ends by its TTL.
      this.logger?.warn({ err: error.message }, 'could not destroy a Consul session');
    });
  }
}

/** Encode each path segment; keep the slashes that make the KV hierarchy. */
export function encodePath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
