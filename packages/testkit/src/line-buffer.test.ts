import { describe, expect, it } from "vitest";
import { LineBuffer } from "./line-buffer";

describe("LineBuffer", () => {
  it("joins chunks into lines and keeps only the last ones", () => {
    const buffer = new LineBuffer(3);
    expect(buffer.write("one\ntw")).toEqual(["one"]);
    expect(buffer.write("o\r\nthree\nfour\nfi")).toEqual(["two", "three", "four"]);
    expect(buffer.lines()).toEqual(["two", "three", "four", "fi"]);
    buffer.push("marker");
    expect(buffer.lines()).toEqual(["three", "four", "marker", "fi"]);
    expect(buffer.tail(2)).toBe("marker\nfi");
  });
});
