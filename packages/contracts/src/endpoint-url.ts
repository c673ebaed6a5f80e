/** Longer URLs are refused by the API; browsers, proxies and CDNs commonly stop near this. */
export const MAX_ENDPOINT_URL_LENGTH = 2_048;

/** An inclusive range of TCP ports; a single port has from === to. */
export interface PortRange {
  from: number;
  to: number;
}

/**
 * Ports an endpoint may not use unless ENDPOINT_BLOCKED_PORTS says otherwise: services that trust
 * whoever reaches them or parse an HTTP request's lines as their own commands. The address guard
 * keeps webhooks off private networks; this also covers such services on public addresses, and
 * deployments that allow private networks.
 */
export const DEFAULT_BLOCKED_PORTS: readonly PortRange[] = [
  22, // SSH
  25, // SMTP: a POST body becomes mail
  2375, // Docker Engine API without TLS: control of the host
  2379, // etcd client API: the cluster's state
  2380, // etcd peers
  4222, // NATS clients: Hookline's own message store
  5432, // PostgreSQL: Hookline's dead letters
  6379, // Redis: reads request lines as commands
  6443, // Kubernetes API server
  8222, // NATS monitoring
  9200, // Elasticsearch REST API: a POST can change or delete indices
  10250, // kubelet API: runs commands in pods
  11211, // memcached: reads request lines as commands
].map((port) => ({ from: port, to: port }));

/** Which ports an endpoint URL may name; its scheme's default port when it names none. */
export interface EndpointPortPolicy {
  /** Refused whatever `allowed` says. */
  blocked: readonly PortRange[];
  /** When set, no port outside it is accepted. */
  allowed?: readonly PortRange[] | undefined;
}

export const DEFAULT_ENDPOINT_PORT_POLICY: EndpointPortPolicy = { blocked: DEFAULT_BLOCKED_PORTS };

const MAX_PORT = 65_535;
const PORT_ENTRY = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/**
 * Parses "22,25,8000-8999" (spaces allowed around entries); "none" is the empty list.
 * Undefined when an entry is not a port 1-65535 or a range of them with from <= to.
 */
export function parsePortList(text: string): PortRange[] | undefined {
  if (text.trim().toLowerCase() === "none") return [];
  const ranges: PortRange[] = [];
  for (const entry of text.split(",")) {
    const match = PORT_ENTRY.exec(entry.trim());
    if (!match) return undefined;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (from < 1 || to > MAX_PORT || from > to) return undefined;
    ranges.push({ from, to });
  }
  return ranges;
}

/** The list as parsePortList reads it back. */
export function formatPortList(ranges: readonly PortRange[]): string {
  if (ranges.length === 0) return "none";
  return ranges.map(({ from, to }) => (from === to ? String(from) : `${from}-${to}`)).join(",");
}

const inRanges = (port: number, ranges: readonly PortRange[]) =>
  ranges.some(({ from, to }) => port >= from && port <= to);

export type EndpointUrlRefusal =
  | { problem: "too_long" | "malformed" | "credentials"; message: string }
  | { problem: "port"; port: number; message: string };

export type EndpointUrlVerdict =
  | { outcome: "allowed"; url: URL; port: number }
  | ({ outcome: "refused" } & EndpointUrlRefusal);

const defaultPorts: Record<string, number> = { "http:": 80, "https:": 443 };

/**
 * What delivery refuses to send to, checked again at send time because a stored record may
 * predate these rules or come from another writer. Messages never repeat the URL: it may hold
 * credentials.
 */
export function checkEndpointDestination(url: URL, policy: EndpointPortPolicy): EndpointUrlVerdict {
  if (url.username !== "" || url.password !== "") {
    return {
      outcome: "refused",
      problem: "credentials",
      message:
        "credentials in URLs (user:password@) are not accepted and would never be sent; " +
        'send them in a header instead, e.g. "headers": {"authorization": "Basic …"}',
    };
  }
  const defaultPort = defaultPorts[url.protocol];
  if (defaultPort === undefined) {
    return { outcome: "refused", problem: "malformed", message: "not an http or https URL" };
  }
  const port = url.port === "" ? defaultPort : Number(url.port);
  if (port === 0 || inRanges(port, policy.blocked)) {
    const message = `port ${port} is not allowed for endpoints in this deployment`;
    return { outcome: "refused", problem: "port", port, message };
  }
  if (policy.allowed !== undefined && !inRanges(port, policy.allowed)) {
    const allowed = formatPortList(policy.allowed);
    const message = `port ${port} is not allowed for endpoints in this deployment (allowed: ${allowed})`;
    return { outcome: "refused", problem: "port", port, message };
  }
  return { outcome: "allowed", url, port };
}

/** What the API refuses as an endpoint's URL: the send-time rules, a length limit, and non-URLs. */
export function checkEndpointUrl(text: string, policy: EndpointPortPolicy): EndpointUrlVerdict {
  if (text.length > MAX_ENDPOINT_URL_LENGTH) {
    const message = `longer than ${MAX_ENDPOINT_URL_LENGTH} characters`;
    return { outcome: "refused", problem: "too_long", message };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { outcome: "refused", problem: "malformed", message: "not a URL" };
  }
  return checkEndpointDestination(url, policy);
}

/**
 * The URL as reads may show it: without a `user:password@`. Records from before the API refused
 * credentials may hold them; they were never sent, and no read or dead letter repeats them.
 */
export function urlWithoutCredentials(text: string): string {
  if (!text.includes("@")) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.username === "" && url.password === "") return text;
  url.username = "";
  url.password = "";
  return url.href;
}
