// What the in-process benchmarks share: the whole service in this process on a data dir of its
// own, stopped (engines and files too) on Ctrl-C and on failure, and one pass per installed
// engine, or only the one asked for with --engine.
import { engineVersions, startHarness, type Harness } from '../test/support/harness.js';

export type Engine = Awaited<ReturnType<typeof engineVersions>>[number];

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
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
