/**
 * The Host allow-list's edge cases that fastify's inject cannot send (it replaces an empty Host
 * with localhost:80): an empty or malformed Host is refused; the loopback names pass with any port.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostAllowed, hostPolicy } from '../../src/server/allowed_hosts.js';

describe('hostAllowed', () => {
  const policy = hostPolicy('127.0.0.1');
  it('refuses an empty, blank or malformed Host header', () => {
    for (const h of ['', ' ', ':8080', 'localhost:80@evil.example', 'evil.example', '127.0.0.1.evil.example']) assert.equal(hostAllowed(policy, h), false, JSON.stringify(h));
  });
  it('accepts the loopback names with any port', () => {
    for (const h of ['localhost', 'localhost:8080', '127.0.0.1:1', '[::1]:8080']) assert.equal(hostAllowed(policy, h), true, h);
  });
});
