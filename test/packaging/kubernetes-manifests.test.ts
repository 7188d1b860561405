// deploy/kubernetes/: every document valid against the Kubernetes schemas, the Role granting
// exactly what the driver calls, and the Deployment wired to the Secret, the service account and
// the label the clusters' NetworkPolicies let through.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { KUBE_PERMISSIONS } from '../../src/drivers/kubernetes/kube-api.js';
import { SERVICE_POD_LABELS } from '../../src/drivers/kubernetes/manifests.js';

const DIR = fileURLToPath(new URL('../../deploy/kubernetes', import.meta.url));

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

async function documents(): Promise<Array<{ file: string; doc: Doc }>> {
  const out: Array<{ file: string; doc: Doc }> = [];
  for (const file of (await readdir(DIR)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(await readFile(join(DIR, file), 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
      out.push({ file, doc: d.toJS() as Doc });
    }
  }
  return out;
}

function one(docs: Array<{ doc: Doc }>, kind: string, name: string): Doc {
  const d = docs.find((x) => x.doc.kind === kind && x.doc.metadata.name === name);
  if (!d) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return d.doc;
}

describe('deploy/kubernetes', () => {
  it('every document is valid against the Kubernetes schemas, in one namespace', async () => {
    const docs = await documents();
    expect(docs.length).toBeGreaterThanOrEqual(9);
    for (const { file, doc } of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model(doc as never).validate(), `${file}: ${doc.kind} ${doc.metadata.name}`).not.toThrow();
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, `${file}: ${doc.kind} ${doc.metadata.name}`).toBe('cachestore');
    }
  });

  it('the Role grants exactly what the Kubernetes driver calls, to the Deployment\'s service account', async () => {
    const docs = await documents();
    const role = one(docs, 'Role', 'cachestore-driver');
    const granted = new Set<string>(role.rules.flatMap((r: { apiGroups: string[]; resources: string[]; verbs: string[] }) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))));
    const needed = new Set<string>(KUBE_PERMISSIONS.flatMap((p) => p.verbs.map((v) => `${p.apiGroup}/${p.resource}:${v}`)));
    expect([...needed].filter((n) => !granted.has(n)), 'missing from the Role').toEqual([]);
    expect([...granted].filter((g) => !needed.has(g)), 'granted but never called').toEqual([]);
    const binding = one(docs, 'RoleBinding', 'cachestore-driver');
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'cachestore-driver' });
    const pod = one(docs, 'Deployment', 'cachestore').spec.template.spec;
    expect(binding.subjects).toContainEqual({ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: 'cachestore' });
  });

  it('the Deployment runs the kubernetes driver with its settings from the Secret, under the label policies let through', async () => {
    const docs = await documents();
    const deployment = one(docs, 'Deployment', 'cachestore');
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    const tmpl = deployment.spec.template;
    expect(tmpl.metadata.labels).toMatchObject(SERVICE_POD_LABELS);
    const c = tmpl.spec.containers[0];
    const env: Record<string, string> = Object.fromEntries(c.env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
    const secret = one(docs, 'Secret', c.envFrom[0].secretRef.name);
    for (const key of ['CACHESTORE_DATABASE_URL', 'CACHESTORE_MASTER_KEY', 'CACHESTORE_ACCESS_KEY', 'CACHESTORE_SECRET_KEY']) expect(secret.stringData).toHaveProperty(key);
    expect(secret.stringData.CACHESTORE_DATABASE_URL).toMatch(/^postgres:\/\//);
    // What the Deployment sets is a configuration the service accepts (the namespace comes from the pod).
    const config = loadConfig({ ...env, ...secret.stringData, CACHESTORE_K8S_NAMESPACE: 'cachestore' });
    expect(config.driver).toBe('kubernetes');
    expect(config.database.kind).toBe('postgres');
    expect(config.subnets.map((s) => s.cidr)).toEqual(['10.96.200.0/24']);
    // Backups go where every replica reaches them: the data dir is each replica's emptyDir.
    expect(config.backupStorage).toBe('s3');
    expect(config.s3).toMatchObject({ bucket: env.CACHESTORE_S3_BUCKET, accessKeyId: secret.stringData.CACHESTORE_S3_ACCESS_KEY_ID });
    // PostgreSQL's password is the one in the URL.
    const pg = one(docs, 'StatefulSet', 'cachestore-postgres').spec.template.spec.containers[0];
    expect(pg.env.find((e: { name: string }) => e.name === 'POSTGRES_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'POSTGRES_PASSWORD' });
    expect(secret.stringData.CACHESTORE_DATABASE_URL).toContain(`:${secret.stringData.POSTGRES_PASSWORD}@`);
  });
});
