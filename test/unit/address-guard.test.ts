// Which addresses the git proxy may reach (src/bridge/address-guard.ts): public ones only,
// whatever the spelling; a name is judged by every address it resolves to.
import { describe, expect, it } from 'vitest';
import { addressBlocked, resolveHost } from '../../src/bridge/address-guard.ts';

describe('address guard', () => {
  it('blocks loopback, private, link-local, metadata, CGNAT, multicast, reserved and mapped addresses', () => {
    for (const a of [
      '127.0.0.1',
      '127.255.0.9',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.10',
      '169.254.169.254',
      '100.64.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      'fc00::1',
      'fd00:ec2::254',
      'fe80::1',
      'ff02::1',
      'not-an-address',
    ])
      expect({ a, blocked: addressBlocked(a) }).toEqual({ a, blocked: true });
  });

  it('lets public addresses through', () => {
    for (const a of ['8.8.8.8', '140.82.112.3', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '2a00:1450:4001::200e'])
      expect({ a, blocked: addressBlocked(a) }).toEqual({ a, blocked: false });
  });

  it('judges a name by what it resolves to: localhost and 0x7f000001 are loopback', async () => {
    expect((await resolveHost('localhost')).blocked).toBeTruthy();
    expect((await resolveHost('0x7f000001')).blocked).toBe('127.0.0.1');
    expect((await resolveHost('[::ffff:127.0.0.1]')).blocked).toBeTruthy();
  });
});
