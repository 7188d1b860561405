// The environment an engine process starts with. The service's own settings, its API secret key
// and master key among them when given by environment, are not the engine's: a long-lived engine
// or Sentinel would otherwise carry them in /proc/<pid>/environ for its whole life.
export function engineEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CACHESTORE_')));
}
