/** The Kubernetes manifests: parse, use one image with the CLI's roles, keep secrets in the Secret, and carry a valid catalog. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCatalog } from '../../src/config/catalog.js';
import { REPO_ROOT } from '../support/processes.js';

const DIR = join(REPO_ROOT, 'manifests/kubernetes');
type Doc = { kind: string; metadata: { name: string }; spec?: Record<string, unknown>; data?: Record<string, string> };
const docs: Doc[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJS() as Doc));

function containers(d: Doc): Array<{ image: string; args: string[]; env?: Array<{ name: string; value?: string }> }> {
  const pod = (d.kind === 'CronJob' ? (d.spec as any).jobTemplate.spec.template : (d.spec as any).template).spec;
  return pod.containers;
}

describe('Kubernetes manifests', () => {
  it('has web and worker Deployments, a Service, a migration Job, PDBs, an HPA, the catalog ConfigMap and a report CronJob', () => {
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    for (const k of [
      'Deployment/db-access-web',
      'Deployment/db-access-worker',
      'Service/db-access',
      'Job/db-access-migrate',
      'PodDisruptionBudget/db-access-web',
      'PodDisruptionBudget/db-access-worker',
      'HorizontalPodAutoscaler/db-access-web',
      'ConfigMap/db-access-catalog',
      'CronJob/db-access-report',
    ]) {
      expect(kinds).toContain(k);
    }
  });

  it('every workload runs the same image with one of the CLI roles, and takes secrets only from the Secret', () => {
    const workloads = docs.filter((d) => ['Deployment', 'Job', 'CronJob'].includes(d.kind));
    const images = new Set(workloads.flatMap((d) => containers(d).map((c) => c.image)));
    expect(images.size).toBe(1);
    for (const d of workloads) {
      for (const c of containers(d)) {
        expect(['serve', 'worker', 'migrate', 'report']).toContain(c.args[0]);
        for (const e of c.env ?? []) expect(e.name).not.toMatch(/TOKEN|PASSWORD|SECRET|DATABASE_URL/);
      }
    }
  });

  it('the catalog in the ConfigMap is a valid catalog', () => {
    const cm = docs.find((d) => d.kind === 'ConfigMap')!;
    const catalog = parseCatalog(cm.data!['catalog.yaml']!, { ORDERS_ADMIN_PASSWORD: 'x' });
    expect([...catalog.databases.keys()]).toEqual(['orders-prod']);
  });
});
