/**
 * Postgres array literals for the batch statement's parameters, built here instead of by pg
 * (whose arrayString runs two regex replaces and a prepareValue per element: most of the
 * statement's CPU on our side). Every text element is quoted, so "NULL" stays a string.
 */
export function textArray(values: readonly (string | null | undefined)[]): string {
  let literal = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ",";
    const value = values[i];
    if (value == null) literal += "NULL";
    // Two indexOf calls cost less than a regex test.
    else if (value.indexOf('"') < 0 && value.indexOf("\\") < 0) literal += `"${value}"`;
    else literal += `"${value.replace(ESCAPED, "\\$&")}"`;
  }
  return `${literal}}`;
}
const ESCAPED = /["\\]/g;

/** Numbers as JavaScript prints them (shortest round-trip form), null as NULL. */
export function numberArray(values: readonly (number | null | undefined)[]): string {
  let literal = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ",";
    const value = values[i];
    literal += value == null ? "NULL" : String(value);
  }
  return `${literal}}`;
}
