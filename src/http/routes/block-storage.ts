// Set Block Storage Size of a block storage group.
import type { BlockStorageService } from '../../domain/block-storage-change.js';
import { asyncResponse } from '../serializers.js';
import type { Handler } from './handler.js';

export function blockStorageHandlers(svc: BlockStorageService): Record<string, Handler> {
  return {
    cachestoreSetBlockStorageSize: async ({ principal, params, body }) => {
      const r = await svc.resize(principal, params.block_storage_group_id, body.size_gb);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
  };
}
