import { parseArgs } from "node:util";

/** How `envd` was asked to run. */
export interface EnvdConfig {
  port: number;
  host: string;
  accessToken: string | undefined;
  /** An executor already listening here (in a pod); when absent, envd spawns one. */
  executorSocket: string | undefined;
  defaultUser: string | undefined;
  auditLog: string | undefined;
}

/** Usage text for `npm run envd -- --help`. */
export const USAGE = `Usage: npm run envd -- [options]

Starts the envd sidecar (gRPC, Connect and gRPC-Web on one port, plus /files,
/init, /envs, /metrics, /health) and, unless --executor-socket is given, the
executor that does the OS work, as a child process. Ctrl-C or SIGTERM stops both.

Options:
  --port <n>               TCP port to listen on (default 49983)
  --host <addr>            address to bind (default 0.0.0.0)
  --access-token <t>       require this X-Access-Token (also: ENVD_ACCESS_TOKEN)
  --executor-socket <path> use an executor already listening on this unix socket
  --default-user <name>    user for requests that name none (default: 'user' if
                           it exists and envd runs as root, else the current user)
  --audit-log <path>       append audit lines here (default: stdout)
  --help                   show this text`;

/** Parses argv; throws an Error with a one-line message on bad input. Pure. */
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
): EnvdConfig | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "access-token": { type: "string" },
      "executor-socket": { type: "string" },
      "default-user": { type: "string" },
      "audit-log": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const port = Number(values.port ?? "49983");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer from 0 to 65535, got '${values.port}'`);
  }
  const token = values["access-token"] ?? env.ENVD_ACCESS_TOKEN;
  if (token === "") throw new Error("--access-token must not be empty");
  return {
    port,
    host: values.host ?? "0.0.0.0",
    accessToken: token,
    executorSocket: values["executor-socket"],
    defaultUser: values["default-user"],
    auditLog: values["audit-log"],
  };
}
