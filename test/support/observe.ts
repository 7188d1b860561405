// What a test sees through the API while an operation is in flight, read so that the answer
// cannot come from before or after it: Show Cluster is read between two Show Requests that both
// say the request is in the state asked for.
import type { SignedClient } from './client.js';

export type Inst = { name: string; role_type: string; service_ip_address: string; service_state: string };

export function instancesOf(show: any): Inst[] {
  return show.instance_groups.flatMap((g: any) => g.instances);
}

export function primaryOf(show: any): Inst | undefined {
  return instancesOf(show).find((i) => i.role_type === 'MASTER');
}

async function requestState(client: SignedClient, requestId: string): Promise<string> {
  const r = await client.get(`/v1/requests/${requestId}`);
  if (r.status !== 200) throw new Error(`Show Request answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.state;
}

/**
 * The cluster's service_state as Show Cluster answers while the request is in `phase`
 * (RUNNING: a worker executes it; REQUESTED: recorded, not picked up yet). Fails when the request
 * is never seen in that phase before `timeoutMs`, or has finished.
 */
export async function clusterStateWhile(client: SignedClient, requestId: string, clusterId: string, phase: 'RUNNING' | 'REQUESTED', timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const before = await requestState(client, requestId);
    if (before === 'COMPLETED' || before === 'FAILED') throw new Error(`request ${requestId} ended ${before} before it was seen ${phase} with the cluster`);
    if (before === phase) {
      const show = await client.get(`/v1/clusters/${clusterId}`);
      const after = await requestState(client, requestId);
      if (after === phase) return show.body.service_state;
    }
    if (Date.now() > deadline) throw new Error(`request ${requestId} was not seen ${phase} within ${timeoutMs} ms (last ${before})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the request is RUNNING (a worker picked it up). */
export async function waitRunning(client: SignedClient, requestId: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await requestState(client, requestId);
    if (s === 'RUNNING') return;
    if (s === 'COMPLETED' || s === 'FAILED') throw new Error(`request ${requestId} ended ${s} before it was seen RUNNING`);
    if (Date.now() > deadline) throw new Error(`request ${requestId} still ${s} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The cluster's events, oldest first, as "message" strings. */
export async function eventMessages(client: SignedClient, clusterId: string): Promise<string[]> {
  const r = await client.get(`/v1/clusters/${clusterId}/events`);
  if (r.status !== 200) throw new Error(`events answered ${r.status}`);
  return r.body.contents.map((e: any) => e.message);
}
