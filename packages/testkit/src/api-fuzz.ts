import * as fc from "fast-check";

/** One request as the fuzzer sends it through `app.request()`. */
export interface FuzzRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** A call the API serves; the fuzzer sends it as is, and with parts changed. */
export interface ApiOperation {
  method: string;
  /** With `{id}` where a path parameter goes. */
  route: string;
  /** Bodies it takes; variants get values, at any depth, replaced by arbitrary JSON. */
  bodies?: readonly Record<string, unknown>[];
  /** How often it is picked against the others (1 by default). */
  weight?: number;
}

export interface ApiShape {
  operations: readonly ApiOperation[];
  /** Path parameters that exist, so requests reach handlers; made-up ones are mixed in. */
  ids: readonly string[];
  /** Query parameter names the API reads. */
  queryNames: readonly string[];
  /** Header names the API reads, besides authorization and content-type. */
  headerNames?: readonly string[];
  /** The valid Authorization header; most requests carry it, so they pass auth. */
  authorization: string;
}

/** Mostly `usual`, sometimes `unusual`: a request with one part wrong reaches deeper code. */
const mostly = <T>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<T>, weight = 6) =>
  fc.oneof({ weight, arbitrary: usual }, { weight: 1, arbitrary: unusual });

const printable = (maxLength: number) => fc.string({ unit: "grapheme-ascii", maxLength });
const anyText = (maxLength: number) =>
  fc.oneof(printable(maxLength), fc.string({ unit: "grapheme", maxLength }));

/** JSON text of nested arrays, up to deep enough (~4,000) to overflow a recursive serialiser. */
const deepArrays = fc
  .oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 3_000, max: 20_000 }))
  .map((levels) => `${"[".repeat(levels)}${"]".repeat(levels)}`);

/** JSON text (built as text: deep values would overflow JSON.stringify in the test itself). */
const jsonText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: deepArrays },
  {
    weight: 1,
    arbitrary: fc.constantFrom("-1", "0", "1e308", "1e999", '""', `"${"a".repeat(5_000)}"`),
  },
);

const brokenJson = fc.oneof(
  anyText(200),
  fc.constantFrom("", "{", "[1,", '{"a":}', "\u0000", "null", "\ufeff{}", '{"a":1}{"b":2}'),
);

const method = fc.constantFrom("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "X-Y");

/** A path segment: mostly an id that exists, else made up, encoded or deliberately broken. */
function segment(shape: ApiShape): fc.Arbitrary<string> {
  return mostly(
    fc.constantFrom(...shape.ids),
    fc.oneof(
      anyText(40).map(encodeURIComponent),
      fc.constantFrom("x", "..", "%", "%zz", "%00", "%2F", "a%20b", "%E2%88", ""),
    ),
    3,
  );
}

function path(shape: ApiShape, route: string): fc.Arbitrary<string> {
  const filled = segment(shape).map((id) => route.replaceAll("{id}", id));
  const mangled = fc
    .tuple(filled, fc.constantFrom("/", "//", "/extra", "%2e%2e", "/../v1", "?"))
    .map(([base, tail]) => `${base}${tail}`);
  const random = fc
    .array(segment(shape), { minLength: 1, maxLength: 4 })
    .map((segments) => `/${segments.join("/")}`);
  return mostly(filled, fc.oneof(mangled, random));
}

function query(shape: ApiShape): fc.Arbitrary<string> {
  const name = mostly(fc.constantFrom(...shape.queryNames), printable(8), 3);
  const value = fc.oneof(
    printable(30).map(encodeURIComponent),
    fc.integer().map(String),
    fc.constantFrom("", "-1", "0", "1e9", "NaN", "null", "%5B%5D", "2026-13-45", "open", "%zz"),
  );
  const pairs = fc.array(fc.tuple(name.map(encodeURIComponent), value), { maxLength: 4 });
  return mostly(
    fc.constant(""),
    pairs.map((list) => `?${list.map((pair) => pair.join("=")).join("&")}`),
    2,
  );
}

type JsonPath = (string | number)[];

/** The path of every value inside `value`, containers included, and of one new field per object. */
function pathsIn(value: unknown, at: JsonPath = []): JsonPath[] {
  if (typeof value !== "object" || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((item, index) => [index, item])
    : [...Object.entries(value), ["surprise", undefined]];
  return entries.flatMap(([key, item]) => [[...at, key], ...pathsIn(item, [...at, key])]);
}

/** `base` as JSON text with the values at `changes` replaced by raw JSON text. */
function replaceAt(base: Record<string, unknown>, changes: [JsonPath, string][]): string {
  const copy: Record<string, unknown> = structuredClone(base);
  const marked: [string, string][] = [];
  for (const [n, [at, text]] of changes.entries()) {
    let parent: unknown = copy;
    for (const key of at.slice(0, -1)) {
      parent = (parent as Record<string | number, unknown> | undefined)?.[key];
    }
    const last = at.at(-1);
    // An earlier change may have replaced this value's parent.
    if (typeof parent !== "object" || parent === null || last === undefined) continue;
    const mark = `\u0000fuzz${n}\u0000`;
    (parent as Record<string | number, unknown>)[last] = mark;
    marked.push([JSON.stringify(mark), text]);
  }
  let json = JSON.stringify(copy);
  for (const [mark, text] of marked) json = json.replace(mark, () => text);
  return json;
}

function body(operation: ApiOperation): fc.Arbitrary<string | undefined> {
  const bodies = operation.bodies ?? [];
  if (bodies.length === 0) {
    return mostly(fc.constant(undefined), fc.oneof(jsonText, brokenJson), 4);
  }
  const example = fc.constantFrom(...bodies);
  // An example with a value (a field, an item, a nested one) replaced by arbitrary JSON.
  const replaced = example.chain((base) =>
    fc
      .array(fc.tuple(fc.constantFrom(...pathsIn(base)), jsonText), { minLength: 1, maxLength: 2 })
      .map((changes) => replaceAt(base, changes)),
  );
  return fc.oneof(
    { weight: 2, arbitrary: example.map((value) => JSON.stringify(value)) },
    { weight: 6, arbitrary: replaced },
    { weight: 1, arbitrary: jsonText },
    { weight: 1, arbitrary: brokenJson },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

function headers(shape: ApiShape): fc.Arbitrary<Record<string, string>> {
  const authorization = mostly(
    fc.constant<string | undefined>(shape.authorization),
    fc.oneof(fc.constant(undefined), fc.constant("Bearer "), printable(40)),
  );
  const contentType = mostly(
    fc.constant<string | undefined>("application/json"),
    fc.constantFrom(
      undefined,
      "",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/problem+json",
    ),
    4,
  );
  // Values Request() itself accepts: visible ASCII, no leading or trailing space.
  const value = fc.stringMatching(/^[!-~]([ -~]{0,38}[!-~])?$/);
  const name = fc.oneof(
    fc.constantFrom(...(shape.headerNames ?? []), "x-custom", "accept", "content-length"),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
  );
  return fc
    .tuple(authorization, contentType, fc.array(fc.tuple(name, value), { maxLength: 2 }))
    .map(([auth, type, extra]) => {
      const all: Record<string, string> = Object.fromEntries(extra);
      if (auth !== undefined) all.authorization = auth;
      if (type !== undefined) all["content-type"] = type;
      return all;
    });
}

export function fuzzRequests(shape: ApiShape): fc.Arbitrary<FuzzRequest> {
  // Built once, not per request: building arbitraries (regexes, JSON) costs more than using them.
  const sharedHeaders = headers(shape);
  const sharedQuery = query(shape);
  const requestsFor = (operation: ApiOperation) =>
    fc
      .record({
        method: mostly(fc.constant(operation.method), method),
        url: fc
          .tuple(path(shape, operation.route), sharedQuery)
          .map(([where, search]) => `${where}${search}`),
        headers: sharedHeaders,
        body: body(operation),
      })
      .map(({ body: text, ...request }): FuzzRequest => {
        // Request() refuses a body on GET and HEAD.
        const bodyless = request.method === "GET" || request.method === "HEAD";
        return bodyless || text === undefined ? request : { ...request, body: text };
      });
  return fc.oneof(
    ...shape.operations.map((operation) => ({
      weight: operation.weight ?? 1,
      arbitrary: requestsFor(operation),
    })),
  );
}

/**
 * What is wrong with an answer, or undefined when nothing is: never a 5xx, and every 4xx is
 * application/problem+json with a code and a title.
 */
export async function answerViolation(
  request: FuzzRequest,
  response: Response,
): Promise<string | undefined> {
  const text = await response.text();
  if (response.status >= 500) return `${response.status}: ${text.slice(0, 300)}`;
  if (response.status < 400) return undefined;
  const type = response.headers.get("content-type");
  if (type !== "application/problem+json") return `${response.status} with content-type ${type}`;
  if (request.method === "HEAD") return undefined;
  let problem: unknown;
  try {
    problem = JSON.parse(text);
  } catch {
    return `${response.status} with a body that is not JSON: ${text.slice(0, 200)}`;
  }
  const { code, title, status } = (problem ?? {}) as Record<string, unknown>;
  if (typeof code !== "string" || code === "") {
    return `${response.status} without a code: ${text}`;
  }
  if (typeof title !== "string" || title === "") {
    return `${response.status} without a title: ${text}`;
  }
  if (status !== response.status) return `status ${String(status)} in a ${response.status}`;
  return undefined;
}

export interface FuzzApiOptions {
  /** How many requests, bounded so a run takes seconds; HOOKLINE_FUZZ_RUNS overrides it. */
  numRuns: number;
  /** A fixed seed replays a failure (fast-check prints it). */
  seed?: number;
}

/**
 * Sends generated requests to `app` and fails with the smallest request that breaks the rules.
 * Resolves to the count of answers by status, to show the run reached the handlers.
 */
export async function fuzzApi(
  app: { request(url: string, init: RequestInit): Response | Promise<Response> },
  shape: ApiShape,
  options: FuzzApiOptions,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fuzzRequests(shape), async (request) => {
      const response = await app.request(request.url, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const violation = await answerViolation(request, response);
      if (violation !== undefined) throw new Error(violation);
    }),
    {
      numRuns: Number(process.env.HOOKLINE_FUZZ_RUNS) || options.numRuns,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    },
  );
  return statuses;
}
