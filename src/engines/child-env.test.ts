import { expect, it } from 'vitest';
import { engineEnv } from './child-env.js';

it("an engine's environment keeps PATH and the like but none of the service's settings", () => {
  const env = engineEnv({ PATH: '/usr/bin', HOME: '/root', CACHESTORE_SECRET_KEY: 's', CACHESTORE_MASTER_KEY: 'm', CACHESTORE_DATABASE_URL: 'postgres://u:p@h/db' });
  expect(env).toEqual({ PATH: '/usr/bin', HOME: '/root' });
});
