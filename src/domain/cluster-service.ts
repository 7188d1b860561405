// The application service behind the cluster routes: ownership by account, state rules, and
// recording every mutation in the operations ledger before any work happens.
import type { CreateClusterBody, ListClustersQuery } from '../contract/types.js';
import type { EngineVersion } from './catalog.js';
import { planCluster, type PlannedInstance } from './create-cluster.js';
import { InvalidStateError, NotFoundError, ValidationError } from './errors.js';
import { newId, newRequestId, newServiceSecret } from './ids.js';
import { assertCanStart, busyError, TRANSITIONS } from './lifecycle.js';
import { SERVICE_STATES, type BackupHistory, type Cluster, type ClusterDetail, type Instance, type OperationKind, type OperationRequest, type ServiceState } from './model.js';
import { deferral } from './maintenance-window.js';
import type { Subnet } from './network.js';
import { UniqueViolation, type Clock, type EndpointAllocator, type ClusterSummary, type SortField, type Store } from './ports.js';
import type { Principal } from './principal.js';

export interface ClusterServiceDeps {
  store: Store;
  /** The driver: which addresses are free where engines run. */
  endpoints: EndpointAllocator;
  clock: Clock;
  engineVersions: () => EngineVersion[];
  subnets: Subnet[];
  /** Called after a request is recorded, so a worker picks it up at once. */
  onSubmitted: () => void;
  /** The schedule's clock, which maintenance windows open on (tests move it by hand). */
  scheduleClock?: Clock;
}

export interface Submitted {
  requestId: string;
  clusterId: string;
}

export interface ClusterPage {
  clusters: ClusterSummary[];
  total: number;
  page: number;
  size: number;
  sort: string;
}

export class ClusterService {
  // Creates allocate addresses one at a time in this process; the store's unique index guards
  // against other service replicas.
  private allocation: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ClusterServiceDeps) {}

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  private newRequest(p: Principal, clusterId: string, operation: OperationKind, payload: Record<string, unknown> | null = null): OperationRequest {
    const at = this.now();
    return {
      id: newRequestId(),
      accountId: p.accountId,
      clusterId,
      operation,
      state: 'REQUESTED',
      step: null,
      error: null,
      payload,
      createdBy: p.userId,
      createdAt: at,
      updatedAt: at,
      finishedAt: null,
    };
  }

  async create(p: Principal, body: CreateClusterBody): Promise<Submitted> {
    return this.createCluster(p, body, 'create', null);
  }

  /** Plans and records a new cluster; `restore` ones start from a backup (payload says which). */
  async createCluster(
    p: Principal,
    body: CreateClusterBody,
    op: 'create' | 'restore',
    payload: Record<string, unknown> | null,
    parameters: Record<string, string> = {},
    commands: Record<string, string> = {},
  ): Promise<Submitted> {
    const plan = planCluster(body, {
      accountId: p.accountId,
      userId: p.userId,
      now: this.now(),
      engineVersions: this.deps.engineVersions(),
      subnets: this.deps.subnets,
    });
    // A restore keeps the source's parameter values.
    plan.cluster.parameters = { ...parameters };
    plan.cluster.commands = { ...commands };
    const subnet = this.deps.subnets.find((s) => s.id === plan.cluster.subnetId)!;
    const request = this.newRequest(p, plan.cluster.id, op, payload);
    const run = this.allocation.then(async () => {
      const instances = await this.allocate(subnet, plan.instances);
      await this.deps.store.createCluster(
        {
          cluster: plan.cluster,
          password: plan.password,
          serviceSecret: newServiceSecret(),
          groups: plan.groups,
          instances: plan.instances.map((pi, i): Instance => ({
            id: newId(),
            clusterId: plan.cluster.id,
            groupId: plan.groups[pi.groupIndex].id,
            name: pi.name,
            roleType: pi.roleType,
            serviceIpAddress: instances[i],
            port: pi.port,
            serviceState: 'CREATING',
          })),
        },
        request,
      );
    });
    this.allocation = run.catch(() => undefined);
    try {
      await run;
    } catch (err) {
      if (err instanceof UniqueViolation && err.what === 'cluster_name') {
        throw ValidationError.field(['body', 'name'], `a cluster named '${body.name}' already exists in this account; choose another name`);
      }
      if (err instanceof UniqueViolation && err.what === 'address') {
        throw new InvalidStateError('Another cluster took the same address at the same moment; send the request again.');
      }
      throw err;
    }
    this.deps.onSubmitted();
    return { requestId: request.id, clusterId: plan.cluster.id };
  }

  /** One free address per instance: the one asked for, or the lowest free one in the subnet. */
  private async allocate(subnet: Subnet, planned: PlannedInstance[]): Promise<string[]> {
    const taken = await this.deps.store.takenAddresses(subnet.id);
    const choice = await this.deps.endpoints.allocateAddresses(subnet, planned, taken);
    if (choice.ok) return choice.addresses;
    const p = planned[choice.index];
    if (choice.why === 'requested-in-use') {
      throw ValidationError.field([...p.requestLoc, 'service_ip_address'], `${p.requestedIp} is already in use; choose another address or leave it out`);
    }
    throw ValidationError.field(['body', 'subnet_id'], `subnet ${subnet.id} (${subnet.cidr}) has no free address for port(s) ${p.ports.join(', ')}; terminate clusters you no longer need or use another subnet`);
  }

  async list(p: Principal, q: ListClustersQuery): Promise<ClusterPage> {
    const sort = q.sort ?? 'created_at:desc';
    const [field, dir] = sort.split(':') as [SortField, 'asc' | 'desc'];
    let serviceState: ServiceState | undefined;
    if (q.service_state) {
      if (!(SERVICE_STATES as readonly string[]).includes(q.service_state)) {
        throw ValidationError.field(['query', 'service_state'], `must be one of: ${SERVICE_STATES.join(', ')}`);
      }
      serviceState = q.service_state as ServiceState;
    }
    const page = q.page ?? 0;
    const size = q.size ?? 20;
    if (size > 1000) throw ValidationError.field(['query', 'size'], 'must be at most 1000');
    checkPage(page);
    if (size === 0) {
      // A page of size 0 holds nothing; the count still tells how many match.
      const { total } = await this.deps.store.listClusters(p.accountId, { name: q.name ?? undefined, serviceState, page: 0, size: 1, sortField: field, sortDir: dir });
      return { clusters: [], total, page, size, sort };
    }
    const { clusters, total } = await this.deps.store.listClusters(p.accountId, {
      name: q.name ?? undefined,
      serviceState,
      page,
      size,
      sortField: field,
      sortDir: dir,
    });
    return { clusters, total, page, size, sort };
  }

  async show(p: Principal, id: string): Promise<Readonly<ClusterDetail>> {
    const detail = await this.deps.store.clusterView(p.accountId, id);
    if (!detail) throw notFound(id);
    return detail;
  }

  /** Stop, start, restart, terminate or sync: 400 naming the state when it is not allowed now. */
  async mutate(p: Principal, id: string, op: 'stop' | 'start' | 'restart' | 'terminate' | 'sync'): Promise<Submitted> {
    const cluster = await this.deps.store.findCluster(p.accountId, id);
    if (!cluster) throw notFound(id);
    let payload: Record<string, unknown> | null = null;
    if (op === 'restart') {
      // The rolling restart ends with the node that is primary now.
      const detail = await this.deps.store.clusterDetail(null, id);
      payload = { primary: detail?.instances.find((i) => i.roleType === 'MASTER')?.id ?? null };
    }
    if (op === 'sync') payload = { previous: cluster.serviceState };
    return this.begin(p, cluster, op, payload);
  }

  /** Planned switchover to the replica named `hostName` (an instance name as Show Cluster shows it). */
  async switchover(p: Principal, id: string, hostName: string): Promise<Submitted> {
    const detail = await this.deps.store.clusterDetail(p.accountId, id);
    if (!detail) throw notFound(id);
    const { cluster, instances } = detail;
    if (!cluster.haEnabled) {
      throw new InvalidStateError(`Cluster '${cluster.name}' is a standalone cluster: it has no replica to switch over to.`);
    }
    if (cluster.serviceState !== 'RUNNING') assertCanStart(cluster, 'switchover');
    const replicas = instances.filter((i) => i.roleType === 'REPLICA');
    const target = instances.find((i) => i.name === hostName);
    const loc = ['body', 'switch_host_name'];
    if (!target || (target.roleType !== 'REPLICA' && target.roleType !== 'MASTER')) {
      throw ValidationError.field(loc, `'${hostName}' is not a replica of cluster '${cluster.name}'; its replicas are: ${replicas.map((r) => r.name).join(', ')}`);
    }
    if (target.roleType === 'MASTER') {
      throw ValidationError.field(loc, `'${hostName}' is the primary already; name one of its replicas: ${replicas.map((r) => r.name).join(', ')}`);
    }
    if (target.serviceState !== 'RUNNING') {
      throw ValidationError.field(loc, `replica '${hostName}' is ${target.serviceState}; only a RUNNING replica can become the primary`);
    }
    return this.begin(p, cluster, 'switchover', { target: target.id });
  }

  /**
   * Records a mutation of an existing cluster in the ledger, or says (400) why it cannot start
   * now. `backup`: the history row a backup starts, recorded with the request.
   */
  async begin(
    p: Principal,
    cluster: Cluster,
    op: Exclude<OperationKind, 'create' | 'restore'>,
    payload: Record<string, unknown> | null,
    backup?: (request: OperationRequest) => BackupHistory,
  ): Promise<Submitted> {
    const store = this.deps.store;
    const id = cluster.id;
    const active = await store.activeRequest(id);
    if (active) throw busyError(cluster, active.id);
    const t = assertCanStart(cluster, op);
    const request = this.newRequest(p, id, op, payload);
    let started: boolean;
    try {
      started = await store.beginOperation(request, t.from, TRANSITIONS[op].during, backup?.(request));
    } catch (err) {
      if (err instanceof UniqueViolation && err.what === 'backup_slot') throw err;
      if (err instanceof UniqueViolation) {
        const other = await store.activeRequest(id);
        throw busyError((await store.findCluster(null, id)) ?? cluster, other?.id ?? 'another request');
      }
      throw err;
    }
    if (!started) {
      // The state changed between our read and the update: report the state as it is now.
      const now = (await store.findCluster(null, id)) ?? cluster;
      const other = await store.activeRequest(id);
      if (other) throw busyError(now, other.id);
      assertCanStart(now, op);
      throw new InvalidStateError(`Cluster '${now.name}' changed to ${now.serviceState} meanwhile; try again.`);
    }
    this.deps.onSubmitted();
    return { requestId: request.id, clusterId: id };
  }

  /**
   * Work that restarts nodes and need not run at once (`mayWait`): while the cluster has a
   * maintenance window that is not open now, the request is recorded waiting for it (RUNNING,
   * its step says which window; README "Maintenance windows"), else it begins as any request.
   * A second request of the same kind while one waits is refused: it was checked against values
   * the waiting one is about to change.
   */
  async beginInWindow(p: Principal, cluster: Cluster, op: Exclude<OperationKind, 'create' | 'restore'>, payload: Record<string, unknown> | null, mayWait: boolean): Promise<Submitted> {
    const store = this.deps.store;
    const waiting = (await store.parkedRequests(cluster.id)).find((r) => r.operation === op);
    if (waiting) {
      throw new InvalidStateError(
        `Cluster '${cluster.name}' (${cluster.id}) has request ${waiting.id} (${op}) ${waiting.step ?? 'waiting for its maintenance window'}; ` +
          'send this one after it ran (Unset Maintenance runs it at once).',
      );
    }
    const label = mayWait ? deferral((this.deps.scheduleClock ?? this.deps.clock).now(), cluster.timezone, cluster.maintenanceOption) : null;
    if (!label) return this.begin(p, cluster, op, payload);
    const active = await store.activeRequest(cluster.id);
    if (active) throw busyError(cluster, active.id);
    assertCanStart(cluster, op);
    const request: OperationRequest = { ...this.newRequest(p, cluster.id, op, payload), state: 'RUNNING', step: label };
    await store.recordParkedRequest(request);
    await store.addEvent(cluster.id, request.id, `${op} ${label}`, request.createdAt);
    return { requestId: request.id, clusterId: cluster.id };
  }

  async request(p: Principal, id: string): Promise<OperationRequest> {
    const r = await this.deps.store.findRequest(p.accountId, id);
    if (!r) throw ValidationError.field(['path', 'request_id'], `request '${id}' is unknown to this account`);
    return r;
  }

  async events(p: Principal, id: string) {
    await this.show(p, id);
    return this.deps.store.listEvents(id);
  }
}

/** Pages count from 0; past this no store could hold a row (and the offset would overflow). */
export const MAX_PAGE = 1_000_000_000;

export function checkPage(page: number): void {
  if (page > MAX_PAGE) throw ValidationError.field(['query', 'page'], `must be at most ${MAX_PAGE} (pages count from 0)`);
}

export function notFound(id: string): NotFoundError {
  return new NotFoundError(`Cluster '${id}' was not found in this account.`);
}
