// List Engine Versions, List Engine Version Properties, List Server Types.
import type { CatalogService } from '../../domain/catalog-service.js';
import { engineList, serverTypeList } from '../serializers.js';
import type { Handler } from './handler.js';

export function catalogHandlers(catalog: CatalogService): Record<string, Handler> {
  return {
    cachestoreListEngineVersions: async ({ query }) => ({
      status: 200,
      body: engineList(catalog.engineVersions({ id: query.id, productImageType: query.product_image_type, eosIncluded: query.eos_included === true })),
    }),
    cachestoreListEngineVersionProperties: async ({ params }) => ({
      status: 200,
      body: { contents: catalog.engineProperties(params.dbaas_engine_version_id) },
    }),
    cachestoreListServerTypes: async ({ query }) => ({
      status: 200,
      body: serverTypeList(catalog.serverTypes({ name: query.name, productImageType: query.product_image_type })),
    }),
  };
}
