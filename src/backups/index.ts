// Chooses where backups and their write logs are kept (CACHESTORE_BACKUP_STORAGE). Workflows see
// only the BackupStorage port.
import { join } from 'node:path';
import { ConfigError, type Config } from '../config.js';
import { LocalBackupStorage, type BackupStorage } from './storage.js';

export async function createBackupStorage(config: Config): Promise<BackupStorage> {
  // Write logs start beside the engines' data either way: they are hard links to the engines'
  // own files (kept for good locally; a spool until shipped to an object store).
  const logsDir = join(config.dataDir, 'wal-archive');
  if (config.backupStorage !== 's3') return new LocalBackupStorage(config.backupDir, logsDir);
  if (!config.s3) throw new ConfigError('CACHESTORE_BACKUP_STORAGE=s3 needs CACHESTORE_S3_BUCKET');
  // Loaded only for this storage: the AWS SDK is hundreds of modules that every start with the
  // local storage would pay for in CPU (as the Kubernetes client, drivers/index.ts).
  const { openS3Storage } = await import('./s3-storage.js');
  try {
    return await openS3Storage(config.s3, logsDir);
  } catch (err) {
    throw new ConfigError(`CACHESTORE_BACKUP_STORAGE=s3: ${err instanceof Error ? err.message : String(err)}`);
  }
}
