/**
 * The operator's node-agent client and the agent's server over TLS, in this process on loopback:
 * with the agents' CA the client reaches the agent (which checks the bearer token as ever) at an
 * address no certificate names, by checking the certificate against NODE_AGENT_TLS_NAME; a
 * certificate of another CA or for another name, and a plain-HTTP client, get nothing, and the
 * token is never sent in the clear. The certificates are made with the openssl CLI.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { NODE_AGENT_TLS_NAME } from "../../api/node-agent.js";
import { createLogger } from "../../lib/log.js";
import {
  makeCertsOfOneCa,
  makeWildcardCerts,
  type TestCerts,
} from "../../lib/test-support/certs.js";
import { serveAgent, type AgentHandlers } from "../../node-agent/src/server.js";
import {
  NodeAgentCallError,
  createNodeAgentClient,
} from "../../operator/src/controller/node-agent-client.js";

const TOKEN = "t0ken-for-the-test";
const IMAGE = "localhost/soulbox/checkpoint/ns/s1:u1";
let certs: TestCerts;
let otherCa: TestCerts;
let otherName: TestCerts;
const servers: Server[] = [];
const forgotten: string[] = [];

const handlers: AgentHandlers = {
  capture: () => Promise.reject(new Error("not in this test")),
  restore: () => Promise.reject(new Error("not in this test")),
  restoreImage: () => Promise.reject(new Error("not in this test")),
  wake: () => Promise.reject(new Error("not in this test")),
  forgetImage: async (req) => {
    forgotten.push(req.image);
    return { removed: true };
  },
};

async function agentWith(tls: TestCerts | undefined): Promise<number> {
  const server = await serveAgent({
    host: "127.0.0.1",
    port: 0,
    token: TOKEN,
    handlers,
    log: createLogger("error", {}, () => undefined),
    ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
  });
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

beforeAll(() => {
  // The agents' CA signs the agent's certificate and one for another name.
  const [agent, elsewhere] = makeCertsOfOneCa([NODE_AGENT_TLS_NAME, "somewhere-else"]);
  if (!agent || !elsewhere) throw new Error("no certificates");
  certs = agent;
  otherName = elsewhere;
  otherCa = makeWildcardCerts(NODE_AGENT_TLS_NAME);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

test("with the agents' CA the client reaches the agent at a bare address over HTTPS", async () => {
  const port = await agentWith(certs);
  const client = createNodeAgentClient({ port, token: TOKEN, ca: certs.ca, timeoutMs: 10_000 });
  expect(await client.forgetImage("127.0.0.1", { image: IMAGE })).toEqual({ removed: true });
  expect(forgotten).toEqual([IMAGE]);
});

test("the agent still checks the bearer token over TLS", async () => {
  const port = await agentWith(certs);
  const client = createNodeAgentClient({ port, token: "wrong", ca: certs.ca, timeoutMs: 10_000 });
  await expect(client.forgetImage("127.0.0.1", { image: IMAGE })).rejects.toMatchObject({
    code: "Unauthorized",
    message: expect.stringMatching(/answered 401/),
  });
});

test.each([
  ["a certificate of another CA", () => otherCa, /self[- ]signed|unable to verify|certificate/i],
  [
    `a certificate for another name than ${NODE_AGENT_TLS_NAME}`,
    () => otherName,
    /altnames|does not match|ERR_TLS_CERT_ALTNAME_INVALID/i,
  ],
])("%s is refused: the client sends nothing", async (_, served, why) => {
  const before = forgotten.length;
  const port = await agentWith(served());
  const client = createNodeAgentClient({ port, token: TOKEN, ca: certs.ca, timeoutMs: 10_000 });
  const err = await client.forgetImage("127.0.0.1", { image: IMAGE }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NodeAgentCallError);
  expect((err as Error).message).toMatch(
    /^the node agent at https:\/\/127\.0\.0\.1:\d+\/v1\/forget-image did not answer$/,
  );
  expect(String((err as Error).cause)).toMatch(why);
  expect(forgotten.length).toBe(before);
});

test("a plain-HTTP client gets no answer from a TLS agent, and a TLS client none from a plain one", async () => {
  const before = forgotten.length;
  const tlsPort = await agentWith(certs);
  const plain = createNodeAgentClient({ port: tlsPort, token: TOKEN, timeoutMs: 10_000 });
  await expect(plain.forgetImage("127.0.0.1", { image: IMAGE })).rejects.toBeInstanceOf(
    NodeAgentCallError,
  );
  const plainPort = await agentWith(undefined);
  const tls = createNodeAgentClient({
    port: plainPort,
    token: TOKEN,
    ca: certs.ca,
    timeoutMs: 10_000,
  });
  await expect(tls.forgetImage("127.0.0.1", { image: IMAGE })).rejects.toThrow(/did not answer/);
  expect(forgotten.length).toBe(before);
});
