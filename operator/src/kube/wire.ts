/**
 * One form for comparing objects: JSON as the API server sends it.
 *
 * client-node hands out the same kind of object in two forms. A typed call
 * (the informers' list, `read*`) deserializes it into its model, where a few
 * field names differ from the wire (`from` of a NetworkPolicy rule is `_from`,
 * a reserved word) and times are `Date`s; a watch event is the raw JSON. An
 * informer cache holds both, depending on how each object arrived, and the
 * operator's desired objects are written in the model form. Comparing any two
 * of them field by field needs one form, so {@link toWire} turns either into
 * the wire form, guided by the model's attribute map.
 */
import * as k8s from "@kubernetes/client-node";

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
interface Model {
  getAttributeTypeMap(): Attribute[];
}

const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

/** The client-node model class of a type name (`V1NetworkPolicy`), if it is one. */
function modelOf(type: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type];
  return typeof candidate === "function" && "getAttributeTypeMap" in candidate
    ? (candidate as unknown as Model)
    : undefined;
}

/**
 * `value` in its wire form, whichever form it came in: each model attribute is
 * read under its model name or its wire name and written under its wire name,
 * `Date`s become RFC 3339 strings, fields the model does not know are dropped
 * (a newer server's additions: the operator never sets them). `type` is a
 * client-node type name, e.g. `V1NetworkPolicy`. Pure.
 */
export function toWire(value: unknown, type: string): unknown {
  if (value === undefined || value === null) return value;
  if (value instanceof Date) return value.toISOString();
  const array = ARRAY.exec(type);
  if (array) return Array.isArray(value) ? value.map((v) => toWire(v, array[1] ?? "")) : value;
  const map = MAP.exec(type);
  if (map && isRecord(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v, map[1] ?? "")]));
  const model = modelOf(type);
  if (!model || !isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const a of model.getAttributeTypeMap()) {
    const v = toWire(value[a.name] ?? value[a.baseName], a.type);
    if (v !== undefined) out[a.baseName] = v;
  }
  return out;
}

/** The client-node type name of an object by its apiVersion and kind (`networking.k8s.io/v1`, `NetworkPolicy` → `V1NetworkPolicy`). */
export function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split("/").pop() ?? "";
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
