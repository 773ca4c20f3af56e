import * as https from 'https';
import * as acme from 'acme-client';

/**
 * The ACME protocol, through the npm package acme-client (RFC 8555: account, order, HTTP-01,
 * finalize, download), which we do not write by hand. What this adds: where HTTP-01 answers go
 * (the hooks publish them to the store, so every replica's HAProxy serves them), and that the
 * result is one PEM (chain, then the new key) ready for the certificate store.
 */

export interface ChallengeHooks {
  /** Make every replica answer `token` with `keyAuthorization`; resolves once they do (or the wait ends). */
  publish(token: string, keyAuthorization: string): Promise<void>;
  withdraw(token: string): Promise<void>;
}

export interface AcmeCaOptions {
  readonly directoryUrl: string;
  readonly email: string;
  /** PEM of the CAs trusted for the directory's HTTPS (ACME_CA_FILE). */
  readonly caPem?: string;
}

/** acme-client polls the order and authorizations with this backoff (its default starts at 5 s). */
const POLL = { backoffAttempts: 10, backoffMin: 1000, backoffMax: 10000 };

export class AcmeCa {
  constructor(private readonly options: AcmeCaOptions) {
    // acme-client sends every request through its own axios instance; this is where a private CA is trusted.
    if (options.caPem) acme.axios.defaults.httpsAgent = new https.Agent({ ca: options.caPem });
  }

  /** A new account key (a secret: it goes to the store and nowhere else). */
  static async newAccountKey(): Promise<string> {
    return (await acme.crypto.createPrivateEcdsaKey()).toString();
  }

  /**
   * Order a certificate for `domains` (the first is the common name): creates the account of
   * `accountKey` on first use (agreeing to the CA's terms), answers HTTP-01 through `hooks`.
   * Resolves with the chain followed by the certificate's new private key.
   */
  async order(accountKey: string, domains: readonly string[], hooks: ChallengeHooks): Promise<string> {
    const client = new acme.Client({ directoryUrl: this.options.directoryUrl, accountKey, ...POLL });
    const [key, csr] = await acme.crypto.createCsr({ commonName: domains[0], altNames: [...domains] }, await acme.crypto.createPrivateEcdsaKey());
    const chain = await client.auto({
      csr,
      email: this.options.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client's own check fetches the challenge through the system resolver from here; the
      // hooks already waited until the replicas serve it.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`challenge type ${challenge.type} is not supported (HTTP-01 only)`);
        await hooks.publish(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await hooks.withdraw(challenge.token);
      },
    });
    return `${chain.trim()}\n${key.toString().trim()}\n`;
  }
}
