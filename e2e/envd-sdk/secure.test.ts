import { gzipSync } from "node:zlib";
import { computeSignature } from "../../envd/src/shared/signature.js";
import { eventually, startSdkHarness, type SdkHarness } from "./sandbox.js";

const TOKEN = "test-access-token";
let h: SdkHarness;
beforeAll(async () => {
  h = await startSdkHarness([], TOKEN);
});
afterAll(async () => {
  await h.stop();
});

describe("a secure sandbox (access token)", () => {
  test("the SDK works with the token", async () => {
    expect((await h.sandbox.commands.run("echo secure")).stdout).toBe("secure\n");
    await h.sandbox.files.write("/tmp/sbx-secure.txt", "s");
    expect(await h.sandbox.files.read("/tmp/sbx-secure.txt")).toBe("s");
  });

  test.each([
    ["GET", "/envs"],
    ["GET", "/metrics"],
    ["GET", "/files?path=/tmp/sbx-secure.txt"],
    ["POST", "/process.Process/List"],
  ])("%s %s without the token answers 401", async (method, path) => {
    const res = await fetch(`${h.envd.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: method === "POST" ? "{}" : undefined,
    });
    expect(res.status).toBe(401);
  });

  test("health needs no token", async () => {
    expect((await fetch(`${h.envd.url}/health`)).status).toBe(204);
  });

  test("signed upload and download URLs from the SDK work without the token", async () => {
    const up = await h.sandbox.uploadUrl("/tmp/sbx-signed.txt", {
      user: "user",
      useSignatureExpiration: 60,
    });
    const form = new FormData();
    form.append("file", new Blob(["signed content"]), "sbx-signed.txt");
    expect((await fetch(up, { method: "POST", body: form })).status).toBe(200);
    const down = await h.sandbox.downloadUrl("/tmp/sbx-signed.txt", { user: "user" });
    const res = await fetch(down);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("signed content");
  });

  test("a read signature cannot write, a tampered one is refused, an expired one is refused", async () => {
    const down = new URL(await h.sandbox.downloadUrl("/tmp/sbx-signed.txt", { user: "user" }));
    expect(
      (
        await fetch(down, {
          method: "POST",
          body: "x",
          headers: { "content-type": "application/octet-stream" },
        })
      ).status,
    ).toBe(401);
    const tampered = new URL(down);
    tampered.searchParams.set("path", "/etc/shadow");
    expect((await fetch(tampered)).status).toBe(401);
    const past = Math.floor(Date.now() / 1000) - 10;
    const expired = new URL(down);
    expired.searchParams.set("signature_expiration", String(past));
    expired.searchParams.set(
      "signature",
      computeSignature({
        path: "/tmp/sbx-signed.txt",
        operation: "read",
        user: "user",
        token: TOKEN,
        expiration: past,
      }),
    );
    const res = await fetch(expired);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 401, message: "signature is already expired" });
  });

  test.each<[string, (u: URL) => RequestInit | void, string]>([
    [
      "no signature",
      (u) => void u.searchParams.delete("signature"),
      "missing signature query parameter",
    ],
    ["a bad signature", (u) => void u.searchParams.set("signature", "v1_bad"), "invalid signature"],
    [
      "a wrong token in the header",
      () => ({ headers: { "x-access-token": "not-the-token" } }),
      "access token present in header but does not match",
    ],
  ])("%s: E2B's 401 and JSON body", async (_name, change, message) => {
    const url = new URL(await h.sandbox.downloadUrl("/tmp/sbx-secure.txt", { user: "user" }));
    const init = change(url) ?? {};
    const res = await fetch(url, init);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 401, message });
  });

  test("a plain form field named file (no filename) is stored at the URL's path", async () => {
    const up = await h.sandbox.uploadUrl("/tmp/sbx-field.txt", { user: "user" });
    const form = new FormData();
    form.append("file", "text from a plain field");
    const res = await fetch(up, { method: "POST", body: form });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { name: "sbx-field.txt", path: "/tmp/sbx-field.txt", type: "file" },
    ]);
    expect(await h.sandbox.files.read("/tmp/sbx-field.txt")).toBe("text from a plain field");
  });

  test("a gzip-encoded multipart body is unzipped whole, then its parts are parsed", async () => {
    const form = new FormData();
    form.append("file", new Blob(["zipped part"]), "z.txt");
    const req = new Request("http://x/", { method: "POST", body: form });
    const raw = Buffer.from(await req.arrayBuffer());
    const res = await fetch(`${h.envd.url}/files?path=/tmp/sbx-gz.txt&username=user`, {
      method: "POST",
      headers: {
        "x-access-token": TOKEN,
        "content-type": req.headers.get("content-type") ?? "",
        "content-encoding": "gzip",
      },
      body: gzipSync(raw),
    });
    expect(res.status).toBe(200);
    expect(await h.sandbox.files.read("/tmp/sbx-gz.txt")).toBe("zipped part");
  });

  test("a one-time (nonce) signature works once, a replay is refused", async () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    const sig = computeSignature({
      path: "/tmp/sbx-signed.txt",
      operation: "read",
      user: "user",
      token: TOKEN,
      expiration: exp,
      nonce: "abc123",
    });
    const url = `${h.envd.url}/files?path=${encodeURIComponent("/tmp/sbx-signed.txt")}&username=user&signature=${encodeURIComponent(sig)}&signature_expiration=${exp}&signature_nonce=abc123`;
    expect((await fetch(url)).status).toBe(200);
    const replay = await fetch(url);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({
      message: "signature was already used (replayed nonce)",
    });
  });

  test("/init can rotate the token only with the current one", async () => {
    const init = (token: string | undefined, body: unknown) =>
      fetch(`${h.envd.url}/init`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { "x-access-token": token } : {}),
        },
        body: JSON.stringify(body),
      });
    expect((await init(undefined, { accessToken: "stolen" })).status).toBe(401);
    expect((await init(TOKEN, { envVars: { FROM_INIT: "yes" } })).status).toBe(204);
    expect((await h.sandbox.commands.run("echo $FROM_INIT")).stdout).toBe("yes\n");
    const envs = await fetch(`${h.envd.url}/envs`, { headers: { "x-access-token": TOKEN } });
    expect(await envs.json()).toMatchObject({ FROM_INIT: "yes" });
  });

  test("audit lines name the operation and the user but never the token", async () => {
    await h.sandbox.commands.run("true", { user: "root" });
    // A stream's audit line is written when the stream ends, and reaches us through a pipe: poll.
    await eventually(() =>
      h.envd
        .output()
        .split("\n")
        .some(
          (l) =>
            l.includes('"audit":true') &&
            l.includes('"op":"process.Process/Start"') &&
            l.includes('"user":"root"'),
        )
        ? true
        : undefined,
    );
    expect(h.envd.output()).not.toContain(TOKEN);
  });
});

describe("freeze and thaw (SoulBox extension for pauseMode Freeze)", () => {
  const call = (method: string, path: string, token?: string) =>
    fetch(`${h.envd.url}${path}`, { method, headers: token ? { "x-access-token": token } : {} });

  test("freezing stops every sandbox process until thawed; new commands are refused meanwhile", async () => {
    await h.sandbox.files.write("/tmp/sbx-freeze/ticks", "");
    const ticker = await h.sandbox.commands.run(
      "while true; do echo x >> /tmp/sbx-freeze/ticks; sleep 0.02; done",
      { background: true },
    );
    const size = async () => (await h.sandbox.files.read("/tmp/sbx-freeze/ticks")).length;
    try {
      await eventually(async () => ((await size()) > 0 ? true : undefined));
      expect((await call("POST", "/freeze")).status).toBe(401);
      const frozen = await call("POST", "/freeze", TOKEN);
      expect(frozen.status).toBe(200);
      expect(await frozen.json()).toMatchObject({ frozen: true });
      await new Promise((r) => setTimeout(r, 100));
      const atFreeze = await size();
      await new Promise((r) => setTimeout(r, 300));
      expect(await size()).toBe(atFreeze);
      await expect(h.sandbox.commands.run("true")).rejects.toThrow(/paused/);
      expect(await (await call("GET", "/freeze", TOKEN)).json()).toEqual({ frozen: true });
      expect((await call("POST", "/thaw", TOKEN)).status).toBe(200);
      await eventually(async () => ((await size()) > atFreeze ? true : undefined));
    } finally {
      await call("POST", "/thaw", TOKEN);
      await h.sandbox.commands.kill(ticker.pid);
    }
  });
});
