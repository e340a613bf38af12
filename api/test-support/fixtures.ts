/**
 * Sandbox objects for tests, in one place instead of a hand-built literal in every test file:
 * the shape the API server returns (apiVersion, kind, metadata, spec, status), with defaults for
 * what a test is not about. Tests name what they are about.
 */
import type { V1ObjectMeta } from "@kubernetes/client-node";
import {
  SandboxResource,
  type Condition,
  type Sandbox,
  type SandboxSpec,
  type SandboxStatus,
} from "../gen/crd-types.js";

/** The template image of {@link sandboxFixture}'s default spec. */
export const FIXTURE_IMAGE = "registry.example/sandbox:1";

/** What {@link sandboxFixture} takes: each part is optional. */
export interface SandboxFixture {
  /** Merged over `{ name: "sb1", namespace: "team-a" }`; a key set to undefined removes it. */
  metadata?: V1ObjectMeta;
  /** The whole spec (not merged): by default `{ template: { image: FIXTURE_IMAGE } }`. */
  spec?: SandboxSpec;
  /** The status; by default there is none (a Sandbox the operator has not seen yet). */
  status?: SandboxStatus;
}

/**
 * A Sandbox: `metadata` over the default name and namespace, `spec` (or an inline template of
 * {@link FIXTURE_IMAGE}), `status` when given. A fresh object on every call.
 */
export function sandboxFixture(over: SandboxFixture = {}): Sandbox {
  const metadata: V1ObjectMeta = { name: "sb1", namespace: "team-a", ...over.metadata };
  for (const key of Object.keys(metadata) as (keyof V1ObjectMeta)[])
    if (metadata[key] === undefined) delete metadata[key];
  return {
    apiVersion: SandboxResource.apiVersion,
    kind: SandboxResource.kind,
    metadata,
    spec: over.spec ?? { template: { image: FIXTURE_IMAGE } },
    ...(over.status === undefined ? {} : { status: over.status }),
  };
}

/** The `lastTransitionTime` of {@link conditionFixture} unless given. */
export const FIXTURE_TIME = "2026-01-01T00:00:00Z";

/** A status condition; `message` defaults to "", `lastTransitionTime` to {@link FIXTURE_TIME}. */
export function conditionFixture(
  type: string,
  status: Condition["status"],
  reason: string,
  message = "",
  lastTransitionTime = FIXTURE_TIME,
): Condition {
  return { type, status, reason, message, lastTransitionTime };
}
