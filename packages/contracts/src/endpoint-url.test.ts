import { describe, expect, it } from "vitest";
import {
  checkEndpointDestination,
  checkEndpointUrl,
  DEFAULT_ENDPOINT_PORT_POLICY,
  type EndpointPortPolicy,
  formatPortList,
  MAX_ENDPOINT_URL_LENGTH,
  parsePortList,
  urlWithoutCredentials,
} from "./endpoint-url";

const problemOf = (url: string, policy: EndpointPortPolicy = DEFAULT_ENDPOINT_PORT_POLICY) => {
  const verdict = checkEndpointUrl(url, policy);
  return verdict.outcome === "allowed" ? "allowed" : verdict.problem;
};

describe("parsePortList", () => {
  it("reads ports and ranges, with spaces around entries", () => {
    expect(parsePortList("22, 25,8000-8999")).toEqual([
      { from: 22, to: 22 },
      { from: 25, to: 25 },
      { from: 8000, to: 8999 },
    ]);
    expect(parsePortList("65535")).toEqual([{ from: 65_535, to: 65_535 }]);
  });

  it('reads "none" as the empty list', () => {
    expect(parsePortList("none")).toEqual([]);
    expect(parsePortList(" NONE ")).toEqual([]);
  });

  it.each(["", "22,", "0", "65536", "http", "9-8", "1-2-3", "-5", "22;25", "1e3", "443 8443"])(
    "refuses %j",
    (text) => {
      expect(parsePortList(text)).toBeUndefined();
    },
  );

  it("formats what it reads back", () => {
    const text = "22,25,8000-8999";
    expect(formatPortList(parsePortList(text) ?? [])).toBe(text);
    expect(formatPortList([])).toBe("none");
  });
});

describe("checkEndpointUrl with the default policy", () => {
  it.each([
    "https://example.com/hooks",
    "http://example.com/hooks",
    "https://example.com:8443/hooks?tenant=acme",
    "http://127.0.0.1:3000/hook",
    "http://[::1]:9000/hook",
  ])("allows %s", (url) => {
    expect(problemOf(url)).toBe("allowed");
  });

  it.each([
    "https://alice:s3cr3t@example.com/hooks",
    "https://alice@example.com/hooks",
    "https://:s3cr3t@example.com/hooks",
    "https://alice%40corp:s3%3Acr3t@example.com/hooks",
  ])("refuses credentials in %s without repeating them", (url) => {
    const verdict = checkEndpointUrl(url, DEFAULT_ENDPOINT_PORT_POLICY);
    expect(verdict).toMatchObject({ outcome: "refused", problem: "credentials" });
    if (verdict.outcome === "refused") {
      expect(verdict.message).toMatch(/header/);
      expect(verdict.message).not.toMatch(/alice|s3/);
    }
  });

  it.each([22, 25, 2375, 2379, 2380, 4222, 5432, 6379, 6443, 8222, 9200, 10250, 11211])(
    "refuses port %i and names it",
    (port) => {
      const verdict = checkEndpointUrl(`http://example.com:${port}/`, DEFAULT_ENDPOINT_PORT_POLICY);
      expect(verdict).toMatchObject({ outcome: "refused", problem: "port", port });
      if (verdict.outcome === "refused") expect(verdict.message).toContain(`port ${port}`);
    },
  );

  it("refuses port 0, which cannot be connected to", () => {
    expect(problemOf("http://example.com:0/")).toBe("port");
  });

  it(`refuses URLs longer than ${MAX_ENDPOINT_URL_LENGTH} characters`, () => {
    const base = "https://example.com/";
    const longest = base + "a".repeat(MAX_ENDPOINT_URL_LENGTH - base.length);
    expect(problemOf(longest)).toBe("allowed");
    const verdict = checkEndpointUrl(`${longest}a`, DEFAULT_ENDPOINT_PORT_POLICY);
    expect(verdict).toMatchObject({ outcome: "refused", problem: "too_long" });
    if (verdict.outcome === "refused") expect(verdict.message).toContain("2048");
  });

  it("refuses what is not an http(s) URL", () => {
    expect(problemOf("example.com/hooks")).toBe("malformed");
    expect(problemOf("ftp://example.com/")).toBe("malformed");
  });
});

describe("scheme default ports", () => {
  it("judges a URL without a port by 80 or 443", () => {
    const only443: EndpointPortPolicy = { blocked: [], allowed: [{ from: 443, to: 443 }] };
    expect(checkEndpointUrl("https://example.com/", only443)).toMatchObject({
      outcome: "allowed",
      port: 443,
    });
    expect(checkEndpointUrl("http://example.com/", only443)).toMatchObject({
      outcome: "refused",
      port: 80,
    });
    // The URL parser drops an explicit default port; it is judged the same.
    expect(checkEndpointUrl("https://example.com:443/", only443).outcome).toBe("allowed");
  });

  it("refuses 80 and 443 when they are blocked", () => {
    const no80: EndpointPortPolicy = { blocked: [{ from: 80, to: 80 }] };
    expect(problemOf("http://example.com/", no80)).toBe("port");
    expect(problemOf("https://example.com/", no80)).toBe("allowed");
  });
});

describe("an allow-list", () => {
  const policy: EndpointPortPolicy = {
    blocked: [{ from: 8222, to: 8222 }],
    allowed: parsePortList("443,8000-8999"),
  };

  it("takes only its ports, and never a blocked one", () => {
    expect(problemOf("https://example.com/", policy)).toBe("allowed");
    expect(problemOf("https://example.com:8443/", policy)).toBe("allowed");
    expect(problemOf("https://example.com:9443/", policy)).toBe("port");
    expect(problemOf("https://example.com:8222/", policy)).toBe("port");
  });

  it("names the allowed ports", () => {
    const verdict = checkEndpointUrl("https://example.com:9443/", policy);
    expect(verdict.outcome === "refused" && verdict.message).toContain("443,8000-8999");
  });

  it("with no blocked ports, takes any port", () => {
    expect(problemOf("http://example.com:22/", { blocked: [] })).toBe("allowed");
  });
});

describe("checkEndpointDestination", () => {
  it("checks a parsed URL without a length limit, as delivery does for stored records", () => {
    const long = new URL(`https://example.com/${"a".repeat(MAX_ENDPOINT_URL_LENGTH)}`);
    expect(checkEndpointDestination(long, DEFAULT_ENDPOINT_PORT_POLICY).outcome).toBe("allowed");
    const withCredentials = new URL("https://user:pass@example.com/");
    expect(checkEndpointDestination(withCredentials, DEFAULT_ENDPOINT_PORT_POLICY)).toMatchObject({
      outcome: "refused",
      problem: "credentials",
    });
  });
});

describe("urlWithoutCredentials", () => {
  it("leaves out a user and password, and changes nothing else", () => {
    expect(urlWithoutCredentials("https://alice:s3cr3t@example.com:8443/hook?a=1")).toBe(
      "https://example.com:8443/hook?a=1",
    );
    expect(urlWithoutCredentials("http://alice@example.com/x")).toBe("http://example.com/x");
    expect(urlWithoutCredentials("https://:pw@example.com/")).toBe("https://example.com/");
    expect(urlWithoutCredentials("https://example.com/a@b")).toBe("https://example.com/a@b");
    expect(urlWithoutCredentials("https://example.com/in")).toBe("https://example.com/in");
  });
});
