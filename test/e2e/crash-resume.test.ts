// The service is only the control plane: engines outlive it, a restart re-adopts them, and an
// operation interrupted by SIGKILL resumes on the next start and finishes, leaving no orphan.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useChildServices, waitStep, type ChildService } from '../support/child-service.js';
import { enginePids, onePid, sigkillEngine } from '../support/engines.js';
import { createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/writer.js';

const run = promisify(execFile);
const PASSWORD = 'Secr3t!pass';

async function cli(ip: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', ip, '-p', '6378', '-a', PASSWORD, '--no-auth-warning', ...args]);
  return stdout.trim();
}

describe('service restart with clusters running', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** A standalone cluster, RUNNING, with the id of its one instance. */
  async function createRunning(name: string): Promise<{ id: string; instanceId: string }> {
    const [engine] = await engineVersions(h.client);
    const r = await h.client.post('/v1/clusters', createBody(engine, { name }));
    expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    const id = r.body.resource.id;
    return { id, instanceId: (await h.service.store.clusterDetail(null, id))!.instances[0].id };
  }

  it('keeps engines running while the service is down and re-adopts them', async () => {
    const [engine] = await engineVersions(h.client);
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'outlives' }));
    expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    const ip = (await h.client.get(`/v1/clusters/${r.body.resource.id}`)).body.instance_groups[0].instances[0].service_ip_address;
    await cli(ip, 'SET', 'k', 'v');

    await h.closeService();
    expect(await cli(ip, 'GET', 'k')).toBe('v');
    await h.restartService();

    const show = await h.client.get(`/v1/clusters/${r.body.resource.id}`);
    expect(show.body.service_state).toBe('RUNNING');
    expect(show.body.instance_groups[0].instances[0].service_state).toBe('RUNNING');
    expect(await cli(ip, 'GET', 'k')).toBe('v');
  });

  it('starts an engine that died while the service was down again, with its data', async () => {
    const { id, instanceId } = await createRunning('diedwhiledown');
    const ip = (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups[0].instances[0].service_ip_address;
    await cli(ip, 'SET', 'k', 'kept');

    await h.closeService();
    const before = await sigkillEngine(instanceId);
    await h.restartService();

    const show = await h.client.waitState(id, 'RUNNING', 10_000);
    expect(show.instance_groups[0].instances[0].service_state).toBe('RUNNING');
    expect(await cli(ip, 'GET', 'k')).toBe('kept');
    expect(await onePid(instanceId)).not.toBe(before);
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
    expect(events).toContain('engine process of instance tst-01 is not running; starting it again from its data');
    expect(events).toContain('started the engine of instance tst-01 again from its data');
  });

  it('notices an engine that dies while the service runs, and starts it again', async () => {
    const { id, instanceId } = await createRunning('diedwhileup');
    const ip = (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups[0].instances[0].service_ip_address;
    await cli(ip, 'SET', 'k', 'kept');
    const before = await sigkillEngine(instanceId);
    // No periodic reconcile here (interval 0): the service's own watch of its engines notices.
    const events = await waitFor('the engine to be started again', async () => {
      const messages = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
      return messages.includes('started the engine of instance tst-01 again from its data') ? messages : undefined;
    }, 20_000);
    expect(events).toContain('engine process of instance tst-01 is not running; starting it again from its data');
    await h.client.waitState(id, 'RUNNING', 10_000);
    expect(await onePid(instanceId)).not.toBe(before);
    expect(await cli(ip, 'GET', 'k')).toBe('kept');
  });
});

describe('with automatic restarts off (CACHESTORE_HEAL_AFTER_MS=0)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ CACHESTORE_HEAL_AFTER_MS: '0' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('leaves a cluster whose engine died ERROR until Start brings it back', async () => {
    const [engine] = await engineVersions(h.client);
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'noheal' }));
    expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    const id = r.body.resource.id;
    const instanceId = (await h.service.store.clusterDetail(null, id))!.instances[0].id;

    await h.closeService();
    await sigkillEngine(instanceId);
    await h.restartService();

    const show = await h.client.get(`/v1/clusters/${id}`);
    expect(show.body.service_state).toBe('ERROR');
    expect(show.body.instance_groups[0].instances[0].service_state).toBe('ERROR');
    const events = await h.client.get(`/v1/clusters/${id}/events`);
    expect(events.body.contents.map((e: any) => e.message)).toContain('engine process of instance tst-01 is not running; cluster is ERROR (Start or Restart it)');
    // Still down a while later: nothing starts it behind the operator's back.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await enginePids(instanceId)).toEqual([]);

    const start = await h.client.post(`/v1/clusters/${id}/start`);
    expect(start.status).toBe(202);
    expect(await h.client.waitRequest(start.body.request_id)).toBe('COMPLETED');
    expect((await h.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');
  });

  it('notices an engine that dies while the service runs (periodic reconcile)', async () => {
    // Its own service with the reconcile every 200 ms: nothing but the timer looks at the cluster.
    const own = await startHarness({ CACHESTORE_RECONCILE_INTERVAL_MS: '200', CACHESTORE_HEAL_AFTER_MS: '0' });
    try {
      const [engine] = await engineVersions(own.client);
      const r = await own.client.post('/v1/clusters', createBody(engine, { name: 'diedwhileup' }));
      expect(await own.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
      const id = r.body.resource.id;
      // The look the service takes after each request has come and gone.
      await new Promise((res) => setTimeout(res, 300));
      expect((await own.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');
      await sigkillEngine((await own.service.store.clusterDetail(null, id))!.instances[0].id);
      expect((await own.client.waitState(id, 'ERROR', 15_000)).instance_groups[0].instances[0].service_state).toBe('ERROR');
    } finally {
      await own.stop();
    }
  });
});

describe('SIGKILL of the service in the middle of an operation', () => {
  const cs = useChildServices('cachestore-crash-');

  /** Runs `start` on a slow service, SIGKILLs it after `step`, restarts it, and returns the request's outcome. */
  async function interrupt(begin: (s: ChildService) => Promise<{ requestId: string; clusterId: string }>, step: string) {
    let svc = await cs.start({ CACHESTORE_DEBUG_STEP_DELAY_MS: '1500' });
    const { requestId, clusterId } = await begin(svc);
    await waitStep(svc, requestId, step);
    await svc.kill('SIGKILL');
    const firstOutput = svc.output();
    svc = await cs.start();
    const state = await svc.client.waitRequest(requestId, 30_000);
    const details = await svc.client.get(`/v1/requests/${requestId}/details`);
    return { state, details: details.body, clusterId, output: firstOutput + svc.output() };
  }

  let clusterId: string;
  let instanceId: string;
  let ip: string;

  it('resumes a create interrupted after the engine was launched, with exactly one engine', async () => {
    const out = await interrupt(async (s) => {
      const [engine] = await engineVersions(s.client);
      const r = await s.client.post('/v1/clusters', createBody(engine, { name: 'crashcreate' }));
      expect(r.status).toBe(202);
      return { requestId: r.body.request_id, clusterId: r.body.resource.id };
    }, 'start-data-nodes');
    expect(out.state).toBe('COMPLETED');
    clusterId = out.clusterId;
    const show = await cs.current!.client.get(`/v1/clusters/${clusterId}`);
    expect(show.body.service_state).toBe('RUNNING');
    ip = show.body.instance_groups[0].instances[0].service_ip_address;
    const events = await cs.current!.client.get(`/v1/clusters/${clusterId}/events`);
    expect(events.body.contents.map((e: any) => e.message)).toContain("create resumed after step 'start-data-nodes'");
    const { readdir } = await import('node:fs/promises');
    [instanceId] = await readdir(join(cs.dataDir, 'engines'));
    expect(await enginePids(instanceId)).toHaveLength(1);
    expect(await cli(ip, 'PING')).toBe('PONG');
    // Neither the database password nor the secret key ever reached the service's output.
    expect(out.output).not.toContain(PASSWORD);
    expect(out.output).not.toContain('child-secret-value');
  });

  it('resumes a restart interrupted after the engine was shut down, keeping the data', async () => {
    const svc = await cs.start();
    await cli(ip, 'SET', 'before-crash', 'kept');
    await svc.kill('SIGKILL');
    const out = await interrupt(async (s) => {
      const r = await s.client.post(`/v1/clusters/${clusterId}/restart`);
      expect(r.status).toBe(202);
      return { requestId: r.body.request_id, clusterId };
    }, 'stop-old-primary');
    expect(out.state).toBe('COMPLETED');
    expect((await cs.current!.client.get(`/v1/clusters/${clusterId}`)).body.service_state).toBe('RUNNING');
    expect(await enginePids(instanceId)).toHaveLength(1);
    expect(await cli(ip, 'GET', 'before-crash')).toBe('kept');
  });

  it('resumes a Set Server Type interrupted after the engine was shut down for its io-threads', async () => {
    const svc = await cs.start();
    const group = (await svc.client.get(`/v1/clusters/${clusterId}`)).body.instance_groups[0];
    const bigger = group.server_type_name.replace(/1v\d+m\d+$/, '1v4m8');
    expect(bigger).not.toBe(group.server_type_name);
    await svc.kill('SIGKILL');
    const out = await interrupt(async (s) => {
      const r = await s.client.post(`/v1/instance-groups/${group.id}/resize`, { server_type_name: bigger });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return { requestId: r.body.request_id, clusterId };
    }, 'stop-old-primary');
    expect(out.state, JSON.stringify(out.details)).toBe('COMPLETED');
    const show = (await cs.current!.client.get(`/v1/clusters/${clusterId}`)).body;
    expect([show.service_state, show.instance_groups[0].server_type_name]).toEqual(['RUNNING', bigger]);
    expect(await enginePids(instanceId)).toHaveLength(1);
    // 75% of 8 GB, as the tenant sees it (INFO memory).
    expect(await cli(ip, 'INFO', 'memory')).toContain(`maxmemory:${6 * 1024 ** 3}`);
    expect(await cli(ip, 'GET', 'before-crash')).toBe('kept');
  });

  it('resumes a terminate interrupted after the engine was killed: no process, no files', async () => {
    const out = await interrupt(async (s) => {
      const r = await s.client.delete(`/v1/clusters/${clusterId}`);
      expect(r.status).toBe(202);
      return { requestId: r.body.request_id, clusterId };
    }, 'kill');
    expect(out.state).toBe('COMPLETED');
    expect((await cs.current!.client.get(`/v1/clusters/${clusterId}`)).body.service_state).toBe('TERMINATED');
    expect(await enginePids(instanceId)).toEqual([]);
    expect(existsSync(join(cs.dataDir, 'engines', instanceId))).toBe(false);
  });
});
