// Read-only catalogue queries: engine versions found on this machine and server types.
import { SERVER_TYPES, type EngineVersion, type ServerType } from './catalog.js';
import { DEFAULT_DATABASE_PORT, DEFAULT_SENTINEL_PORT } from './create-cluster.js';
import { ValidationError } from './errors.js';

export class CatalogService {
  constructor(private readonly versions: () => EngineVersion[]) {}

  engineVersions(filter: { id?: string | null; productImageType?: string | null; eosIncluded?: boolean }): EngineVersion[] {
    return this.versions().filter(
      (v) =>
        (!filter.id || v.id === filter.id) &&
        (!filter.productImageType || v.productImageType === filter.productImageType) &&
        (filter.eosIncluded || !v.endOfService),
    );
  }

  engineProperties(id: string): Array<{ name: string; value: string }> {
    const v = this.versions().find((e) => e.id === id);
    if (!v) throw ValidationError.field(['path', 'dbaas_engine_version_id'], `'${id}' is not an engine version offered here; List Engine Versions shows the ids`);
    return [
      { name: 'product_image_type', value: v.productImageType },
      { name: 'software_version', value: v.softwareVersion },
      { name: 'major_version', value: v.majorVersion },
      { name: 'default_database_port', value: String(DEFAULT_DATABASE_PORT) },
      { name: 'default_sentinel_port', value: String(DEFAULT_SENTINEL_PORT) },
      { name: 'max_replica_count', value: '2' },
      { name: 'server_type_prefix', value: v.engine === 'redis' ? 'redis' : 'css' },
    ];
  }

  serverTypes(filter: { name?: string | null; productImageType?: string | null }): ServerType[] {
    const offered = new Set(this.versions().map((v) => v.engine));
    return SERVER_TYPES.filter(
      (t) => offered.has(t.engine) && (!filter.name || t.name === filter.name) && (!filter.productImageType || t.productImageType === filter.productImageType),
    );
  }
}
