// Starts the Cache Store service. Engines outlive it: stopping the service never stops a
// customer's database.
import { ConfigError, loadConfig } from './config.js';
import { startService } from './service.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const service = await startService(config);
  await service.app.listen({ host: config.host, port: config.port });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    service.app.log.info({ signal }, 'shutting down; engines keep running');
    await service.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? `configuration error: ${err.message}` : err);
  process.exit(1);
});
