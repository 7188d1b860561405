// Set Security Group Rules: checks the change against the allow-list in force and records it
// as a request in the ledger (the workflow stores the list and rebuilds the kernel's rules).
import { planAllowListChange } from './allow-list.js';
import { notFound, type ClusterService, type Submitted } from './cluster-service.js';
import type { Store } from './ports.js';
import type { Principal } from './principal.js';

export interface SecurityGroupRulesBody {
  add_ip_addresses?: string[];
  del_ip_addresses?: string[];
}

export class SecurityGroupService {
  constructor(private readonly deps: { store: Store; clusters: ClusterService }) {}

  async setRules(p: Principal, id: string, body: SecurityGroupRulesBody): Promise<Submitted> {
    const cluster = await this.deps.store.findCluster(p.accountId, id);
    if (!cluster) throw notFound(id);
    const change = { add: body.add_ip_addresses ?? [], del: body.del_ip_addresses ?? [] };
    // Throws a 400 naming each bad entry; nothing is recorded then.
    planAllowListChange(cluster.allowableIpAddresses, change);
    return this.deps.clusters.begin(p, cluster, 'set-security-group-rules', { ...change, previous: cluster.allowableIpAddresses });
  }
}
