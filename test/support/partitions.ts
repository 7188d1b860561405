// Network partitions between the nodes of a cluster, for tests and benchmarks. Every node has its
// own loopback address (src/domain/network.ts), so a node is cut off by dropping the packets
// between its address and the other nodes' addresses, both ways, in an nftables table of the
// caller's own (`inet partition_<name>`). Only traffic between nodes is cut: clients and the
// service reach every node from 127.0.0.1 as before. Packets are dropped, not refused, so open
// connections (replication links, Sentinel links) hang as on a real partition instead of closing.
import { spawn } from 'node:child_process';

function nft(script: string): Promise<void> {
  return new Promise((done, fail) => {
    const p = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', fail);
    p.on('close', (code) => (code === 0 ? done() : fail(new Error(`nft: ${stderr.trim()}`))));
    p.stdin.end(script);
  });
}

/** A cut: `node` on one side, `others` on the other. */
export interface Cut {
  node: string;
  others: string[];
}

export interface Partitions {
  readonly table: string;
  /** Cuts `node` off from `others` (replacing any cut made before). */
  cut(node: string, others: string[]): Promise<void>;
  /** Heals every cut (the table stays, empty). */
  heal(): Promise<void>;
  /** Removes the table; safe to call twice and when nothing was cut. */
  close(): Promise<void>;
}

/** The rules of a table holding `cuts` (the table is replaced whole, in one nft transaction). */
export function partitionScript(table: string, cuts: Cut[]): string {
  const lines = [`table inet ${table}`, `delete table inet ${table}`, `table inet ${table} {`];
  lines.push('  chain input {', '    type filter hook input priority filter - 10; policy accept;');
  for (const c of cuts) {
    const set = `{ ${c.others.join(', ')} }`;
    lines.push(`    ip saddr ${c.node} ip daddr ${set} drop`, `    ip saddr ${set} ip daddr ${c.node} drop`);
  }
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

/** A partition table named after the test (letters, digits and `_` only, as nft wants). */
export async function partitions(name: string): Promise<Partitions> {
  const table = `partition_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 60);
  await nft(partitionScript(table, []));
  return {
    table,
    cut: (node, others) => nft(partitionScript(table, [{ node, others: others.filter((o) => o !== node) }])),
    heal: () => nft(partitionScript(table, [])),
    close: () => nft(`table inet ${table}\ndelete table inet ${table}\n`),
  };
}
