import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Structured JSON logs on stdout. Secrets never reach a log line: the fields below are censored
 * wherever they appear, and callers log route names, never route parameters with users.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'haproxy-sidecar' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['*.users', '*.password', '*.pass', '*.token', 'params.users', 'params.*.users', 'token', 'users'], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ sync: false }),
  );
}

/** A logger that writes nothing: for one-shot CLI commands and tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
