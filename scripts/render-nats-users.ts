// Writes deploy/nats/hookline-users.conf, nats-server's users and permissions for the manifests,
// from kit's natsUsersConfig; test/deploy checks the file is up to date.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hooklineNames } from "@hookline/contracts";
import { natsUsersConfig } from "@hookline/kit";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "deploy", "nats", "hookline-users.conf");
writeFileSync(target, natsUsersConfig(hooklineNames(process.argv[2] ?? "hookline")));
process.stdout.write(`wrote ${target}\n`);
