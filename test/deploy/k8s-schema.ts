/**
 * Kubernetes manifests checked against the API's JSON schemas (the `kubernetes-models` package from npm, offline),
 * strictly: besides the schema's own rules, any field the schema does not know (a typo such as `replica` or
 * `periodSecond`, which Kubernetes would silently drop) fails, as kubeconform -strict does. The generated validators
 * read every property they know, so a field they never read is unknown.
 */
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';

type Validator = (o: unknown) => void;
const MODELS: Record<string, { prototype: { validate(): void } }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Schema errors and unknown fields (as JSON pointers); empty when the object is valid. */
export function k8sProblems(obj: K8sObject): string[] {
  const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!model) return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  const validate: Validator = (o) => model.prototype.validate.call(o);
  const read = new WeakMap<object, Set<string>>();
  const wrap = (o: unknown): unknown => {
    if (!o || typeof o !== 'object') return o;
    const keys = new Set<string>();
    read.set(o, keys);
    return new Proxy(o, {
      get(target, key) {
        if (typeof key === 'string') keys.add(key);
        return wrap((target as Record<string | symbol, unknown>)[key]);
      },
    });
  };
  const problems: string[] = [];
  try {
    validate(wrap(obj));
  } catch (err) {
    problems.push((err as Error).message);
  }
  const walk = (o: unknown, path: string) => {
    if (!o || typeof o !== 'object') return;
    const keys = read.get(o);
    for (const [k, v] of Object.entries(o)) {
      if (!keys?.has(k)) problems.push(`unknown field ${path}/${k}`);
      else walk(v, `${path}/${k}`);
    }
  };
  walk(obj, '');
  return problems;
}
