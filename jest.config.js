/** Integration tests start real HAProxy, Consul and dnsmasq: give them time, and keep
 * parallelism low on small machines so timings stay meaningful. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  setupFilesAfterEnv: ['<rootDir>/test/helpers/cleanup.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
};
