import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { toConnectError } from "../shared/error-mapping.js";
import { parseBasicUser } from "../shared/basic-auth.js";
import type { AuditLog } from "./audit.js";
import { requireToken, type TokenStore } from "./auth.js";

/** Request headers the executor needs; everything else stays at the front door. */
const FORWARDED_HEADERS = ["authorization", "keepalive-ping-interval"];

function callOptions(hc: HandlerContext) {
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const v = hc.requestHeader.get(name);
    if (v !== null) headers.set(name, v);
  }
  return { signal: hc.signal, timeoutMs: hc.timeoutMs(), headers };
}

async function* forwardStream(source: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  try {
    yield* source;
  } catch (err) {
    throw toConnectError(err);
  }
}

// The generic client is indexed by method name at runtime; its per-method
// types are erased here on purpose, since every method is forwarded the same way.
type AnyClient = Record<
  string,
  (input: unknown, options: ReturnType<typeof callOptions>) => unknown
>;

/**
 * A service implementation that forwards every method of `service` to the
 * executor client unchanged: requests, streams, errors and deadlines.
 */
export function forwardingService<S extends DescService>(
  service: S,
  client: object,
): ServiceImpl<S> {
  const target = client as AnyClient;
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = (input: unknown, hc: HandlerContext) =>
      target[method.localName]!(input, callOptions(hc));
    impl[method.localName] = forwarder(method, call);
  }
  return impl as ServiceImpl<S>;
}

function forwarder(method: DescMethod, call: (input: unknown, hc: HandlerContext) => unknown) {
  switch (method.methodKind) {
    case "server_streaming":
    case "bidi_streaming":
      return (input: unknown, hc: HandlerContext) =>
        forwardStream(call(input, hc) as AsyncIterable<unknown>);
    default:
      return async (input: unknown, hc: HandlerContext) => {
        try {
          return await (call(input, hc) as Promise<unknown>);
        } catch (err) {
          throw toConnectError(err);
        }
      };
  }
}

/**
 * Checks `X-Access-Token` on every RPC and writes one audit line per call
 * (for streams: when the stream ends).
 */
export function authAndAuditInterceptor(tokens: TokenStore, audit: AuditLog): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const op = `${req.service.typeName}/${req.method.name}`;
    let user: string | undefined;
    const record = (status: string) =>
      audit.write({
        kind: "rpc",
        op,
        user,
        status,
        durationMs: Math.round(performance.now() - started),
      });
    try {
      requireToken(tokens, req.header.get("x-access-token"));
      user = parseBasicUser(req.header.get("authorization"));
    } catch (err) {
      const e = toConnectError(err);
      record(Code[e.code]);
      throw e;
    }
    try {
      const res = await next(req);
      if (!res.stream) {
        record("OK");
        return res;
      }
      const message = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* message;
            record("OK");
          } catch (err) {
            record(Code[ConnectError.from(err).code]);
            throw err;
          }
        })(),
      };
    } catch (err) {
      record(Code[ConnectError.from(err).code]);
      throw err;
    }
  };
}
