import { ApiError } from "./errors.js";
import { metadataKeyProblem, parseCreateRequest } from "./validate.js";

const limits = { defaultTimeoutSeconds: 300, maxTimeoutSeconds: 3600 };

const refusal = (f: () => unknown): { status: number; message: string } | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, message: err.message };
  }
};

test.each([
  [{ templateID: "base" }, { templateID: "base", timeoutSeconds: 300, autoPause: false }],
  [{ templateID: "base", timeout: 0 }, { timeoutSeconds: 0 }],
  [{ templateID: "base", timeout: 3600 }, { timeoutSeconds: 3600 }],
  [
    { templateID: "base", metadata: { user: "abc", "app.example.com/x": "y" } },
    { metadata: { user: "abc", "app.example.com/x": "y" } },
  ],
  [{ templateID: "base", envVars: { FOO: "secret" } }, { envVars: { FOO: "secret" } }],
  [
    { templateID: "base", autoPause: true, autoResume: { enabled: true } },
    { autoPause: true, autoResume: true },
  ],
  [
    { templateID: "base", allow_internet_access: false },
    { network: { denyEgress: ["0.0.0.0/0", "::/0"] } },
  ],
  [
    { templateID: "base", network: { allowOut: ["1.1.1.1"], denyOut: ["0.0.0.0/0"] } },
    { network: { allowEgress: ["1.1.1.1"], denyEgress: ["0.0.0.0/0"] } },
  ],
  [{ templateID: "base", secure: true, mcp: null }, { templateID: "base" }],
])("accepts %j", (body, expected) => {
  expect(parseCreateRequest(body, limits)).toMatchObject(expected);
});

test.each([
  [{ autoPause: true, autoPauseMemory: false }, "Filesystem"],
  [{ autoPause: true, autoPauseMemory: true }, undefined],
  [{ autoPause: true }, undefined],
  // Only relevant to a timeout pause: without autoPause it changes nothing.
  [{ autoPauseMemory: false }, undefined],
])("the timeout pause of %j is pauseMode %j", (over, pauseMode) => {
  expect(parseCreateRequest({ templateID: "base", ...over }, limits).pauseMode).toBe(pauseMode);
});

test.each([
  [{ autoPause: true }, "Memory"],
  [{ autoPause: true, autoPauseMemory: true }, "Memory"],
  [{ autoPause: true, autoPauseMemory: false }, "Filesystem"],
  [{}, undefined],
])("with --memory-pause Memory, the timeout pause of %j is pauseMode %j", (over, pauseMode) => {
  const req = parseCreateRequest(
    { templateID: "base", ...over },
    { ...limits, memoryPause: "Memory" },
  );
  expect(req.pauseMode).toBe(pauseMode);
});

test.each([
  [null, /JSON object/],
  [[], /JSON object/],
  [{}, /templateID is required/],
  [{ templateID: "Base!" }, /not a template name/],
  [{ templateID: "base", timeout: 3601 }, /over the maximum of 3600 s/],
  [{ templateID: "base", timeout: -1 }, /must not be negative/],
  [{ templateID: "base", timeout: 1.5 }, /whole number/],
  [{ templateID: "base", timeout: "60" }, /whole number/],
  [{ templateID: "base", metadata: { "bad key": "x" } }, /metadata key 'bad key' is not valid/],
  [
    { templateID: "base", metadata: { "soulbox.dev/team": "x" } },
    /'soulbox.dev\/team' is reserved/,
  ],
  [{ templateID: "base", metadata: { "a.kubernetes.io/x": "x" } }, /reserved/],
  [{ templateID: "base", metadata: { ok: "not ok" } }, /metadata 'ok' value 'not ok' is not valid/],
  [{ templateID: "base", metadata: { ok: 1 } }, /string value/],
  [{ templateID: "base", metadata: "x" }, /metadata must be an object/],
  [{ templateID: "base", envVars: { "1X": "v" } }, /envVars name '1X'/],
  [{ templateID: "base", envVars: { X: 1 } }, /envVars 'X' must have a string value/],
  [{ templateID: "base", autoResume: { enabled: true } }, /autoResume needs autoPause/],
  [{ templateID: "base", autoPause: "yes" }, /autoPause must be true or false/],
  [
    { templateID: "base", autoPause: true, autoPauseMemory: false, autoResume: { enabled: true } },
    /autoResume cannot be combined with autoPauseMemory false/,
  ],
  [{ templateID: "base", autoPause: true, autoPauseMemory: "no" }, /autoPauseMemory must be/],
  [{ templateID: "base", volumeMounts: { name: "v", path: "/v" } }, /volumeMounts must be a list/],
  [{ templateID: "base", volumeMounts: [{ name: "v" }] }, /volumeMounts\[0\] must be an object/],
  [
    { templateID: "base", network: { allowOut: ["example.com"] } },
    /"example.com" is a domain name/,
  ],
  [{ templateID: "base", network: "open" }, /network must be an object/],
])("refuses %j with 400", (body, message) => {
  const r = refusal(() => parseCreateRequest(body, limits));
  expect(r?.status).toBe(400);
  expect(r?.message).toMatch(message);
});

test("volumeMounts are kept as requested, for create to check against the team's volumes", () => {
  const req = parseCreateRequest(
    { templateID: "base", volumeMounts: [{ name: "data", path: "/data" }] },
    limits,
  );
  expect(req.requestedMounts).toEqual([{ name: "data", path: "/data" }]);
  expect(parseCreateRequest({ templateID: "base", volumeMounts: [] }, limits).requestedMounts).toBe(
    undefined,
  );
});

test("an env value never appears in a refusal", () => {
  const r = refusal(() =>
    parseCreateRequest({ templateID: "base", envVars: { "bad name": "hunter2" } }, limits),
  );
  expect(r?.message).not.toContain("hunter2");
});

test.each([
  ["user", undefined],
  ["example.com/user", undefined],
  ["a".repeat(63), undefined],
  ["a".repeat(64), /not valid/],
  ["-x", /not valid/],
  ["Example.com/x", /not valid/],
  ["k8s.io/x", /reserved/],
  ["sub.soulbox.dev/x", /reserved/],
  ["notsoulbox.dev/x", undefined],
])("metadata key %s", (key, problem) => {
  const p = metadataKeyProblem(key);
  if (problem === undefined) expect(p).toBeUndefined();
  else expect(p).toMatch(problem);
});
