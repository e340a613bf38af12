// The code-interpreter wire protocol as E2B's SDKs (`@e2b/code-interpreter`, `e2b-code-interpreter`)
// speak it: request bodies of /execute and /contexts, and the JSON lines /execute streams back.
// Pure: parsing, validation and mapping only.

/** One line of /execute's response body. */
export type OutputLine =
  | { type: "stdout" | "stderr"; text: string; timestamp: string }
  | ({ type: "result" } & ResultFields)
  | { type: "error"; name: string; value: string; traceback: string }
  | { type: "number_of_executions"; execution_count: number }
  | { type: "end_of_execution" }
  | { type: "keepalive" };

/** A result as the SDKs read it (snake_case on the wire; JS maps it to camelCase). */
export interface ResultFields {
  text?: string;
  html?: string;
  markdown?: string;
  svg?: string;
  png?: string;
  jpeg?: string;
  pdf?: string;
  latex?: string;
  json?: unknown;
  javascript?: string;
  data?: unknown;
  chart?: unknown;
  extra?: Record<string, unknown>;
  is_main_result: boolean;
}

/** MIME type → result field. Anything else goes to `extra` under its MIME type. */
const MIME_FIELDS: ReadonlyArray<[string, keyof ResultFields]> = [
  ["text/plain", "text"],
  ["text/html", "html"],
  ["text/markdown", "markdown"],
  ["image/svg+xml", "svg"],
  ["image/png", "png"],
  ["image/jpeg", "jpeg"],
  ["application/pdf", "pdf"],
  ["text/latex", "latex"],
  ["application/json", "json"],
  ["application/javascript", "javascript"],
  ["text/javascript", "javascript"],
  ["e2b/data", "data"],
  ["e2b/chart", "chart"],
];

/**
 * Maps a Jupyter MIME bundle (execute_result or display_data `data`) to a result line. A
 * `text/plain` that is a quoted Python/JS string literal loses its quotes, as E2B's server does,
 * so `runCode("'a'")` reads back as `a`.
 */
export function resultFromBundle(bundle: Record<string, unknown>, isMain: boolean): OutputLine {
  const out: { type: "result" } & ResultFields = { type: "result", is_main_result: isMain };
  const extra: Record<string, unknown> = {};
  const fields = new Map(MIME_FIELDS);
  for (const [mime, value] of Object.entries(bundle)) {
    const field = fields.get(mime);
    if (field === undefined) {
      extra[mime] = value;
      continue;
    }
    if (out[field] !== undefined) continue; // application/javascript wins over text/javascript
    (out as unknown as Record<string, unknown>)[field] =
      field === "text" ? unquote(stripAnsi(textOf(value))) : value;
  }
  if (Object.keys(extra).length > 0) out.extra = extra;
  return out;
}

/** Removes ANSI colour/style sequences (Deno's kernel colours its result text). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

function textOf(v: unknown): string {
  return Array.isArray(v) ? v.join("") : String(v);
}

function unquote(text: string): string {
  if (text.length >= 2 && /^(['"]).*\1$/s.test(text) && !text.slice(1, -1).includes(text[0] ?? ""))
    return text.slice(1, -1);
  return text;
}

/** A kernel's error as the SDKs read it (traceback lines joined). */
export function errorLine(content: Record<string, unknown>): OutputLine {
  const tb = content.traceback;
  return {
    type: "error",
    name: String(content.ename ?? "Error"),
    value: String(content.evalue ?? ""),
    traceback: Array.isArray(tb) ? tb.map(String).join("\n") : String(tb ?? ""),
  };
}

/** A parsed POST /execute body. */
export interface ExecuteRequest {
  code: string;
  contextId?: string;
  language?: string;
  envVars: Record<string, string>;
}

/** A parsed POST /contexts body. */
export interface CreateContextRequest {
  language?: string;
  cwd?: string;
}

/** Bad input: the HTTP layer answers 400 with the message. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new BadRequestError(`${key} must be a string, not ${typeof v}`);
  return v;
}

function asObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new BadRequestError(`the ${what} body must be a JSON object`);
  return body as Record<string, unknown>;
}

/** Validates an /execute body: `code` (string), at most one of `context_id` and `language`, `env_vars` of strings. */
export function parseExecuteRequest(body: unknown): ExecuteRequest {
  const b = asObject(body, "/execute");
  if (typeof b.code !== "string")
    throw new BadRequestError("code is required and must be a string");
  const contextId = optionalString(b, "context_id");
  const language = optionalString(b, "language");
  if (contextId && language)
    throw new BadRequestError("Only one of context_id or language can be provided");
  const envVars: Record<string, string> = {};
  if (b.env_vars !== undefined && b.env_vars !== null) {
    const env = asObject(b.env_vars, "env_vars");
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        throw new BadRequestError(`env_vars: "${k}" is not a variable name`);
      if (typeof v !== "string") throw new BadRequestError(`env_vars.${k} must be a string`);
      envVars[k] = v;
    }
  }
  return {
    code: b.code,
    envVars,
    ...(contextId ? { contextId } : {}),
    ...(language ? { language } : {}),
  };
}

/** Validates a /contexts body (both fields optional). */
export function parseCreateContextRequest(body: unknown): CreateContextRequest {
  const b = body === undefined || body === null ? {} : asObject(body, "/contexts");
  const language = optionalString(b, "language");
  const cwd = optionalString(b, "cwd");
  if (cwd !== undefined && !cwd.startsWith("/"))
    throw new BadRequestError(`cwd must be an absolute path, not "${cwd}"`);
  return { ...(language ? { language } : {}), ...(cwd ? { cwd } : {}) };
}
