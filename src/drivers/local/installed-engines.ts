// The local driver's engine catalogue: the engines installed on this machine, read from their
// binaries (engines/detect.ts), and the binaries launches, verifications and restores run.
import type { EngineVersion } from '../../domain/catalog.js';
import type { EngineKind } from '../../domain/model.js';
import { detectEngines, softwareVersionOf, type EngineBinaries, type InstalledEngine } from '../../engines/detect.js';

/**
 * A new reading of the installed engines over the last one: an engine found now replaces what was
 * found of it before (`apt-get upgrade` installed a newer patch), one not found now keeps what
 * was found before (its package is being replaced, say), in the order first found.
 */
export function mergeReadings(before: readonly InstalledEngine[], now: readonly InstalledEngine[]): InstalledEngine[] {
  const out = [...before];
  for (const e of now) {
    const i = out.findIndex((x) => x.version.engine === e.version.engine);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

export class InstalledEngines {
  private found: InstalledEngine[] = [];

  /** `searchPath`: where to look for the binaries ($PATH form; CACHESTORE_ENGINE_PATH). */
  constructor(private readonly searchPath: string) {}

  /** Reads the binaries again and returns the versions on offer. */
  async read(): Promise<EngineVersion[]> {
    this.found = mergeReadings(this.found, await detectEngines(this.searchPath));
    return this.found.map((e) => e.version);
  }

  binaries(engine: EngineKind): EngineBinaries | undefined {
    return this.found.find((e) => e.version.engine === engine)?.binaries;
  }

  /** What the installed server binary reports now (it may have been upgraded since the last read). */
  async runnableVersion(engine: EngineKind): Promise<string | null> {
    const bin = this.binaries(engine);
    return bin ? softwareVersionOf(bin.server) : null;
  }
}
