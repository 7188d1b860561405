// The local driver's engine catalogue: the engines installed on this machine, read from their
// binaries (engines/detect.ts), and the binaries launches, verifications and restores run.
import type { EngineVersion } from '../../domain/catalog.js';
import type { EngineKind } from '../../domain/model.js';
import { engineDetector, softwareVersionOf, type EngineBinaries, type InstalledEngine } from '../../engines/detect.js';

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
  /** Runs the binaries (`--version`) only when a file they are read from changed (issue 15). */
  private readonly detect: () => Promise<InstalledEngine[]>;

  /** `searchPath`: where to look for the binaries ($PATH form; CACHESTORE_ENGINE_PATH). */
  constructor(searchPath: string) {
    this.detect = engineDetector(searchPath);
  }

  /** Reads the binaries again (if their files changed) and returns the versions on offer. */
  async read(): Promise<EngineVersion[]> {
    this.found = mergeReadings(this.found, await this.detect());
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
