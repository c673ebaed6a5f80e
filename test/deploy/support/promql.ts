/** A series selector in a PromQL expression: the metric and the labels its matchers name. */
export interface PromqlSelector {
  metric: string;
  labels: string[];
}

export interface PromqlReferences {
  selectors: PromqlSelector[];
  /** Labels in by(), without(), on(), ignoring(), group_left() and group_right(). */
  groupingLabels: string[];
}

const groupingClause = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
const selectorWithMatchers = /([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g;
const matcher = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g;
const keywords = new Set(["and", "or", "unless", "bool", "offset", "group_left", "group_right"]);

function names(list: string): string[] {
  return list
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
}

/**
 * The metrics and labels an expression refers to. Enough PromQL for dashboards and alert rules:
 * ranges and subqueries, Grafana's `$__…` variables, matchers with double-quoted values,
 * aggregations with grouping clauses, binary operators, function calls and number literals.
 */
export function promqlReferences(expr: string): PromqlReferences {
  const selectors: PromqlSelector[] = [];
  const groupingLabels: string[] = [];

  let rest = expr
    // [5m], [$__rate_interval], [30m:1m]: ranges name no metric.
    .replace(/\[[^\]]*\]/g, " ")
    .replace(groupingClause, (_, list: string) => {
      groupingLabels.push(...names(list));
      return " ";
    })
    .replace(selectorWithMatchers, (_, metric: string | undefined, body: string) => {
      const labels = [...body.matchAll(matcher)].map((match) => match[1] ?? "");
      if (metric === undefined) throw new Error(`selector without a metric name in: ${expr}`);
      selectors.push({ metric, labels });
      return " ";
    })
    // Arguments such as label_replace's strings, and Grafana variables outside ranges.
    .replace(/"(?:[^"\\]|\\.)*"/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");

  // What is left: function names (followed by "("), keywords, numbers, and bare metric names.
  rest = rest.replace(/[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(/g, "(");
  for (const match of rest.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    if (!keywords.has(word.toLowerCase())) selectors.push({ metric: word, labels: [] });
  }
  return { selectors, groupingLabels };
}
