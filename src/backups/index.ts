// Chooses where backups and their write logs are kept (CACHESTORE_BACKUP_STORAGE). Workflows see
// only the BackupStorage port; an object store would be another implementation of it here.
import { join } from 'node:path';
import type { Config } from '../config.js';
import { LocalBackupStorage, type BackupStorage } from './storage.js';

export function createBackupStorage(config: Config): BackupStorage {
  // 'local' is the only kind loadConfig accepts today. Write logs stay beside the engines' data:
  // they are hard links to the engines' own files.
  return new LocalBackupStorage(config.backupDir, join(config.dataDir, 'wal-archive'));
}
