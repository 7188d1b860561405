// What the in-process benchmarks share: the whole service in this process on a data dir of its
// own, stopped (engines and files too) on Ctrl-C and on failure, and one pass per installed
// engine, or only the one asked for with --engine.
import { engineVersions, startHarness, type Harness } from '../test/support/harness.js';

export type Engine = Awaited<ReturnType<typeof engineVersions>>[number];

/** The median: the middle value, or the mean of the two middle values of an even count. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export async function perEngine(env: Record<string, string>, only: string | undefined, pass: (h: Harness, engine: Engine) => Promise<void>): Promise<void> {
  const h = await startHarness(env);
  const stop = async () => h.stop().catch(() => undefined);
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    for (const engine of await engineVersions(h.client)) {
      if (only && !engine.product_image_type.toLowerCase().startsWith(only)) continue;
      await pass(h, engine);
    }
  } finally {
    await stop();
  }
}
