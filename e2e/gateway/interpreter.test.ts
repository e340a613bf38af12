/**
 * The official code-interpreter SDKs, unchanged, against a chart-installed SoulBox gateway: the
 * JS SDK (`@e2b/code-interpreter`) here, the Python SDK (`e2b-code-interpreter`, pinned in
 * python/interpreter-requirements.txt, installed into e2e/gateway/.venv-interpreter on first use)
 * through python/interpreter_check.py. Both create sandboxes of the SDKs' default template,
 * code-interpreter-v1 (the chart's, built by e2e/cluster/lib/interpreter-image.sh), and reach its
 * interpreter server on port 49999 through the gateway's host routing (49999-<id>.<domain>, TLS).
 */
import { Sandbox } from "@e2b/code-interpreter";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import tls from "node:tls";
import { ensureNode, kubeConfig } from "../cluster/test-support/cluster.js";
import { installGatewayRelease, type GatewayRelease } from "./release.js";

/** What e2e/cluster/env prints for the SDKs (E2B_DOMAIN: port 49999 is reached at 49999-<id>.<domain>). */
const SDK_VARS = ["E2B_API_URL", "E2B_API_KEY", "E2B_DOMAIN"] as const;
const saved = Object.fromEntries([...SDK_VARS, "E2B_SANDBOX_URL"].map((k) => [k, process.env[k]]));
const defaultCas = tls.getCACertificates("default");

const VENV = fileURLToPath(new URL("./.venv-interpreter", import.meta.url));
const PYTHON = `${VENV}/bin/python`;
const REQUIREMENTS = fileURLToPath(
  new URL("./python/interpreter-requirements.txt", import.meta.url),
);
const SCRIPT = fileURLToPath(new URL("./python/interpreter_check.py", import.meta.url));

/** The pinned SDK in its own virtualenv, made (or brought up to the pin) here. */
function ensureVenv(): void {
  const pinned = /^e2b-code-interpreter==(\S+)$/m.exec(readFileSync(REQUIREMENTS, "utf8"))?.[1];
  const installed = existsSync(PYTHON)
    ? spawnSync(
        PYTHON,
        ["-c", "import importlib.metadata as m; print(m.version('e2b-code-interpreter'))"],
        {
          encoding: "utf8",
        },
      ).stdout.trim()
    : "";
  if (installed === pinned) return;
  const steps = [
    ["python3", ["-m", "venv", VENV]],
    [`${VENV}/bin/pip`, ["install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS]],
  ] as const;
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, [...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  }
}

let gw: GatewayRelease;

beforeAll(async () => {
  await ensureNode();
  gw = await installGatewayRelease(kubeConfig());
  for (const k of SDK_VARS) {
    const v = gw.env[k];
    if (!v) throw new Error(`e2e/cluster/env printed no ${k}`);
    process.env[k] = v;
  }
  delete process.env.E2B_SANDBOX_URL;
  const ca = readFileSync(gw.env.NODE_EXTRA_CA_CERTS ?? "", "utf8");
  tls.setDefaultCACertificates([...defaultCas, ca]);
}, 300_000);

afterAll(async () => {
  tls.setDefaultCACertificates(defaultCas);
  for (const k of [...SDK_VARS, "E2B_SANDBOX_URL"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await gw?.uninstall();
}, 180_000);

test("JS SDK: Python and JavaScript keep state, stream, take env vars, are interrupted by timeout", async () => {
  const sbx = await Sandbox.create({ timeoutMs: 180_000 });
  try {
    const streamed: string[] = [];
    const first = await sbx.runCode("x = 20\nprint('from python')\nx + 1", {
      onStdout: (m) => void streamed.push(m.line),
    });
    expect(first.error).toBeUndefined();
    expect(first.text).toBe("21");
    expect(first.logs.stdout).toEqual(["from python\n"]);
    expect(streamed).toEqual(["from python\n"]);
    expect((await sbx.runCode("x * 2")).text).toBe("40");
    expect(
      (await sbx.runCode("import os; os.environ['SBX_E']", { envs: { SBX_E: "per call" } })).text,
    ).toBe("per call");
    const err = await sbx.runCode("{}['k']");
    expect(err.error).toMatchObject({ name: "KeyError", value: "'k'" });

    expect((await sbx.runCode("const n: number = 7; n * 6", { language: "ts" })).text).toBe("42");
    expect((await sbx.runCode("n + 1", { language: "ts" })).text).toBe("8");
    expect((await sbx.runCode("[1, 2].map((v) => v * 2).join(',')", { language: "js" })).text).toBe(
      "2,4",
    );
    expect((await sbx.runCode("echo $((6 * 7))", { language: "bash" })).logs.stdout).toEqual([
      "42\n",
    ]);
    // R (IRkernel shows every value as display data, so a result but no main text) and Java.
    await sbx.runCode("y <- 6", { language: "r" });
    expect((await sbx.runCode("y * 7", { language: "r" })).results.map((r) => r.text)).toEqual([
      "[1] 42",
    ]);
    await sbx.runCode("int j = 6;", { language: "java" });
    expect((await sbx.runCode("j * 7", { language: "java" })).text).toBe("42");

    // The SDK turns its aborted fetch into a TimeoutError when `error instanceof Error`; in jest's
    // VM realm undici's DOMException is not an instance of the test's Error, so it arrives as the
    // AbortError itself (outside jest it is a TimeoutError). Either way the client went away.
    await expect(sbx.runCode("while True: pass", { timeoutMs: 3_000 })).rejects.toMatchObject({
      name: expect.stringMatching(/^(TimeoutError|AbortError)$/),
    });
    expect((await sbx.runCode("x")).text).toBe("20");

    const bad = await sbx.runCode("1", { language: "cobol" });
    expect(bad.error?.name).toBe("UnknownLanguageError");
    expect(bad.error?.value).toMatch(/Unknown language "cobol": supported languages are python/);
  } finally {
    await sbx.kill();
  }
}, 240_000);

test("JS SDK: contexts (create with cwd, list, restart, remove) and a matplotlib chart", async () => {
  const sbx = await Sandbox.create({ timeoutMs: 180_000 });
  try {
    const ctx = await sbx.createCodeContext({ language: "python", cwd: "/tmp" });
    expect(ctx).toMatchObject({ language: "python", cwd: "/tmp" });
    expect((await sbx.runCode("import os; v = 1; os.getcwd()", { context: ctx })).text).toBe(
      "/tmp",
    );
    expect((await sbx.listCodeContexts()).map((c) => c.id)).toContain(ctx.id);
    await sbx.restartCodeContext(ctx);
    expect((await sbx.runCode("v", { context: ctx })).error?.name).toBe("NameError");
    await sbx.removeCodeContext(ctx);
    expect((await sbx.listCodeContexts()).map((c) => c.id)).not.toContain(ctx.id);

    const fig = await sbx.runCode(
      [
        "import matplotlib.pyplot as plt",
        "plt.bar(['A', 'B'], [3, 5], label='sold')",
        "plt.title('Sales'); plt.xlabel('Author'); plt.ylabel('Books')",
        "plt.show()",
      ].join("\n"),
    );
    const result = fig.results[0];
    expect(result?.png).toMatch(/^iVBOR/);
    expect(result?.chart).toMatchObject({
      type: "bar",
      title: "Sales",
      x_label: "Author",
      elements: [
        { label: "A", value: 3, group: "sold" },
        { label: "B", value: 5, group: "sold" },
      ],
    });
  } finally {
    await sbx.kill();
  }
}, 240_000);

test("Python SDK: state, streaming, TypeScript, interrupt by timeout, contexts, a chart", () => {
  ensureVenv();
  const env = {
    ...process.env,
    E2B_API_URL: gw.env.E2B_API_URL,
    E2B_DOMAIN: gw.env.E2B_DOMAIN,
    E2B_API_KEY: gw.env.E2B_API_KEY,
    SSL_CERT_FILE: gw.env.NODE_EXTRA_CA_CERTS,
  };
  const r = spawnSync(PYTHON, [SCRIPT], { env, encoding: "utf8", timeout: 200_000 });
  if (r.status !== 0) throw new Error(`interpreter_check.py failed (${r.status}):\n${r.stderr}`);
  const seen = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
  expect(seen).toEqual({
    text: "21",
    stdout: ["from python\n"],
    streamed: ["from python\n"],
    state: "40",
    js: "15",
    error: "ZeroDivisionError",
    interrupted: true,
    after_interrupt: "20",
    ctx_cwd: "/tmp",
    ctx_listed: true,
    after_restart: "NameError",
    ctx_removed: true,
    chart_type: "line",
    chart_title: "growth",
    chart_png: true,
  });
}, 300_000);
