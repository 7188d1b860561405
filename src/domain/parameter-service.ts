// The application service behind the parameter routes: parameter groups and their parameters
// (the catalogue), a cluster's values as its engines run them, and Set / Synchronize Parameter
// Values, which are requests in the operations ledger. Every value is checked here, against
// what the engines run now and the catalogue, before anything is recorded.
import { fencedParameters, fenceProblem, type FencedShape } from './fencing.js';
import type { EngineVersion } from './catalog.js';
import { checkPage, notFound, type ClusterService, type Submitted } from './cluster-service.js';
import { InvalidStateError, ValidationError, type FieldProblem } from './errors.js';
import { assertCanStart, busyError } from './lifecycle.js';
import type { Cluster } from './model.js';
import {
  checkValue, groupOf, isModifiable, parameterGroups, parametersOf, type GroupParameter, type ParameterGroup,
} from './parameters.js';
import type { EngineConfigReader, Store } from './ports.js';
import type { Principal } from './principal.js';

export interface ParameterServiceDeps {
  store: Store;
  clusters: ClusterService;
  engines: EngineConfigReader;
  engineVersions: () => EngineVersion[];
}

export interface ParameterValue {
  param: GroupParameter;
  applied: string;
  /** What a new cluster like this one runs. */
  defaultValue: string;
}

export interface ParameterPage {
  group: ParameterGroup;
  params: GroupParameter[];
  total: number;
  page: number;
  size: number;
  sort: string;
}

export interface ParameterRequestItem {
  id: string;
  new_value: string;
  old_value: string;
}

const GROUP_SORT = /^(name|major_version|product_image_type|created_at):(asc|desc)$/;
const PARAM_SORT = /^(name|created_at):(asc|desc)$/;
const MAX_SIZE = 1000;

export class ParameterService {
  constructor(private readonly deps: ParameterServiceDeps) {}

  groups(q: { major_version?: string | null; product_image_type?: string | null; sort?: string | null }): { groups: ParameterGroup[]; sort: string } {
    const sort = q.sort ?? 'name:asc';
    const m = GROUP_SORT.exec(sort);
    if (!m) throw ValidationError.field(['query', 'sort'], 'must be <field>:<asc|desc> with field name, major_version, product_image_type or created_at');
    // major_version "7" matches "7.0" (the major number alone), "7.0" matches itself.
    const major = q.major_version ?? null;
    const groups = parameterGroups(this.deps.engineVersions()).filter(
      (g) =>
        (!major || g.majorVersion === major || g.majorVersion.startsWith(`${major}.`)) &&
        (!q.product_image_type || g.productImageType === q.product_image_type),
    );
    // The groups exist since the engines do: created_at orders as name does.
    const key = (g: ParameterGroup) => (m[1] === 'major_version' ? g.majorVersion : m[1] === 'product_image_type' ? g.productImageType : g.name);
    groups.sort((a, b) => compare(key(a), key(b)) || compare(a.name, b.name));
    if (m[2] === 'desc') groups.reverse();
    return { groups, sort };
  }

  parameters(q: { dbaas_parameter_group_id: string; page?: number | null; size?: number | null; sort?: string | null }): ParameterPage {
    const sort = q.sort ?? 'name:asc';
    const m = PARAM_SORT.exec(sort);
    if (!m) throw ValidationError.field(['query', 'sort'], 'must be name:asc, name:desc, created_at:asc or created_at:desc');
    const page = q.page ?? 0;
    const size = q.size ?? 20;
    if (size > MAX_SIZE) throw ValidationError.field(['query', 'size'], `must be at most ${MAX_SIZE}`);
    checkPage(page);
    const group = parameterGroups(this.deps.engineVersions()).find((g) => g.id === q.dbaas_parameter_group_id);
    if (!group) {
      throw ValidationError.field(['query', 'dbaas_parameter_group_id'], `'${q.dbaas_parameter_group_id}' is not a parameter group offered here; List Parameter Groups shows the ids`);
    }
    const all = parametersOf(group.id, group.engine);
    if (m[2] === 'desc') all.reverse();
    return { group, params: all.slice(page * size, page * size + size), total: all.length, page, size, sort };
  }

  private async cluster(p: Principal, id: string): Promise<Cluster> {
    const c = await this.deps.store.findCluster(p.accountId, id);
    if (!c) throw notFound(id);
    return c;
  }

  private catalogueOf(c: Cluster): GroupParameter[] {
    const g = groupOf(c.engine, c.productImageType, c.softwareVersion);
    return parametersOf(g.id, g.engine);
  }

  /** List Parameter Values: what the engines run now; the service's values when none answers. */
  async values(p: Principal, id: string): Promise<{ cluster: Cluster; values: ParameterValue[] }> {
    const cluster = await this.cluster(p, id);
    const params = this.catalogueOf(cluster);
    const running = await this.deps.engines.read(id, params.map((x) => x.def.name));
    const fenceDefaults = fencedParameters({}, shapeOf(cluster));
    const values = params.map((param) => {
      const held = cluster.parameters[param.def.name];
      const live = running?.[param.def.name];
      // Derived values (from the server type, the address...) are what this cluster's engines got.
      // The fence's values are what a new cluster of this shape runs (domain/fencing.ts).
      const defaultValue = param.def.derived && live !== undefined ? live : (fenceDefaults[param.def.name] ?? param.engine.default);
      return { param, applied: live ?? held ?? defaultValue, defaultValue };
    });
    return { cluster, values };
  }

  /** Set Parameter Values: checked in full here (400 naming each problem), applied by a request. */
  async set(p: Principal, id: string, items: ParameterRequestItem[]): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    const active = await this.deps.store.activeRequest(id);
    if (active) throw busyError(cluster, active.id);
    assertCanStart(cluster, 'set-parameters');
    if (items.length === 0) throw ValidationError.field(['body', 'parameters'], 'name at least one parameter to change (List Parameter Values shows them)');
    const params = this.catalogueOf(cluster);
    const byId = new Map(params.map((x) => [x.id, x]));
    const byName = new Map(params.map((x) => [x.def.name, x]));
    const problems: FieldProblem[] = [];
    const problem = (i: number, field: string, msg: string) => problems.push({ loc: ['body', 'parameters', String(i), field], msg, type_: 'value_error' });
    const chosen: Array<{ i: number; item: ParameterRequestItem; param: GroupParameter }> = [];
    const seen = new Set<string>();
    items.forEach((item, i) => {
      // The id List Parameter Values shows; the parameter's name is accepted too.
      const param = byId.get(item.id) ?? byName.get(item.id);
      if (!param) return problem(i, 'id', `'${item.id}' is not a parameter of cluster '${cluster.name}'; List Parameter Values shows the ids`);
      if (seen.has(param.def.name)) return problem(i, 'id', `${param.def.name} is named twice; name each parameter once`);
      seen.add(param.def.name);
      if (!isModifiable(param.def)) return problem(i, 'id', `${param.def.name} is owned by the service (${param.def.owner}) and cannot be changed`);
      chosen.push({ i, item, param });
    });
    if (problems.length > 0) throw new ValidationError(summary(problems), problems);

    const running = await this.deps.engines.read(id, chosen.map((c) => c.param.def.name));
    if (!running) throw new InvalidStateError(`The engines of cluster '${cluster.name}' do not answer now; Synchronize Cluster State shows why. Nothing was changed.`);
    const changes = [];
    for (const { i, item, param } of chosen) {
      const name = param.def.name;
      const applied = running[name];
      if (applied === undefined) {
        problem(i, 'id', `${name} is not known to this engine`);
        continue;
      }
      if (item.old_value !== applied) {
        problem(i, 'old_value', `${name}: old_value ${JSON.stringify(item.old_value)} is not what the engines run now (${JSON.stringify(applied)}); read List Parameter Values and send the request again`);
        continue;
      }
      const checked = checkValue(param.def, param.engine, item.new_value, applied);
      if (!checked.ok) {
        problem(i, 'new_value', `${name}: ${JSON.stringify(item.new_value)} is not allowed; allowed: ${checked.allowed}`);
        continue;
      }
      const fence = fenceProblem(name, checked.value, shapeOf(cluster));
      if (fence) {
        problem(i, 'new_value', `${name}: ${JSON.stringify(item.new_value)} is not allowed; ${fence}`);
        continue;
      }
      changes.push({ name, value: checked.value, old: applied, apply: param.def.apply });
    }
    if (problems.length > 0) throw new ValidationError(summary(problems), problems);
    const detail = await this.deps.store.clusterDetail(null, id);
    const primary = detail?.instances.find((x) => x.roleType === 'MASTER')?.id ?? null;
    // A restart-only value needs a rolling restart: the request waits for the maintenance window.
    return this.deps.clusters.beginInWindow(p, cluster, 'set-parameters', { changes, before: cluster.parameters, primary }, changes.some((c) => c.apply === 'static'));
  }

  async sync(p: Principal, id: string): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    return this.deps.clusters.begin(p, cluster, 'sync-parameters', null);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function summary(problems: FieldProblem[]): string {
  return problems.map((p) => `${p.loc.join('.')}: ${p.msg}`).join('; ');
}

function shapeOf(c: Cluster): FencedShape {
  return { haEnabled: c.haEnabled, replicas: c.replicaCount };
}
