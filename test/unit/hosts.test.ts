import { describe, expect, it } from 'vitest';
import { hostAllowed, hostName, isLoopbackAddress } from '../../src/bridge/hosts.ts';

describe('bridge Host check', () => {
  it('parses host headers', () => {
    expect(hostName('127.0.0.1:8008')).toBe('127.0.0.1');
    expect(hostName('[::1]:8008')).toBe('::1');
    expect(hostName('LocalHost')).toBe('localhost');
  });
  it('accepts loopback names only by default', () => {
    for (const h of ['127.0.0.1:8008', 'localhost:8008', '[::1]:8008', '127.1.2.3', 'localhost'])
      expect(hostAllowed(h, '127.0.0.1')).toBe(true);
    for (const h of ['evil.example:8008', 'localhost.evil.example', '192.168.1.5:8008', '', undefined])
      expect(hostAllowed(h, '127.0.0.1')).toBe(false);
  });
  it('accepts the explicit listen address, never a wildcard', () => {
    expect(hostAllowed('192.168.1.5:8008', '192.168.1.5')).toBe(true);
    expect(hostAllowed('0.0.0.0:8008', '0.0.0.0')).toBe(false);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('10.0.0.1')).toBe(false);
  });
});
