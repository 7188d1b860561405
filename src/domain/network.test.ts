import { describe, expect, it } from 'vitest';
import { chooseAddresses } from './network.js';

/** A probe that refuses the listed ip:port pairs and counts its calls. */
function probe(busy: string[]) {
  const calls: string[] = [];
  return {
    calls,
    isFree: (ip: string, port: number) => {
      calls.push(`${ip}:${port}`);
      return !busy.includes(`${ip}:${port}`);
    },
  };
}

describe('chooseAddresses', () => {
  it('gives each instance the lowest address neither held in the store nor busy on one of its ports', async () => {
    const p = probe(['10.0.0.2:26379']);
    const choice = await chooseAddresses('10.0.0.0/29', [{ requestedIp: null, ports: [6379, 26379] }, { requestedIp: null, ports: [6379] }], new Set(['10.0.0.1']), p.isFree);
    expect(choice).toEqual({ ok: true, addresses: ['10.0.0.3', '10.0.0.4'] });
    // 10.0.0.1 is never probed: the store says it is held.
    expect(p.calls.some((c) => c.startsWith('10.0.0.1:'))).toBe(false);
  });

  it('keeps an address asked for, and no other instance gets it', async () => {
    const choice = await chooseAddresses('10.0.0.0/29', [{ requestedIp: null, ports: [6379] }, { requestedIp: '10.0.0.1', ports: [6379] }], new Set(), probe([]).isFree);
    expect(choice).toEqual({ ok: true, addresses: ['10.0.0.2', '10.0.0.1'] });
  });

  it('refuses an address asked for that is held or busy, naming the instance', async () => {
    const wanted = [{ requestedIp: null, ports: [6379] }, { requestedIp: '10.0.0.5', ports: [6379] }];
    expect(await chooseAddresses('10.0.0.0/29', wanted, new Set(['10.0.0.5']), probe([]).isFree)).toEqual({ ok: false, index: 1, why: 'requested-in-use' });
    expect(await chooseAddresses('10.0.0.0/29', wanted, new Set(), probe(['10.0.0.5:6379']).isFree)).toEqual({ ok: false, index: 1, why: 'requested-in-use' });
  });

  it('says the subnet is full for the first instance without an address, and stops probing at the limit', async () => {
    // A /30 has two usable addresses.
    const full = await chooseAddresses('10.0.0.0/30', [{ requestedIp: null, ports: [1] }, { requestedIp: null, ports: [1] }, { requestedIp: null, ports: [1] }], new Set(), probe([]).isFree);
    expect(full).toEqual({ ok: false, index: 2, why: 'subnet-full' });
    const p = probe(['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1', '10.0.0.4:1']);
    expect(await chooseAddresses('10.0.0.0/24', [{ requestedIp: null, ports: [1] }], new Set(), p.isFree, 3)).toEqual({ ok: false, index: 0, why: 'subnet-full' });
    expect(p.calls).toHaveLength(3);
  });
});
