import { parseAllDocuments } from "yaml";
import { kustomize } from "./kubectl";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * Renders a kustomization with the real kustomize (`kubectl kustomize`, kubectl 1.35 from the
 * devDependency: see kubectl.ts). A missing resource, generator file or patch fails the render.
 */
export function renderKustomization(dir: string): K8sObject[] {
  return parseAllDocuments(kustomize(dir))
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`${dir}: ${document.errors[0]?.message}`);
      return document.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/**
 * Whether `actual` is the object named `name`: the name itself, or a generated ConfigMap's or
 * Secret's name, which kustomize suffixes with a hash of its content (`<name>-<10 characters>`).
 */
export function isNamed(actual: string, name: string): boolean {
  if (actual === name) return true;
  return actual.startsWith(`${name}-`) && /^[a-z0-9]{10}$/.test(actual.slice(name.length + 1));
}

export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found =
    objects.find((object) => object.kind === kind && object.metadata.name === name) ??
    objects.find((object) => object.kind === kind && isNamed(object.metadata.name, name));
  if (found === undefined) throw new Error(`no ${kind} ${name} in the render`);
  return found;
}

/** A Secret's values, from stringData or base64 data. */
export function secretValues(secret: K8sObject): Record<string, string> {
  const decoded = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value, "base64").toString("utf8"),
    ]),
  );
  return { ...decoded, ...secret.stringData };
}
