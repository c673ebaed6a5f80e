import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hooklineNames, parseDuration } from "@hookline/contracts";
import {
  booleanEnv,
  ConfigError,
  commonEnvShape,
  HOOKLINE_SERVICES,
  natsInboxPrefix,
  natsPasswordVariable,
  natsUsersConfig,
  parseEnv,
  tokenPairsEnv,
} from "@hookline/kit";
import { natsServerBin, repoRoot } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseDockerfile, stageLineage } from "./support/dockerfile";
import {
  findObject,
  isNamed,
  type K8sObject,
  renderKustomization,
  secretValues,
} from "./support/kustomize";
import {
  type EnvShape,
  hooklineServices,
  type ServiceInfo,
  serviceEnvShapes,
} from "./support/services";
import { recordTiltfileCalls } from "./support/tiltfile";

interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  securityContext?: { readOnlyRootFilesystem?: boolean; runAsUser?: number; runAsGroup?: number };
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface Volume {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number };
  volumes?: Volume[];
}
interface Workload extends K8sObject {
  spec: {
    template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: unknown[];
  };
}
interface NetworkPeer {
  podSelector?: {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values: string[] }[];
  };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string; except?: string[] };
}
interface NetworkRule {
  from?: NetworkPeer[];
  to?: NetworkPeer[];
  ports?: { port: number; protocol?: string }[];
}
interface NetworkPolicy extends K8sObject {
  spec: {
    podSelector: { matchLabels?: Record<string, string> };
    policyTypes: string[];
    ingress?: NetworkRule[];
    egress?: NetworkRule[];
  };
}
interface ServiceObject extends K8sObject {
  spec: { ports: { name?: string; port: number; targetPort?: string | number }[] };
}

const root = repoRoot();
const k8s = join(root, "deploy", "k8s");
const base = renderKustomization(join(k8s, "base"));
const dev = renderKustomization(join(k8s, "overlays", "dev"));
const services = hooklineServices();
const workloadKinds = ["Deployment", "StatefulSet"];

const workloads = (objects: K8sObject[]) =>
  objects.filter((object) => workloadKinds.includes(object.kind)) as Workload[];
const workload = (objects: K8sObject[], name: string) =>
  workloads(objects).find((object) => object.metadata.name === name);

/** The environment a container starts with: ConfigMaps and Secrets first, then env. */
function containerEnv(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef !== undefined) {
      Object.assign(env, findObject(objects, "ConfigMap", source.configMapRef.name).data);
    }
    if (source.secretRef !== undefined) {
      Object.assign(env, secretValues(findObject(objects, "Secret", source.secretRef.name)));
    }
  }
  for (const { name, value } of container.env ?? []) {
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Variables of an env shape without a default: what parsing an empty environment asks for. */
function requiredIn(shape: EnvShape): string[] {
  try {
    parseEnv(shape, {});
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.flatMap((problem) => /^(\w+) is required/.exec(problem)?.[1] ?? []);
  }
}

function requiredEnv(service: ServiceInfo): string[] {
  return [...new Set([...requiredIn(commonEnvShape), ...requiredIn(service.envShape)])];
}

function portNumber(container: Container, port: string | number | undefined): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((entry) => entry.name === port)?.containerPort;
}

describe("deploy/k8s", () => {
  it("renders base and dev: every resource, generator file and patch exists", () => {
    expect(base.length).toBeGreaterThan(10);
    for (const object of base) {
      expect(
        dev.some((o) => o.kind === object.kind && o.metadata.name === object.metadata.name),
        `${object.kind} ${object.metadata.name}`,
      ).toBe(true);
    }
  });

  it("puts every namespaced object in the hookline namespace", () => {
    expect(findObject(dev, "Namespace", "hookline")).toBeDefined();
    const elsewhere = dev
      .filter((object) => object.kind !== "Namespace" && object.metadata.namespace !== "hookline")
      .map((object) => `${object.kind} ${object.metadata.name}`);
    expect(elsewhere).toEqual([]);
  });

  it("reads the required variables from every service's exported env shape", () => {
    expect(requiredIn({ ...commonEnvShape, TOKENS: tokenPairsEnv })).toEqual(["TOKENS"]);
    expect(Object.keys(serviceEnvShapes).sort()).toEqual(services.map(({ name }) => name));
    for (const { name } of services) {
      // The shape read here is the one main.ts parses.
      const main = readFileSync(join(root, "services", name, "src", "main.ts"), "utf8");
      // A root may add a check across variables as a third argument.
      expect(main, name).toMatch(new RegExp(`loadEnvOrExit\\(SERVICE, ${name}EnvShape[,)]`));
    }
    expect(
      Object.fromEntries(services.map((service) => [service.name, requiredEnv(service)])),
    ).toEqual({
      classifier: [],
      delivery: [],
      dlq: ["DATABASE_URL", "DLQ_API_TOKENS"],
      ingest: ["INGEST_API_TOKENS"],
    });
  });

  describe.each(services)("the $name Deployment", (service: ServiceInfo) => {
    for (const [overlay, objects] of [
      ["base", base],
      ["dev", dev],
    ] as const) {
      const deployment = workload(objects, service.name);
      const container = deployment?.spec.template.spec.containers[0];

      it(`exists in ${overlay} with one container, image hookline-${service.name}`, () => {
        expect(deployment?.kind).toBe("Deployment");
        expect(deployment?.spec.template.spec.containers).toHaveLength(1);
        expect(container?.image).toBe(`hookline-${service.name}`);
      });

      it(`gets every variable its config requires in ${overlay}, and they parse`, () => {
        const env = containerEnv(objects, container as Container);
        expect(requiredEnv(service).filter((name) => env[name] === undefined)).toEqual([]);
        expect(() => parseEnv(commonEnvShape, env)).not.toThrow();
        expect(() => parseEnv(service.envShape, env)).not.toThrow();
        for (const name of ["INGEST_API_TOKENS", "DLQ_API_TOKENS"]) {
          if (requiredEnv(service).includes(name)) {
            expect(tokenPairsEnv.safeParse(env[name]).success, name).toBe(true);
          }
        }
      });

      it(`listens, answers probes and is scraped on ${service.port} in ${overlay}`, () => {
        const c = container as Container;
        const env = containerEnv(objects, c);
        expect(env.PORT).toBe(String(service.port));
        expect(c.ports?.map((port) => port.containerPort)).toEqual([service.port]);
        expect(c.readinessProbe?.httpGet?.path).toBe("/readyz");
        expect(portNumber(c, c.readinessProbe?.httpGet?.port)).toBe(service.port);
        expect(c.livenessProbe?.httpGet?.path).toBe("/healthz");
        expect(portNumber(c, c.livenessProbe?.httpGet?.port)).toBe(service.port);
        expect(deployment?.spec.template.metadata.annotations).toMatchObject({
          "prometheus.io/scrape": "true",
          "prometheus.io/port": String(service.port),
          "prometheus.io/path": "/metrics",
        });
        const svc = findObject(objects, "Service", service.name) as ServiceObject;
        const [port] = svc.spec.ports;
        expect(port?.port).toBe(service.port);
        expect(portNumber(c, port?.targetPort)).toBe(service.port);
      });

      it(`shuts down within its grace period and runs bounded, as non-root, in ${overlay}`, () => {
        const pod = deployment?.spec.template.spec as PodSpec;
        const { SHUTDOWN_TIMEOUT } = parseEnv(
          commonEnvShape,
          containerEnv(objects, container as Container),
        );
        expect((pod.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(SHUTDOWN_TIMEOUT);
        expect(pod.securityContext?.runAsNonRoot).toBe(true);
        expect(container?.resources?.requests?.cpu).toBeDefined();
        expect(container?.resources?.requests?.memory).toBeDefined();
        expect(container?.resources?.limits?.memory).toBeDefined();
      });
    }
  });

  it("uses a Dockerfile target for every hookline image and pinned tags for the rest", () => {
    const dockerfile = parseDockerfile(
      readFileSync(join(root, "deploy", "docker", "Dockerfile"), "utf8"),
    );
    const targets = dockerfile.stages.map((stage) => stage.name);
    const images = workloads(dev).flatMap((w) =>
      w.spec.template.spec.containers.map((c) => c.image),
    );
    const problems = images.flatMap((image) => {
      if (image.startsWith("hookline-")) {
        const target = image.slice("hookline-".length);
        return targets.includes(target) ? [] : [`${image}: no Dockerfile target ${target}`];
      }
      const tag = image.split(":")[1];
      return tag === undefined || tag === "latest" ? [`${image}: not pinned`] : [];
    });
    expect(problems).toEqual([]);
    expect(images.filter((image) => image.startsWith("hookline-")).sort()).toEqual(
      services.map(({ name }) => `hookline-${name}`).sort(),
    );
  });

  it.each(services)(
    "runs the development image Tilt builds for $name as it is, in dev",
    (service) => {
      // Tilt replaces hookline-<name> with its build of the <name>-dev target.
      const dockerfile = parseDockerfile(
        readFileSync(join(root, "deploy", "docker", "Dockerfile"), "utf8"),
      );
      const user = stageLineage(dockerfile, `${service.name}-dev`)
        .flatMap((stage) => stage.instructions.filter((i) => i.keyword === "USER"))
        .map((i) => i.text)[0];
      const [uid, gid] = (user ?? "").split(":").map(Number);
      const deployment = workload(dev, service.name) as Workload;
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0] as Container;
      // The image's command (tsx watch) runs, not one the manifest sets.
      expect(container.command).toBeUndefined();
      expect(container.args).toBeUndefined();
      // Live updates and `pnpm install` write to /app, which the image's user owns.
      expect(container.securityContext?.readOnlyRootFilesystem ?? false).toBe(false);
      expect(container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser).toBe(uid);
      expect(container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup).toBe(gid);
    },
  );

  it("refers only to ConfigMaps and Secrets the render contains", () => {
    const problems: string[] = [];
    const has = (kind: string, name: string) =>
      dev.some((object) => object.kind === kind && object.metadata.name === name);
    for (const w of workloads(dev)) {
      const pod = w.spec.template.spec;
      for (const volume of pod.volumes ?? []) {
        if (volume.configMap && !has("ConfigMap", volume.configMap.name)) {
          problems.push(`${w.metadata.name}: ConfigMap ${volume.configMap.name}`);
        }
        for (const item of volume.configMap?.items ?? []) {
          const data = dev.find(
            (o) => o.kind === "ConfigMap" && o.metadata.name === volume.configMap?.name,
          )?.data;
          if (data?.[item.key] === undefined) {
            problems.push(`${w.metadata.name}: key ${item.key} of ${volume.configMap?.name}`);
          }
        }
        if (volume.secret && !has("Secret", volume.secret.secretName)) {
          problems.push(`${w.metadata.name}: Secret ${volume.secret.secretName}`);
        }
      }
      for (const c of pod.containers) {
        for (const source of c.envFrom ?? []) {
          if (source.configMapRef && !has("ConfigMap", source.configMapRef.name)) {
            problems.push(`${w.metadata.name}: ConfigMap ${source.configMapRef.name}`);
          }
          if (source.secretRef && !has("Secret", source.secretRef.name)) {
            problems.push(`${w.metadata.name}: Secret ${source.secretRef.name}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("runs NATS 2.11+ with JetStream on a volume, fsyncing every write", () => {
    const nats = workload(base, "nats") as Workload;
    expect(nats.kind).toBe("StatefulSet");
    const [container] = nats.spec.template.spec.containers;
    const version = /^nats:2\.(\d+)/.exec(container?.image ?? "");
    expect(Number(version?.[1])).toBeGreaterThanOrEqual(11);
    expect(container?.ports?.map((port) => port.containerPort).sort()).toEqual([4222, 8222]);
    expect(nats.spec.volumeClaimTemplates).toHaveLength(1);
    const conf = findObject(base, "ConfigMap", "nats-config").data?.["nats.conf"] ?? "";
    const jetstream = /jetstream\s*\{([^}]*)\}/.exec(conf)?.[1] ?? "";
    expect(jetstream).toMatch(/^\s*store_dir:\s*\S+/m);
    expect(jetstream).toMatch(/^\s*sync_interval:\s*always\s*$/m);

    const natsUrl = new URL(findObject(base, "ConfigMap", "hookline-config").data?.NATS_URL ?? "");
    const svc = findObject(base, "Service", natsUrl.hostname) as ServiceObject;
    expect(svc.spec.ports.map((port) => port.port)).toContain(Number(natsUrl.port));
  });

  it("gives dlq a DATABASE_URL that reaches the Postgres StatefulSet with its password", () => {
    const postgres = workload(base, "postgres") as Workload;
    expect(postgres.kind).toBe("StatefulSet");
    expect(postgres.spec.template.spec.containers[0]?.image).toBe("postgres:16-alpine");
    expect(postgres.spec.volumeClaimTemplates).toHaveLength(1);
    const url = new URL(secretValues(findObject(base, "Secret", "dlq-secrets")).DATABASE_URL ?? "");
    const svc = findObject(base, "Service", url.hostname) as ServiceObject;
    expect(svc.spec.ports.map((port) => port.port)).toContain(Number(url.port || 5432));
    expect(secretValues(findObject(base, "Secret", "postgres-auth")).POSTGRES_PASSWORD).toBe(
      decodeURIComponent(url.password),
    );
  });

  it("marks the base Secrets' values as fake", () => {
    for (const file of ["config.yaml", "postgres.yaml"]) {
      expect(readFileSync(join(k8s, "base", file), "utf8")).toMatch(/FAKE DEVELOPMENT/);
    }
  });

  it("lets dev deliver to in-cluster addresses, and base not", () => {
    const devConfig = findObject(dev, "ConfigMap", "hookline-config").data ?? {};
    expect(booleanEnv.parse(devConfig.DELIVERY_ALLOW_PRIVATE_NETWORKS)).toBe(true);
    const baseConfig = findObject(base, "ConfigMap", "hookline-config").data ?? {};
    expect(baseConfig.DELIVERY_ALLOW_PRIVATE_NETWORKS ?? "false").toBe("false");
    expect(parseDuration(baseConfig.SHUTDOWN_TIMEOUT ?? "")).toBeDefined();
  });

  it("scrapes each service's Service from Prometheus and loads the rules in the image", () => {
    const config = findObject(dev, "ConfigMap", "prometheus-config").data ?? {};
    const prometheus = parse(config["prometheus.yml"] ?? "") as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(prometheus.scrape_configs.map((job) => job.job_name).sort()).toEqual(
      services.map(({ name }) => name).sort(),
    );
    for (const job of prometheus.scrape_configs) {
      const service = services.find(({ name }) => name === job.job_name);
      expect(job.static_configs.flatMap((c) => c.targets)).toEqual([
        `${job.job_name}:${service?.port}`,
      ]);
      const svc = findObject(dev, "Service", job.job_name) as ServiceObject;
      expect(svc.spec.ports.map((port) => port.port)).toContain(service?.port);
    }
    // The Deployment mounts each rule file where prometheus.yml looks for it.
    const volume = workload(dev, "prometheus")?.spec.template.spec.volumes?.find((v) =>
      isNamed(v.configMap?.name ?? "", "prometheus-config"),
    );
    const mounted = (volume?.configMap?.items ?? []).map((item) => item.path);
    for (const ruleFile of prometheus.rule_files) expect(mounted).toContain(ruleFile);
  });

  it("provisions Grafana with the Prometheus datasource and the dashboard", () => {
    const datasources = parse(
      findObject(dev, "ConfigMap", "grafana-datasources").data?.["prometheus.yml"] ?? "",
    ) as { datasources: { type: string; url: string }[] };
    const [datasource] = datasources.datasources;
    expect(datasource?.type).toBe("prometheus");
    const url = new URL(datasource?.url ?? "");
    const svc = findObject(dev, "Service", url.hostname) as ServiceObject;
    expect(svc.spec.ports.map((port) => port.port)).toContain(Number(url.port));

    const providers = parse(
      findObject(dev, "ConfigMap", "grafana-dashboard-providers").data?.["hookline.yml"] ?? "",
    ) as { providers: { options: { path: string } }[] };
    const grafana = workload(dev, "grafana") as Workload;
    const mounts = (
      grafana.spec.template.spec.containers[0] as Container & {
        volumeMounts: { name: string; mountPath: string }[];
      }
    ).volumeMounts;
    const dashboardsVolume = grafana.spec.template.spec.volumes?.find((v) =>
      isNamed(v.configMap?.name ?? "", "grafana-dashboards"),
    );
    const dashboardsMount = mounts.find((m) => m.name === dashboardsVolume?.name);
    expect(providers.providers[0]?.options.path).toBe(dashboardsMount?.mountPath);
    expect(findObject(dev, "ConfigMap", "grafana-dashboards").data?.["hookline.json"]).toContain(
      '"uid": "hookline"',
    );
  });

  it("matches every Tilt resource to a workload or object in the dev render", () => {
    const calls = recordTiltfileCalls(readFileSync(join(root, "Tiltfile"), "utf8"));
    const problems: string[] = [];
    for (const call of calls.filter((c) => c.fn === "k8s_resource")) {
      const name = call.args[0] ?? call.kwargs.workload;
      // A workload, or the provision Job (Tilt makes a resource of each).
      const job = dev.some((o) => o.kind === "Job" && o.metadata.name === name);
      if (name !== undefined && workload(dev, String(name)) === undefined && !job) {
        problems.push(`k8s_resource ${name}: no such workload`);
      }
      for (const selector of (call.kwargs.objects ?? []) as string[]) {
        const [objectName, kind] = selector.split(":");
        const found = dev.some(
          (o) => o.metadata.name === objectName && o.kind.toLowerCase() === kind?.toLowerCase(),
        );
        if (!found) problems.push(`k8s_resource objects: ${selector} not found`);
      }
    }
    expect(problems).toEqual([]);
    const named = calls
      .filter((c) => c.fn === "k8s_resource")
      .map((c) => c.args[0] ?? c.kwargs.workload);
    expect(
      workloads(dev)
        .map((w) => w.metadata.name)
        .filter((n) => !named.includes(n)),
    ).toEqual([]);
  });
});

describe("least privilege (deploy/k8s, deploy/nats)", () => {
  const names = hooklineNames("hookline");
  const secretOf = (objects: K8sObject[], service: string) => {
    const container = workload(objects, service)?.spec.template.spec.containers[0] as Container;
    const secrets = (container.envFrom ?? []).flatMap((source) =>
      source.secretRef === undefined ? [] : [source.secretRef.name],
    );
    return { container, secrets };
  };

  it("gives each service a Secret of its own with only what it needs", () => {
    // What each Secret may hold; HOOKLINE_ENCRYPTION_KEYS seals endpoint secrets.
    const allowed: Record<string, string[]> = {
      ingest: ["INGEST_API_TOKENS", "NATS_PASSWORD", "HOOKLINE_ENCRYPTION_KEYS"],
      delivery: ["NATS_PASSWORD", "HOOKLINE_ENCRYPTION_KEYS"],
      classifier: ["NATS_PASSWORD"],
      dlq: ["DATABASE_URL", "DLQ_API_TOKENS", "DLQ_CURSOR_SECRET", "NATS_PASSWORD"],
    };
    for (const objects of [base, dev]) {
      const seen = new Map<string, string>();
      for (const service of HOOKLINE_SERVICES) {
        const { secrets } = secretOf(objects, service);
        expect(secrets, service).toEqual([`${service}-secrets`]);
        for (const secret of secrets) {
          expect(seen.get(secret), `${secret} shared`).toBeUndefined();
          seen.set(secret, service);
          const keys = Object.keys(secretValues(findObject(objects, "Secret", secret)));
          expect(
            keys.filter((key) => !allowed[service]?.includes(key)),
            service,
          ).toEqual([]);
        }
      }
      // delivery, the one that talks to the internet: no database, no tokens, anywhere.
      const delivery = containerEnv(objects, secretOf(objects, "delivery").container);
      for (const name of ["DATABASE_URL", "INGEST_API_TOKENS", "DLQ_API_TOKENS"]) {
        expect(delivery[name], name).toBeUndefined();
      }
      expect(
        findObject(objects, "ConfigMap", "hookline-config").data?.DATABASE_URL,
      ).toBeUndefined();
    }
  });

  it("logs each service in as its own NATS user, with the password nats-server has", () => {
    const users = secretValues(findObject(base, "Secret", "nats-users"));
    for (const service of HOOKLINE_SERVICES) {
      const env = containerEnv(base, secretOf(base, service).container);
      expect(env.NATS_USER).toBe(service);
      expect(env.NATS_INBOX_PREFIX).toBe(natsInboxPrefix(names.prefix, service));
      expect(env.NATS_PASSWORD, service).toBeDefined();
      expect(users[natsPasswordVariable(service)]).toBe(env.NATS_PASSWORD);
      expect(env.HOOKLINE_PREFIX).toBe(names.prefix);
    }
  });

  it("runs nats-server with the users file, a config nats-server accepts", () => {
    const nats = workload(base, "nats") as Workload;
    const users = findObject(base, "ConfigMap", "nats-permissions").data?.["hookline-users.conf"];
    // The file test/e2e/nats-permissions.test.ts runs, rendered from kit's natsPermissions.
    expect(users).toBe(readFileSync(join(root, "deploy", "nats", "hookline-users.conf"), "utf8"));
    expect(users).toBe(natsUsersConfig(names));
    const conf = findObject(base, "ConfigMap", "nats-config").data?.["nats.conf"] ?? "";
    expect(conf).toMatch(/^include \.\/hookline-users\.conf$/m);
    // Both files land in one directory, and the passwords come from the nats-users Secret.
    const volume = nats.spec.template.spec.volumes?.find((v) => v.name === "config") as {
      projected?: { sources: { configMap?: { name: string } }[] };
    };
    const sources = (volume.projected?.sources ?? []).map((source) => source.configMap?.name);
    expect(sources).toContain("nats-config");
    expect(sources.some((name) => isNamed(name ?? "", "nats-permissions"))).toBe(true);
    const container = nats.spec.template.spec.containers[0] as Container;
    expect(container.envFrom).toContainEqual({ secretRef: { name: "nats-users" } });

    const dir = mkdtempSync(join(tmpdir(), "hookline-nats-conf-"));
    try {
      // sync_interval is 2.11's (the image); the nats-server here may be older.
      writeFileSync(join(dir, "nats.conf"), conf.replace(/^\s*sync_interval:.*$/m, ""));
      writeFileSync(join(dir, "hookline-users.conf"), users ?? "");
      const env = {
        ...process.env,
        ...secretValues(findObject(base, "Secret", "nats-users")),
        POD_NAME: "nats-0",
      };
      const check = spawnSync(natsServerBin(), ["-t", "-c", join(dir, "nats.conf")], {
        env,
        encoding: "utf8",
      });
      expect(`${check.stdout}${check.stderr}`).toMatch(/configuration file .* is valid/);
      expect(check.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const policies = (objects: K8sObject[]) =>
    objects.filter((object) => object.kind === "NetworkPolicy") as NetworkPolicy[];
  const policyFor = (objects: K8sObject[], name: string) =>
    policies(objects).filter(
      (p) => p.spec.podSelector.matchLabels?.["app.kubernetes.io/name"] === name,
    );
  const selects = (peer: NetworkPeer, name: string) =>
    peer.podSelector?.matchLabels?.["app.kubernetes.io/name"] === name ||
    (peer.podSelector?.matchExpressions ?? []).some(
      (e) => e.key === "app.kubernetes.io/name" && e.operator === "In" && e.values.includes(name),
    );
  const egressTo = (objects: K8sObject[], from: string, to: string, port: number) =>
    policyFor(objects, from)
      .flatMap((p) => p.spec.egress ?? [])
      .some(
        (rule) =>
          (rule.to ?? []).some((peer) => selects(peer, to)) &&
          (rule.ports ?? []).some((p) => p.port === port),
      );

  it("runs the provision step as a Job with the provisioner user, and every service in verify mode", () => {
    for (const objects of [base, dev]) {
      const job = findObject(objects, "Job", "provision") as Workload;
      const pod = job.spec.template.spec as PodSpec & { restartPolicy?: string };
      expect(pod.restartPolicy).toBe("OnFailure");
      const container = pod.containers[0] as Container;
      expect(pod.containers).toHaveLength(1);
      // The classifier's image: the provision step bundles with the retry tiers.
      expect(container.image).toBe("hookline-classifier");
      const env = containerEnv(objects, container);
      expect(env.NATS_USER).toBe("provisioner");
      expect(env.NATS_INBOX_PREFIX).toBe(natsInboxPrefix(names.prefix, "provisioner"));
      const users = secretValues(findObject(objects, "Secret", "nats-users"));
      const password = users[natsPasswordVariable("provisioner")];
      expect(password).toBeDefined();
      expect(env.NATS_PASSWORD).toBe(password);
      // The same configuration the services read: what it applies is what they verify.
      expect(container.envFrom).toContainEqual({ configMapRef: { name: "hookline-config" } });
      expect(() => parseEnv(commonEnvShape, env)).not.toThrow();

      for (const service of HOOKLINE_SERVICES) {
        const serviceEnv = containerEnv(objects, secretOf(objects, service).container);
        expect(serviceEnv.HOOKLINE_PROVISION, service).toBe("verify");
        expect(Object.values(serviceEnv), service).not.toContain(password);
      }
      // Only the Job's Secret and nats-server's hold it.
      const holders = objects
        .filter((object) => object.kind === "Secret")
        .filter((secret) => Object.values(secretValues(secret)).includes(password ?? ""))
        .map((secret) => secret.metadata.name);
      expect(holders.sort()).toEqual(["nats-users", "provisioner-secrets"]);
      const mounting = workloads(objects).filter((w) =>
        w.spec.template.spec.containers.some((c) =>
          (c.envFrom ?? []).some((source) => source.secretRef?.name === "provisioner-secrets"),
        ),
      );
      expect(mounting).toEqual([]);
    }
    // Production runs the bundle; dev (Tilt's development image, no dist/) the source.
    const [baseContainer] = (findObject(base, "Job", "provision") as Workload).spec.template.spec
      .containers;
    expect(baseContainer?.args).toEqual(["dist/provision.js"]);
    expect(readFileSync(join(root, "scripts", "build.mjs"), "utf8")).toMatch(
      /ENTRIES = \[[^\]]*"provision"/,
    );
    const [devContainer] = (findObject(dev, "Job", "provision") as Workload).spec.template.spec
      .containers;
    expect(devContainer?.args).toBeUndefined();
    expect(devContainer?.command?.[0]).toBe("node_modules/.bin/tsx");
    expect(existsSync(join(root, devContainer?.command?.[1] ?? "missing"))).toBe(true);
  });

  it("lets the provision Job reach NATS and nothing else", () => {
    const [policy] = policyFor(base, "provision");
    expect(policy?.spec.policyTypes.sort()).toEqual(["Egress", "Ingress"]);
    expect(policy?.spec.ingress ?? []).toEqual([]);
    expect(egressTo(base, "provision", "nats", 4222)).toBe(true);
    expect(egressTo(base, "provision", "postgres", 5432)).toBe(false);
    const natsIngress = policyFor(base, "nats").flatMap((p) => p.spec.ingress ?? []);
    expect(
      natsIngress.some(
        (rule) =>
          (rule.from ?? []).some((peer) => selects(peer, "provision")) &&
          (rule.ports ?? []).some((p) => p.port === 4222),
      ),
    ).toBe(true);
  });

  it("has a NetworkPolicy for every service, NATS and Postgres, in and out", () => {
    for (const name of [...HOOKLINE_SERVICES, "nats", "postgres"]) {
      const [policy] = policyFor(base, name);
      expect(policy?.spec.policyTypes.sort(), name).toEqual(["Egress", "Ingress"]);
    }
    for (const service of HOOKLINE_SERVICES) {
      expect(egressTo(base, service, "nats", 4222), service).toBe(true);
      const dns = policyFor(base, service)
        .flatMap((p) => p.spec.egress ?? [])
        .some((rule) => (rule.ports ?? []).some((p) => p.port === 53 && p.protocol === "UDP"));
      expect(dns, `${service} DNS`).toBe(true);
      // NATS takes clients from the services only.
      const natsIngress = policyFor(base, "nats").flatMap((p) => p.spec.ingress ?? []);
      expect(
        natsIngress.some(
          (rule) =>
            (rule.from ?? []).some((peer) => selects(peer, service)) &&
            (rule.ports ?? []).some((p) => p.port === 4222),
        ),
      ).toBe(true);
    }
  });

  it("lets only the dlq reach Postgres, and delivery only public addresses on 80 and 443", () => {
    for (const objects of [base, dev]) {
      expect(egressTo(objects, "dlq", "postgres", 5432)).toBe(true);
      for (const service of ["ingest", "delivery", "classifier"]) {
        const rules = policyFor(objects, service).flatMap((p) => p.spec.egress ?? []);
        expect(rules.some((rule) => (rule.ports ?? []).some((p) => p.port === 5432))).toBe(false);
        expect(egressTo(objects, service, "postgres", 5432)).toBe(false);
      }
      const postgresIngress = policyFor(objects, "postgres").flatMap((p) => p.spec.ingress ?? []);
      expect(postgresIngress.flatMap((rule) => rule.from ?? [])).toEqual([
        { podSelector: { matchLabels: { "app.kubernetes.io/name": "dlq" } } },
      ]);
    }
    const internet = policyFor(base, "delivery")
      .flatMap((p) => p.spec.egress ?? [])
      .filter((rule) => (rule.to ?? []).some((peer) => peer.ipBlock !== undefined));
    expect(internet).toHaveLength(1);
    expect((internet[0]?.ports ?? []).map((p) => p.port).sort()).toEqual([443, 80]);
    const v4 = internet[0]?.to?.find((peer) => peer.ipBlock?.cidr === "0.0.0.0/0");
    for (const range of ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]) {
      expect(v4?.ipBlock?.except).toContain(range);
    }
    // Only the delivery and classifier metrics are reachable, and only from Prometheus.
    for (const service of ["delivery", "classifier"]) {
      const from = policyFor(base, service).flatMap((p) =>
        (p.spec.ingress ?? []).flatMap((rule) => rule.from ?? []),
      );
      expect(
        from.every((peer) => selects(peer, "prometheus")),
        service,
      ).toBe(true);
    }
    // dev: delivery may reach the demo receiver too, and Prometheus runs with the right label.
    expect(egressTo(dev, "delivery", "demo-receiver", 9000)).toBe(true);
    expect(egressTo(base, "delivery", "demo-receiver", 9000)).toBe(false);
    expect(workload(dev, "prometheus")?.spec.template.metadata).toMatchObject({
      labels: { "app.kubernetes.io/name": "prometheus" },
    });
  });
});
