// Fencing of an HA cluster's primary (README "Partitions and fencing"). A primary cut off from
// its replicas and Sentinels keeps its clients; Sentinel promotes a replica on the other side, and
// every write the old primary acknowledged after the cut is lost when it rejoins as a replica.
// The engines' own min-replicas-to-write / min-replicas-max-lag bound that window: a primary
// refuses writes (NOREPLICAS) once fewer than N replicas acknowledged its stream within the lag.
//
// The service sets a floor for HA clusters: at least 1 replica within FENCE_MAX_LAG_S seconds.
// A tenant may tighten it (more replicas, a shorter lag) through Set Parameter Values, never
// loosen it. Standalone clusters have no replica to fence with: the tenant's values apply as set.

/** Replicas a fenced primary needs to accept a write. */
export const FENCE_MIN_REPLICAS = 1;

/**
 * Seconds since a replica's last acknowledgement up to which it still counts. Replicas
 * acknowledge every second and the engines count whole seconds, so 1 would refuse writes now
 * and then on a busy host; 2 keeps writes flowing on all but a badly overloaded one and stops an
 * isolated primary within fenceBoundMs().
 */
export const FENCE_MAX_LAG_S = 2;

/**
 * How long after a cut an isolated primary may still acknowledge writes: the lag, plus the
 * second the engines' count lags (whole seconds), plus the once-a-second check of that count.
 */
export function fenceBoundMs(maxLagS: number = FENCE_MAX_LAG_S): number {
  return (maxLagS + 2) * 1000;
}

export interface FencedShape {
  haEnabled: boolean;
  /** The cluster's replicas (data nodes other than the primary). */
  replicas: number;
}

/** Whether the service fences the cluster's primary. */
export function isFenced(shape: FencedShape): boolean {
  return shape.haEnabled && shape.replicas >= 1;
}

/**
 * The values the engines run: the tenant's, with the fence applied to an HA cluster. A tenant's
 * value that is looser than the fence (stored before the fence existed) yields to it; a tighter
 * one stands. A lag of 0 means "no lag limit" to the engines (the count is off), so it is looser.
 */
export function fencedParameters(tenant: Record<string, string>, shape: FencedShape): Record<string, string> {
  if (!isFenced(shape)) return tenant;
  const want = Number(tenant['min-replicas-to-write'] ?? 0);
  const lag = Number(tenant['min-replicas-max-lag'] ?? 10);
  return {
    ...tenant,
    'min-replicas-to-write': String(Number.isInteger(want) && want >= FENCE_MIN_REPLICAS ? want : FENCE_MIN_REPLICAS),
    'min-replicas-max-lag': String(Number.isInteger(lag) && lag >= 1 && lag <= FENCE_MAX_LAG_S ? lag : FENCE_MAX_LAG_S),
  };
}

/** Why a tenant's new value would loosen the fence (a 400 says it), or null when it may be set. */
export function fenceProblem(name: string, value: string, shape: FencedShape): string | null {
  if (!isFenced(shape)) return null;
  const n = Number(value);
  if (name === 'min-replicas-to-write' && !(n >= FENCE_MIN_REPLICAS)) {
    return `an HA cluster's primary is fenced: it needs at least ${FENCE_MIN_REPLICAS} replica to accept writes, so min-replicas-to-write may be ${FENCE_MIN_REPLICAS} or more (README, Partitions and fencing)`;
  }
  if (name === 'min-replicas-max-lag' && !(n >= 1 && n <= FENCE_MAX_LAG_S)) {
    return `an HA cluster's primary is fenced: min-replicas-max-lag may be 1 to ${FENCE_MAX_LAG_S} seconds (README, Partitions and fencing)`;
  }
  return null;
}

/**
 * Whether a primary refuses writes for want of replicas: `goodReplicas` is what its INFO
 * replication reports as counting (only while min-replicas-to-write is on).
 */
export function refusesWrites(goodReplicas: number | undefined, minReplicas: number): boolean {
  return goodReplicas !== undefined && minReplicas > 0 && goodReplicas < minReplicas;
}
