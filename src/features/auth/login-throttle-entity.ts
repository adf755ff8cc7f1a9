import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * Failed sign-ins counted per account, per client address and per known browser, in fixed
 * windows (see login-throttle.ts). In PostgreSQL so every replica counts the same attempts
 * and a restart forgets nothing. The key is a hash: what someone typed into the e-mail
 * field (sometimes a password) is never stored.
 */
export const LoginThrottleSchema = defineEntity({
  name: 'LoginThrottle',
  properties: {
    keyHash: p.text().primary(),
    // account, address or device: what the key counts.
    kind: p.text(),
    failures: p.integer(),
    windowStart: p.datetime().index(),
  },
});
export type LoginThrottle = InferEntity<typeof LoginThrottleSchema>;
