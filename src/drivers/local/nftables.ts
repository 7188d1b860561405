// Allow-lists enforced by the kernel: one nftables table per service instance (named from its
// data dir, so services running side by side with their own data dirs never touch each other's
// rules), rebuilt whole from the store in one `nft -f` transaction every time. A crash between
// two changes therefore leaves either the old rules or the new ones, never a mix.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { ClusterAccess } from '../../domain/allow-list.js';
import type { Firewall } from '../driver.js';

/** The table this service owns: `inet cachestore_<12 hex of the data dir's path>`. */
export function nftTableName(dataDir: string): string {
  return `cachestore_${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`;
}

/**
 * The whole table as one script. `table` then `delete table` first makes the delete valid
 * when the table does not exist yet; the new table follows in the same transaction. With no
 * cluster to guard the table is simply gone. Packets from a source not allowed to a guarded
 * ip:port are dropped (new and open connections alike); everything else is accepted.
 */
export function renderNftScript(table: string, rules: ClusterAccess[]): string {
  const lines = [`table inet ${table}`, `delete table inet ${table}`];
  if (rules.length === 0) return `${lines.join('\n')}\n`;
  lines.push(`table inet ${table} {`);
  rules.forEach((r, i) => {
    lines.push(`  set allow_${i} {`, '    type ipv4_addr', '    flags interval', '    auto-merge', `    elements = { ${r.allowed.join(', ')} }`, '  }');
    lines.push(`  set guard_${i} {`, '    type ipv4_addr . inet_service', `    elements = { ${r.endpoints.map((e) => `${e.ip} . ${e.port}`).join(', ')} }`, '  }');
  });
  lines.push('  chain input {', '    type filter hook input priority filter; policy accept;');
  rules.forEach((r, i) => {
    lines.push(`    ip daddr . tcp dport @guard_${i} ip saddr != @allow_${i} drop comment "cluster ${r.clusterId}"`);
  });
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

function nft(args: string[], input?: string): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    const p = spawn('nft', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (e) => done({ code: -1, stderr: e.message }));
    p.on('close', (code) => done({ code: code ?? -1, stderr: stderr.trim() }));
    p.stdin.on('error', () => undefined);
    p.stdin.end(input ?? '');
  });
}

export class NftFirewall implements Firewall {
  private constructor(
    readonly table: string,
    readonly unavailable: string | null,
  ) {}

  /** Finds out whether nftables can be used here (root, the nft binary, a kernel that takes it). */
  static async detect(dataDir: string): Promise<NftFirewall> {
    const table = nftTableName(dataDir);
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      return new NftFirewall(table, 'the service does not run as root, so it cannot load nftables rules');
    }
    const probe = await nft(['list', 'tables']);
    if (probe.code !== 0) {
      const why = /ENOENT/.test(probe.stderr) ? 'the nft program (package nftables) is not installed' : `nft does not work here: ${probe.stderr}`;
      return new NftFirewall(table, why);
    }
    return new NftFirewall(table, null);
  }

  async apply(rules: ClusterAccess[]): Promise<void> {
    if (this.unavailable) return;
    const r = await nft(['-f', '-'], renderNftScript(this.table, rules));
    if (r.code !== 0) throw new Error(`nft refused the allow-list rules: ${r.stderr}`);
  }
}

/** Deletes the table a service with this data dir owns (tests clean up with it). */
export async function removeNftTable(dataDir: string): Promise<void> {
  const table = nftTableName(dataDir);
  await nft(['-f', '-'], `table inet ${table}\ndelete table inet ${table}\n`);
}
