/**
 * Test doubles for the proxy's one boundary that needs a cluster: the informer cache. Everything
 * else in the proxy tests is real (envd processes, sockets, TLS).
 */
import type { Sandbox } from "../../api/gen/crd-types.js";
import { Annotation, Label } from "../../api/labels.js";
import { conditionFixture, sandboxFixture } from "../../api/test-support/fixtures.js";
import type { SandboxLookup } from "../src/proxy/target.js";

/**
 * A Map-backed cache: `get` and `subscribe` as the SandboxIndex answers them, plus `set`/`delete`
 * for the test (each tells the subscribers, as the informer's events do).
 */
export interface TestIndex extends SandboxLookup {
  set(s: Sandbox): void;
  delete(id: string): void;
}

/** Creates an empty test index. */
export function createTestIndex(): TestIndex {
  const byId = new Map<string, Sandbox>();
  const listeners = new Set<(id: string, s: Sandbox | undefined) => void>();
  const tell = (id: string) => {
    for (const l of listeners) l(id, byId.get(id));
  };
  return {
    get: (id) => byId.get(id),
    set: (s) => {
      byId.set(s.metadata.name ?? "", s);
      tell(s.metadata.name ?? "");
    },
    delete: (id) => {
      byId.delete(id);
      tell(id);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

/** How a test sandbox differs from a Ready one at 127.0.0.1. */
export interface SandboxShape {
  podIP?: string;
  phase?: NonNullable<Sandbox["status"]>["phase"];
  state?: "Running" | "Paused";
  ready?: boolean;
  expiresAt?: Date;
  autoResume?: boolean;
  deleting?: boolean;
}

/** A gateway-created Sandbox as the cache would hold it: Running and Ready unless `shape` says. */
export function sandboxObject(id: string, shape: SandboxShape = {}): Sandbox {
  const annotations: Record<string, string> = {};
  if (shape.expiresAt) annotations[Annotation.expiresAt] = shape.expiresAt.toISOString();
  if (shape.autoResume) annotations[Annotation.autoResume] = "true";
  const ready = shape.ready ?? (shape.phase ?? "Running") === "Running";
  return sandboxFixture({
    metadata: {
      name: id,
      namespace: "team-test",
      labels: { [Label.team]: "team-test" },
      annotations,
      deletionTimestamp: shape.deleting ? new Date() : undefined,
    },
    spec: { templateRef: "base", state: shape.state ?? "Running" },
    status: {
      phase: shape.phase ?? "Running",
      podIP: shape.podIP ?? "127.0.0.1",
      conditions: [
        conditionFixture(
          "Ready",
          ready ? "True" : "False",
          ready ? "EnvdReady" : "NotReady",
          "",
          new Date(0).toISOString(),
        ),
      ],
    },
  });
}
