import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { hooklineNames } from "@hookline/contracts";
import {
  HOOKLINE_NATS_USERS,
  HOOKLINE_SERVICES,
  type HooklineNatsUser,
  type HooklineService,
  natsInboxPrefix,
  natsPasswordVariable,
  natsPermissions,
} from "@hookline/kit";
import {
  type NatsServerHandle,
  type PostgresHandle,
  pollUntil,
  repoRoot,
  runService,
  type Sink,
  type Stack,
  startNatsServer,
  startPostgres,
  startSink,
  startStack,
} from "@hookline/testkit";
import { connect, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DlqClient, dlqClient } from "../support/dlq-client";
import { fastRetries } from "../support/e2e-stack";
import { type IngestClient, ingestClient } from "../support/ingest-client";

// The users file the manifests run (deploy/nats), so its prefix: hookline.
const names = hooklineNames("hookline");
const usersFile = join(repoRoot(), "deploy", "nats", "hookline-users.conf");
const permissions = natsPermissions(names);
// A letter first: nats-server reads a variable that starts like a number ("-a…", "3e5…") as
// one and refuses the file (about one run in ten failed that way with bare base64url).
const passwords = Object.fromEntries(
  HOOKLINE_NATS_USERS.map((user) => [user, `p${randomBytes(18).toString("hex")}`]),
) as Record<HooklineNatsUser, string>;

const credentialsOf = (user: HooklineNatsUser) => ({
  NATS_USER: user,
  NATS_PASSWORD: passwords[user],
  NATS_INBOX_PREFIX: natsInboxPrefix(names.prefix, user),
});
/** The provision step sees the same tiers the classifier does, as in the manifests. */
const sharedEnv = { ...fastRetries, HOOKLINE_PREFIX: names.prefix };
let provisionOutput = "";

let nats: NatsServerHandle;
let pg: PostgresHandle;
let sink: Sink;
let stack: Stack;
let ingest: IngestClient;
let dlq: DlqClient;

beforeAll(async () => {
  [nats, pg, sink] = await Promise.all([
    startNatsServer({
      configFile: usersFile,
      env: Object.fromEntries(
        HOOKLINE_NATS_USERS.map((user) => [natsPasswordVariable(user), passwords[user]]),
      ),
    }),
    startPostgres(),
    startSink(),
  ]);
  // As in production: the provision step first, with the one user allowed to create streams,
  // then the services, which only verify.
  const provisionStep = runService(
    "classifier",
    { ...sharedEnv, NATS_URL: nats.url, ...credentialsOf("provisioner") },
    "provision",
  );
  const provisionExit = await provisionStep.exitCode;
  provisionOutput = provisionStep.output();
  if (provisionExit !== 0)
    throw new Error(`provision step exited ${provisionExit}:\n${provisionOutput}`);
  stack = await startStack({
    natsUrl: nats.url,
    services: [...HOOKLINE_SERVICES],
    prefix: names.prefix,
    env: {
      INGEST_API_TOKENS: "e2e:e2e-ingest-token",
      DELIVERY_ALLOW_PRIVATE_NETWORKS: "true",
      HOOKLINE_PROVISION: "verify",
      ...sharedEnv,
    },
    serviceEnv: {
      ingest: credentialsOf("ingest"),
      delivery: credentialsOf("delivery"),
      classifier: credentialsOf("classifier"),
      dlq: {
        ...credentialsOf("dlq"),
        DATABASE_URL: pg.url,
        DLQ_API_TOKENS: "ops:e2e-ops-token",
        // Dead letters counted per 2 s for the operational events' case, not per minute.
        OPS_DEADLETTER_WINDOW: "2s",
      },
    },
  });
  ingest = ingestClient(stack.url("ingest"), "e2e-ingest-token");
  dlq = dlqClient(stack.url("dlq"), "e2e-ops-token");
});

afterAll(async () => {
  await stack?.stop();
  await sink?.close();
  await Promise.all([nats?.stop(), pg?.stop()]);
});

/** nats-server's log lines about refused publishes and subscriptions. */
const violations = () => nats.logs().filter((line) => /Violation/.test(line));

describe("services with one NATS user each (deploy/nats/hookline-users.conf)", () => {
  it("is the file kit's natsUsersConfig renders", async () => {
    const { natsUsersConfig } = await import("@hookline/kit");
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(usersFile, "utf8")).toBe(natsUsersConfig(names));
  });

  it("ran the provision step as the provisioner, and the services in verify mode", () => {
    expect(provisionOutput).toContain("jetstream provisioned");
    for (const service of HOOKLINE_SERVICES) {
      expect(stack.logs(service).join("\n"), service).toContain("jetstream verified");
    }
  });

  it("delivers an event end to end, stores a dead letter and replays it, refused nothing", async () => {
    const okEndpoint = await ingest.createEndpoint({
      url: sink.url("/ok"),
      eventTypes: ["order.created"],
    });
    sink.setSecrets("/ok", [okEndpoint.secret]);
    sink.setDefault("/refuses", { status: 400, body: "bad request" });
    const refusing = await ingest.createEndpoint({
      url: sink.url("/refuses"),
      eventTypes: ["order.refused"],
    });
    sink.setSecrets("/refuses", [refusing.secret]);

    const delivered = await ingest.postEvent({ eventType: "order.created", payload: { n: 1 } });
    expect(delivered.status).toBe(202);
    const [webhook] = await sink.waitFor(1, { path: "/ok", timeoutMs: 15_000 });
    expect(webhook?.verified).toBe(true);
    expect(webhook?.webhookId).toBe(delivered.json.eventId);

    const refused = await ingest.postEvent({ eventType: "order.refused", payload: { n: 2 } });
    expect(refused.status).toBe(202);
    let letterId = "";
    await pollUntil(
      async () => {
        const page = await dlq.list({ endpointId: refusing.id });
        letterId = page.json.data[0]?.id ?? "";
        return letterId !== "";
      },
      { timeoutMs: 15_000, intervalMs: 100, what: "the dead letter in the dlq" },
    );
    const letter = await dlq.get(letterId);
    expect(letter.json).toMatchObject({
      eventId: refused.json.eventId,
      endpointId: refusing.id,
      // The dlq read the endpoint's URL from the bucket it may only read.
      endpointUrl: sink.url("/refuses"),
      reason: "non_retryable",
    });

    // The replay goes out on dispatch.retry (the dlq's one publish) and is delivered again.
    sink.setDefault("/refuses", { status: 200 });
    expect((await dlq.replay(letterId, "fixed")).status).toBe(202);
    const again = await sink.waitFor(2, { path: "/refuses", timeoutMs: 15_000 });
    expect(again[1]?.answeredStatus).toBe(200);

    expect(violations()).toEqual([]);
  });

  it("retries now: the dlq reads a waiting retry, sends it on and deletes it, refused nothing", async () => {
    // One failure, then a retry in the longest tier (3s), which the call sends at once.
    sink.script("/later", [{ status: 500 }]);
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/later"),
      eventTypes: ["order.later"],
      retrySchedule: ["3s"],
    });
    sink.setSecrets("/later", [endpoint.secret]);
    const posted = await ingest.postEvent({ eventType: "order.later", payload: { n: 3 } });
    expect(posted.status).toBe(202);
    const eventId = String(posted.json.eventId);
    await pollUntil(
      async () => {
        const view = await dlq.request(`/v1/events/${eventId}`);
        const tasks =
          view.status === 200 ? ((await view.json()) as { tasks: { state: string }[] }).tasks : [];
        return tasks[0]?.state === "retrying";
      },
      { timeoutMs: 15_000, intervalMs: 50, what: "the task waiting for its retry" },
    );

    const retried = await dlq.request(`/v1/events/${eventId}/retry`, {
      method: "POST",
      body: "{}",
    });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ tasks: [{ outcome: "sent" }] });
    const sent = await sink.waitFor(2, { path: "/later", timeoutMs: 15_000 });
    expect(sent.map((delivery) => delivery.answeredStatus)).toEqual([500, 200]);

    expect(violations()).toEqual([]);
  });

  it("reads system health and an endpoint's breakers over the control services, refused nothing", async () => {
    const health = await ingest.request("/v1/system/health");
    const report = (await health.json()) as { notReady: string[]; services: unknown[] };
    expect(report.notReady).toEqual([]);
    expect(health.status).toBe(200);
    expect(report.services).toHaveLength(HOOKLINE_SERVICES.length);

    const endpoint = await ingest.createEndpoint({ url: sink.url("/controls") });
    const breakers = await ingest.request(`/v1/endpoints/${endpoint.id}/health`);
    expect(breakers.status).toBe(200);
    expect(await breakers.json()).toMatchObject({
      instances: [{ answered: true, known: false, breaker: { state: "closed" } }],
    });
    const reset = await ingest.request(`/v1/endpoints/${endpoint.id}/breaker/reset`, {
      method: "POST",
    });
    expect(await reset.json()).toMatchObject({ allReset: true });

    expect(violations()).toEqual([]);
  });

  it("sends operational events through the pipeline to an operator's endpoint, refused nothing", async () => {
    // Ingest created the system tenant at start; the operator subscribes in it.
    const operator = await ingest.createTenantEndpoint("hookline", {
      url: sink.url("/operator"),
      eventTypes: ["hookline.endpoint.disabled", "hookline.task.dead_lettered"],
    });
    sink.setSecrets("/operator", [operator.secret]);
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/switched-off"),
      eventTypes: ["order.paused"],
    });
    // Ingest's watch sees the change and emits endpoint.disabled; ingest makes it a webhook.
    const patched = await ingest.request(`/v1/endpoints/${endpoint.id}`, {
      method: "PATCH",
      body: JSON.stringify({ disabled: true }),
    });
    expect(patched.status).toBe(200);
    // Its task dead-letters as endpoint_disabled; the dlq counts it into task.dead_lettered.
    expect((await ingest.postEvent({ eventType: "order.paused", payload: {} })).status).toBe(202);
    const types = () =>
      sink
        .deliveries("/operator")
        .map((delivery) => delivery.json as { type: string; data: { endpointId: string } })
        .filter((body) => body.data.endpointId === endpoint.id)
        .map((body) => body.type)
        .sort();
    await pollUntil(async () => types().length === 2, {
      timeoutMs: 20_000,
      what: "endpoint.disabled and task.dead_lettered at the operator's endpoint",
      detail: () => JSON.stringify(types()),
    });
    expect(types()).toEqual(["hookline.endpoint.disabled", "hookline.task.dead_lettered"]);
    expect(sink.deliveries("/operator").every((delivery) => delivery.verified)).toBe(true);

    expect(violations()).toEqual([]);
  });

  // Each is outside the user's permissions (checked against the table first), and the server
  // refuses it.
  const refusals: {
    service: HooklineNatsUser;
    publish?: string;
    subscribe?: string;
    why: string;
  }[] = [
    // Only the provisioner changes stream config: not even the stream a service writes to.
    ...HOOKLINE_SERVICES.flatMap((service) => [
      {
        service,
        publish: `$JS.API.STREAM.UPDATE.${names.streams.dispatch}`,
        why: "updating a stream's config",
      },
      {
        service,
        publish: `$JS.API.STREAM.CREATE.${names.streams.deadletter}`,
        why: "creating a stream",
      },
      {
        service,
        publish: `$JS.API.STREAM.UPDATE.KV_${names.kv.endpoints}`,
        why: "updating the endpoint bucket's stream",
      },
    ]),
    {
      service: "ingest",
      publish: `$JS.API.STREAM.CREATE.KV_${names.kv.tenants}`,
      why: "creating its tenants bucket",
    },
    {
      service: "classifier",
      publish: `$JS.API.CONSUMER.CREATE.${names.streams.retry}.retry-9s`,
      why: "creating a tier consumer",
    },
    {
      service: "dlq",
      publish: `$JS.API.CONSUMER.CREATE.${names.streams.deadletter}.${names.consumers.dlqStore}`,
      why: "creating its shared durable",
    },
    // The provisioner changes config and carries no data.
    { service: "provisioner", publish: names.subjects.dispatchFresh("ep_x"), why: "a task" },
    { service: "provisioner", publish: `$KV.${names.kv.endpoints}.ep_x`, why: "an endpoint" },
    { service: "provisioner", publish: names.subjects.deadletter("ep_x"), why: "a dead letter" },
    {
      service: "provisioner",
      publish: `$JS.API.CONSUMER.MSG.NEXT.${names.streams.dispatch}.${names.consumers.deliveryFresh}`,
      why: "reading tasks",
    },
    {
      service: "provisioner",
      publish: `$JS.API.STREAM.DELETE.${names.streams.dispatch}`,
      why: "deleting a stream",
    },
    { service: "delivery", publish: names.subjects.dispatchFresh("ep_x"), why: "only ingest" },
    {
      service: "delivery",
      publish: `$JS.API.CONSUMER.MSG.NEXT.${names.streams.deadletter}.${names.consumers.dlqStore}`,
      why: "reading the dlq's dead letters",
    },
    {
      service: "delivery",
      publish: `$JS.API.STREAM.DELETE.${names.streams.dispatch}`,
      why: "deleting a stream",
    },
    { service: "delivery", subscribe: "_INBOX.>", why: "anyone's replies" },
    { service: "ingest", subscribe: names.subjects.outcomeFailedAll, why: "not a consumer" },
    { service: "ingest", publish: names.subjects.outcomeDelivered("ep_x"), why: "delivery's" },
    {
      service: "ingest",
      publish: `$JS.API.STREAM.PURGE.${names.streams.dispatch}`,
      why: "purging tasks",
    },
    { service: "classifier", publish: names.subjects.dispatchFresh("ep_x"), why: "only ingest" },
    { service: "classifier", publish: "$KV.hookline_tenants.t1", why: "ingest's tenants" },
    {
      service: "classifier",
      subscribe: `${natsInboxPrefix(names.prefix, "ingest")}.>`,
      why: "ingest's replies (KV watch deliveries with endpoint secrets)",
    },
    { service: "dlq", publish: `$KV.${names.kv.endpoints}.ep_x`, why: "reads endpoints only" },
    { service: "dlq", publish: names.subjects.dispatchFresh("ep_x"), why: "replays go to retry" },
    { service: "dlq", publish: names.subjects.outcomeFailed("ep_x"), why: "delivery's" },
    { service: "dlq", subscribe: names.subjects.deadletterAll, why: "only through its consumer" },
    // Only ingest asks the control services; each service answers only its own.
    { service: "classifier", publish: "$SRV.PING.hookline-delivery", why: "discovery is ingest's" },
    {
      service: "dlq",
      publish: "hookline.control.delivery.x.breaker-reset",
      why: "resetting breakers is ingest's",
    },
    {
      service: "classifier",
      subscribe: "hookline.control.delivery.*.breaker-reset",
      why: "answering for delivery",
    },
  ];

  it.each(refusals)("refuses $service: $why", async ({ service, publish, subscribe }) => {
    const subject = publish ?? subscribe ?? "";
    const allowed =
      publish === undefined ? permissions[service].subscribe : permissions[service].publish;
    expect(allowed.some((pattern) => matches(pattern, subject))).toBe(false);

    const nc = await connect({
      servers: nats.url,
      user: service,
      pass: passwords[service],
      inboxPrefix: natsInboxPrefix(names.prefix, service),
    });
    try {
      const refused = permissionViolation(nc);
      if (publish !== undefined) nc.publish(publish, "x");
      else nc.subscribe(subject);
      await nc.flush();
      const error = await refused;
      expect(error.operation).toBe(publish === undefined ? "subscription" : "publish");
      expect(error.subject).toBe(subject);
      const kind = publish === undefined ? "Subscription" : "Publish";
      await expect
        .poll(() =>
          violations().some(
            (line) =>
              line.includes(`${kind} Violation - User "${service}"`) && line.includes(subject),
          ),
        )
        .toBe(true);
    } finally {
      await nc.close();
    }
  });

  it("lets each user do what its service does outside the stack too (its own subjects)", async () => {
    // A publish of every user to one of its own subjects is stored (PubAck), so the refusals
    // above are about the subjects, not the connection.
    const own: Record<HooklineService, string> = {
      ingest: names.subjects.dispatchFresh("ep_probe"),
      delivery: names.subjects.outcomeDelivered("ep_probe"),
      classifier: names.subjects.retry("5s", "ep_probe"),
      dlq: names.subjects.dispatchRetry("ep_probe"),
    };
    for (const service of HOOKLINE_SERVICES) {
      const nc = await connect({
        servers: nats.url,
        user: service,
        pass: passwords[service],
        inboxPrefix: natsInboxPrefix(names.prefix, service),
      });
      try {
        const ack = await nc.request(own[service], "{}", { timeout: 5_000 });
        expect(JSON.parse(ack.string()), service).toHaveProperty("seq");
      } finally {
        await nc.close();
      }
    }
  });
});

/** The next permission violation the server reports on this connection. */
function permissionViolation(nc: NatsConnection): Promise<PermissionViolationError> {
  return (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" && status.error instanceof PermissionViolationError) {
        return status.error;
      }
    }
    throw new Error("connection closed without a permission violation");
  })();
}

/** NATS subject matching: `*` is one token, `>` one or more at the end. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
