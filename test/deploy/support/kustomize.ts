import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parse, parseAllDocuments } from "yaml";

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

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  labels?: { pairs: Record<string, string> }[];
  resources?: string[];
  configMapGenerator?: { name: string; files?: string[]; literals?: string[] }[];
  patches?: { path?: string }[];
}

const understood = new Set([
  "apiVersion",
  "kind",
  "namespace",
  "labels",
  "resources",
  "configMapGenerator",
  "patches",
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A strategic merge patch as far as these manifests need it: maps merge, named lists merge. */
function mergePatch(target: Json, patch: Json): Json {
  if (Array.isArray(target) && Array.isArray(patch)) {
    const named = (item: Json) =>
      item !== null && typeof item === "object" && !Array.isArray(item) && "name" in item;
    if (!target.every(named) || !patch.every(named)) return patch;
    const merged = [...target];
    for (const item of patch as { name: Json }[]) {
      const index = merged.findIndex((entry) => (entry as { name: Json }).name === item.name);
      if (index < 0) merged.push(item as Json);
      else merged[index] = mergePatch(merged[index] ?? null, item as Json);
    }
    return merged;
  }
  if (
    target !== null &&
    patch !== null &&
    typeof target === "object" &&
    typeof patch === "object" &&
    !Array.isArray(target) &&
    !Array.isArray(patch)
  ) {
    const merged: { [key: string]: Json } = { ...target };
    for (const [key, value] of Object.entries(patch)) {
      merged[key] = key in merged ? mergePatch(merged[key] ?? null, value) : value;
    }
    return merged;
  }
  return patch;
}

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
      return document.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/**
 * Renders a kustomization the way `kustomize build` does for the features these manifests use
 * (resources, configMapGenerator, strategic merge patches, namespace, labels), without the
 * generators' name hashes. Anything else throws, so a new feature is never silently ignored.
 * A missing resource, generator file or patch throws too.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, "kustomization.yaml");
  if (!existsSync(file)) throw new Error(`${dir} has no kustomization.yaml`);
  const kustomization = parse(readFileSync(file, "utf8")) as Kustomization;
  const unknown = Object.keys(kustomization).filter((key) => !understood.has(key));
  if (unknown.length > 0) throw new Error(`${file}: renderer does not handle ${unknown}`);

  let objects: K8sObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    if (!existsSync(path)) throw new Error(`${file}: resource ${resource} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readObjects(path)));
  }

  for (const generator of kustomization.configMapGenerator ?? []) {
    if (generator.literals !== undefined) throw new Error(`${file}: literals not handled`);
    const data: Record<string, string> = {};
    for (const entry of generator.files ?? []) {
      const [key, path] = entry.includes("=") ? entry.split("=", 2) : [basename(entry), entry];
      const source = join(dir, path ?? "");
      if (!existsSync(source)) throw new Error(`${file}: ${generator.name} file ${path} missing`);
      data[key ?? ""] = readFileSync(source, "utf8");
    }
    objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: generator.name }, data });
  }

  for (const { path } of kustomization.patches ?? []) {
    if (path === undefined) throw new Error(`${file}: only patches from files are handled`);
    const patchFile = join(dir, path);
    if (!existsSync(patchFile)) throw new Error(`${file}: patch ${path} does not exist`);
    for (const patch of readObjects(patchFile)) {
      const index = objects.findIndex(
        (object) => object.kind === patch.kind && object.metadata.name === patch.metadata.name,
      );
      if (index < 0) throw new Error(`${patchFile}: no ${patch.kind} ${patch.metadata.name}`);
      objects[index] = mergePatch(
        objects[index] as unknown as Json,
        patch as unknown as Json,
      ) as unknown as K8sObject;
    }
  }

  const namespace = kustomization.namespace;
  const labels = Object.assign({}, ...(kustomization.labels ?? []).map((entry) => entry.pairs));
  objects = objects.map((object) => ({
    ...object,
    metadata: {
      ...object.metadata,
      ...(namespace !== undefined && object.kind !== "Namespace" ? { namespace } : {}),
      labels: { ...object.metadata.labels, ...labels },
    },
  }));
  return objects;
}

export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
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
