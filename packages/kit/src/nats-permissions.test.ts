import { hooklineNames } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import {
  HOOKLINE_NATS_USERS,
  HOOKLINE_SERVICES,
  natsInboxPrefix,
  natsPasswordVariable,
  natsPermissions,
  natsUsersConfig,
} from "./nats-permissions";

const names = hooklineNames("perm");
const permissions = natsPermissions(names);
const hooklineStreams = [
  ...Object.values(names.streams),
  `KV_${names.kv.endpoints}`,
  `KV_${names.kv.tenants}`,
];

describe("natsPermissions", () => {
  it("lets no service create or update a stream, or create a shared durable", () => {
    for (const service of HOOKLINE_SERVICES) {
      const publish = permissions[service].publish;
      expect(publish.filter((subject) => /\.STREAM\.(CREATE|UPDATE)\./.test(subject))).toEqual([]);
      for (const durable of [
        names.consumers.deliveryFresh,
        names.consumers.deliveryRetry,
        names.consumers.classifier,
        names.consumers.dlqStore,
        names.consumers.classifierPoison,
        names.consumers.ingestOps,
      ]) {
        expect(
          publish.some(
            (subject) => subject.includes(`.CONSUMER.CREATE.`) && subject.includes(`.${durable}`),
          ),
        ).toBe(false);
      }
      // Still allowed: reading every stream's info (verify mode, usage gauges).
      for (const stream of Object.values(names.streams)) {
        expect(publish).toContain(`$JS.API.STREAM.INFO.${stream}`);
      }
    }
  });

  it("keeps the consumers services create at run time: overflow and the KV stream's ephemerals", () => {
    expect(permissions.delivery.publish).toContain(
      `$JS.API.CONSUMER.CREATE.${names.streams.dispatchRetry}.*.${names.subjects.dispatchOverflowAll}`,
    );
    for (const service of HOOKLINE_SERVICES) {
      expect(permissions[service].publish).toContain(
        `$JS.API.CONSUMER.CREATE.KV_${names.kv.endpoints}.>`,
      );
    }
    expect(permissions.classifier.publish).not.toContain(
      `$JS.API.CONSUMER.CREATE.${names.streams.retry}.*`,
    );
  });

  it("lets the provisioner create and update every stream and durable, and publish no data", () => {
    const publish = permissions.provisioner.publish;
    for (const stream of hooklineStreams) {
      for (const action of ["INFO", "CREATE", "UPDATE"]) {
        expect(publish).toContain(`$JS.API.STREAM.${action}.${stream}`);
      }
    }
    expect(publish).toContain(`$JS.API.CONSUMER.CREATE.${names.streams.retry}.*.>`);
    expect(publish.every((subject) => subject.startsWith("$JS.API."))).toBe(true);
    // It deletes only the streams of earlier versions that new ones replaced.
    const deletes = publish.filter((subject) => /\.(DELETE|PURGE|MSG)\b/.test(subject));
    expect(deletes).toEqual(
      Object.values(names.retiredStreams).map((stream) => `$JS.API.STREAM.DELETE.${stream}`),
    );
    expect(permissions.provisioner.subscribe).toEqual([
      `${natsInboxPrefix(names.prefix, "provisioner")}.>`,
    ]);
  });

  it("lets each service publish only the operational events it emits, and ingest read them", () => {
    const opsOf = (service: (typeof HOOKLINE_SERVICES)[number]) =>
      permissions[service].publish.filter((subject) => subject.startsWith(`${names.prefix}.ops.`));
    expect(opsOf("ingest")).toEqual([
      names.subjects.ops("endpoint.disabled"),
      names.subjects.ops("endpoint.enabled"),
    ]);
    expect(opsOf("delivery")).toEqual([
      names.subjects.ops("breaker.opened"),
      names.subjects.ops("breaker.closed"),
    ]);
    expect(opsOf("classifier")).toEqual([]);
    expect(opsOf("dlq")).toEqual([
      names.subjects.ops("task.dead_lettered"),
      names.subjects.ops("deadletters.threshold"),
      names.subjects.ops("endpoint.failure_rate"),
    ]);
    const next = `$JS.API.CONSUMER.MSG.NEXT.${names.streams.ops}.${names.consumers.ingestOps}`;
    for (const service of HOOKLINE_SERVICES) {
      expect(permissions[service].publish.includes(next)).toBe(service === "ingest");
    }
  });

  it("lets only the classifier (poison) and the dlq (retry now, in RETRY alone) delete messages", () => {
    const deletesOf = (user: (typeof HOOKLINE_NATS_USERS)[number]) =>
      permissions[user].publish.filter((subject) => subject.includes(".STREAM.MSG.DELETE."));
    expect(deletesOf("dlq")).toEqual([`$JS.API.STREAM.MSG.DELETE.${names.streams.retry}`]);
    expect(deletesOf("classifier")).toEqual([
      `$JS.API.STREAM.MSG.DELETE.${names.streams.dispatch}`,
      `$JS.API.STREAM.MSG.DELETE.${names.streams.dispatchRetry}`,
    ]);
    for (const user of ["ingest", "delivery", "provisioner"] as const) {
      expect(deletesOf(user)).toEqual([]);
    }
    // retry now reads the waiting copy and publishes it on
    expect(permissions.dlq.publish).toContain(`$JS.API.STREAM.MSG.GET.${names.streams.retry}`);
    expect(permissions.dlq.publish).toContain(names.subjects.dispatchRetryAll);
  });

  it("lets every service answer discovery and its own control endpoints, and only ingest ask", () => {
    for (const service of HOOKLINE_SERVICES) {
      const { subscribe, publish, allowResponses } = permissions[service];
      expect(allowResponses).toBe(true);
      for (const verb of ["PING", "INFO", "STATS"]) {
        expect(subscribe).toContain(`$SRV.${verb}`);
        expect(subscribe).toContain(`$SRV.${verb}.perm-${service}`);
        expect(subscribe).toContain(`$SRV.${verb}.perm-${service}.*`);
      }
      expect(subscribe).toContain(`perm.control.${service}.*.status`);
      // No service answers another's control subjects or another deployment's discovery.
      expect(subscribe.filter((s) => s.startsWith("perm.control."))).toEqual(
        subscribe.filter((s) => s.startsWith(`perm.control.${service}.`)),
      );
      if (service !== "ingest") {
        expect(publish.filter((s) => s.startsWith("$SRV.") || s.includes(".control."))).toEqual([]);
      }
    }
    expect(permissions.delivery.subscribe).toEqual(
      expect.arrayContaining([
        "perm.control.delivery.*.breaker-health",
        "perm.control.delivery.*.breaker-reset",
      ]),
    );
    expect(permissions.ingest.publish).toEqual(
      expect.arrayContaining([
        ...HOOKLINE_SERVICES.map((service) => `$SRV.PING.perm-${service}`),
        ...HOOKLINE_SERVICES.map((service) => `perm.control.${service}.*.status`),
        "perm.control.delivery.*.breaker-health",
        "perm.control.delivery.*.breaker-reset",
      ]),
    );
    expect(permissions.provisioner.allowResponses).toBeUndefined();
    expect(natsUsersConfig(names).match(/allow_responses: true/g)).toHaveLength(
      HOOKLINE_SERVICES.length,
    );
  });

  it("renders every user with its password variable", () => {
    const config = natsUsersConfig(names);
    for (const user of HOOKLINE_NATS_USERS) {
      expect(config).toContain(`user: ${user}\n      password: $${natsPasswordVariable(user)}`);
    }
    expect(natsPasswordVariable("provisioner")).toBe("PROVISIONER_NATS_PASSWORD");
  });
});
