// What an E2B user's program looks like on SoulBox: nothing SoulBox-specific. The SDK finds the
// gateway through E2B_API_URL, E2B_DOMAIN and E2B_API_KEY (and trusts the local CA through
// NODE_EXTRA_CA_CERTS), all printed by e2e/cluster/env.
import { Sandbox } from "e2b";

const command =
  process.argv.slice(2).join(" ") ||
  'echo "hello from $(whoami) in $(pwd)"; uname -sr; python3 --version 2>&1 || true';

const started = Date.now();
const sandbox = await Sandbox.create("base", { metadata: { from: "soulbox-demo" } });
console.log(`sandbox ${sandbox.sandboxId} ready in ${Date.now() - started} ms`);
try {
  console.log(`$ ${command}`);
  const result = await sandbox.commands.run(command, {
    onStdout: (d) => process.stdout.write(d),
    onStderr: (d) => process.stderr.write(d),
  });
  console.log(`exit code: ${result.exitCode}`);
  await sandbox.files.write("/home/user/note.txt", "written through the gateway\n");
  console.log(`read back: ${(await sandbox.files.read("/home/user/note.txt")).trim()}`);
} finally {
  await sandbox.kill();
  console.log(`sandbox ${sandbox.sandboxId} killed`);
}
