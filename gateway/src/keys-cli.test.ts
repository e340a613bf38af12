/** `gateway keys` against the real API server: the Secret holds hashes only. */
import * as k8s from "@kubernetes/client-node";
import { kubeConfig, testNamespace } from "../../e2e/cluster/test-support/cluster.js";
import { hashKey, parseKeyEntries } from "./auth/api-keys.js";
import { KeysCommandError, runKeysCommand } from "./keys-cli.js";

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
let ns: { name: string; dispose(): Promise<void> };

beforeEach(async () => {
  ns = await testNamespace(kc, "keys");
});
afterEach(async () => {
  await ns.dispose();
});

async function keys(...argv: string[]): Promise<string> {
  let out = "";
  await runKeysCommand([...argv, "--namespace", ns.name, "--api-keys-secret", "k"], kc, {
    write: (t: string) => (out += t),
  });
  return out;
}
const secretData = async () =>
  (await core.readNamespacedSecret({ namespace: ns.name, name: "k" })).data ?? {};

test("create makes the Secret, prints the key once and stores only its hash", async () => {
  const key = (await keys("create", "--team", ns.name, "--name", "ci")).trim();
  expect(key).toMatch(/^e2b_[0-9a-f]{40}$/);
  const data = await secretData();
  expect(Object.keys(data)).toEqual(["ci"]);
  const raw = Buffer.from(data.ci ?? "", "base64").toString();
  expect(raw).not.toContain(key);
  expect(JSON.parse(raw)).toEqual({
    team: ns.name,
    sha256: hashKey(key),
    createdAt: expect.any(String),
  });

  const second = (await keys("create", "--team", ns.name, "--expires-in", "60")).trim();
  expect(second).not.toBe(key);
  const { keys: entries } = parseKeyEntries(await secretData());
  expect(entries).toHaveLength(2);
  const generated = entries.find((e) => e.name !== "ci");
  expect(generated?.name).toMatch(/^key-[0-9a-f]{8}$/);
  expect(Date.parse(generated?.expiresAt ?? "") - Date.now()).toBeGreaterThan(50_000);

  const listed = await keys("list");
  expect(listed.split("\n")[0]).toMatch(/^NAME\s+TEAM\s+CREATED\s+EXPIRES$/);
  expect(listed).toMatch(new RegExp(`^ci\\s+${ns.name}\\s+\\S+\\s+never$`, "m"));
  expect(listed).not.toContain(hashKey(key));

  expect(await keys("revoke", "--name", "ci")).toBe("revoked ci\n");
  expect(Object.keys(await secretData())).toEqual([generated?.name]);
});

test.each([
  [["create"], /--team <namespace> is required/],
  [["create", "--team", "Not_A_Namespace"], /is not a namespace name/],
  [["create", "--team", "no-such-namespace-here"], /there is no namespace/],
  [["create", "--team", "NS", "--name", "bad name"], /is not a namespace name/],
  [["create", "--team", "@ns", "--name", "bad name!"], /--name 'bad name!' is not valid/],
  [["create", "--team", "@ns", "--expires-in", "soon"], /--expires-in 'soon'/],
  [["revoke"], /--name <name> is required/],
  [["revoke", "--name", "nobody"], /there is no key named 'nobody'/],
  [["rotate"], /unknown command 'rotate'/],
  [[], /a command is needed/],
  [["list", "--bogus"], /Unknown option '--bogus'/],
])("refuses %j", async (argv, message) => {
  const args = argv.map((a) => (a === "@ns" ? ns.name : a));
  const run = keys(...args);
  await expect(run).rejects.toBeInstanceOf(KeysCommandError);
  await expect(run).rejects.toThrow(message);
});

test("a name that exists is refused and the stored key is unchanged", async () => {
  await keys("create", "--team", ns.name, "--name", "dup");
  const before = await secretData();
  await expect(keys("create", "--team", ns.name, "--name", "dup")).rejects.toThrow(
    /a key named 'dup' exists already/,
  );
  expect(await secretData()).toEqual(before);
});
