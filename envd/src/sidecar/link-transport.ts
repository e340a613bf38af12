import {
  create,
  type DescMessage,
  type DescMethodStreaming,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse, type Transport } from "@connectrpc/connect";
import {
  createDeadlineSignal,
  createLinkedAbortController,
  createMethodSerializationLookup,
  createMethodUrl,
  getAbortSignalReason,
  pipe,
  transformDecompressEnvelope,
  transformJoinEnvelopes,
  transformParseEnvelope,
  transformSerializeEnvelope,
  transformSplitEnvelope,
  type UniversalClientFn,
  type UniversalClientResponse,
} from "@connectrpc/connect/protocol";
import {
  requestHeader,
  validateResponse,
  validateTrailer,
} from "@connectrpc/connect/protocol-grpc";

const MAX_BYTES = 0xffffffff;

type HeadersInit = ConstructorParameters<typeof Headers>[0];

/**
 * The gRPC transport of the sidecar → executor link: unary calls go through
 * the stock transport, streams are read here.
 *
 * Why: @connectrpc/connect (2.3.0, the latest) runs every client stream
 * through `runStreamingCall`, which races each read against one promise that
 * settles only when the call ends (`Promise.race([it.next(), aborted])`). Each
 * race leaves a reaction on that promise holding the read's result, so a
 * stream keeps every message it delivered until it ends: a process printing
 * 1 GiB grew the sidecar by about 1 GiB. This reads the same gRPC framing
 * without that race; the Node HTTP/2 client already ends a pending read when
 * the call's signal aborts. No compression is offered: the link is a unix
 * socket, where gzip only burns CPU.
 */
export function createLinkTransport(opts: {
  baseUrl: string;
  httpClient: UniversalClientFn;
  unary: Transport;
}): Transport {
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      opts.unary.unary(method, signal, timeoutMs, header, input, contextValues),
    stream: (method, signal, timeoutMs, header, input) =>
      streamCall(opts.baseUrl, opts.httpClient, method, signal, timeoutMs, header, input),
  };
}

async function streamCall<I extends DescMessage, O extends DescMessage>(
  baseUrl: string,
  httpClient: UniversalClientFn,
  method: DescMethodStreaming<I, O>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  header: HeadersInit | undefined,
  input: AsyncIterable<MessageInitShape<I>>,
): Promise<StreamResponse<I, O>> {
  const timeout = timeoutMs !== undefined && timeoutMs > 0 ? timeoutMs : undefined;
  const deadline = createDeadlineSignal(timeout);
  const call = createLinkedAbortController(signal, deadline.signal);
  const requests = normalize(method.input, input);
  let ended = false;
  // Ends the call: stops the deadline timer, aborts the HTTP/2 stream if it is
  // still open (the executor sees a cancel) and closes the request messages.
  const end = (reason?: ConnectError) => {
    if (ended) return;
    ended = true;
    deadline.cleanup();
    call.abort(reason);
    requests.return(undefined).catch(() => undefined);
  };
  // Once the call was aborted (caller gone, deadline), that is the error to report.
  const fail = (err: unknown): ConnectError => {
    const e = call.signal.aborted
      ? ConnectError.from(getAbortSignalReason(call.signal), Code.Canceled)
      : ConnectError.from(err);
    end(e);
    return e;
  };

  const serialization = createMethodSerializationLookup(method, undefined, undefined, {
    readMaxBytes: MAX_BYTES,
    writeMaxBytes: MAX_BYTES,
  });
  let res: UniversalClientResponse;
  let foundStatus: boolean;
  try {
    res = await httpClient({
      url: createMethodUrl(baseUrl, method),
      method: "POST",
      header: requestHeader(true, timeout, header),
      signal: call.signal,
      body: pipe(
        requests,
        transformSerializeEnvelope(serialization.getI(true)),
        transformJoinEnvelopes(),
        {
          propagateDownStreamError: true,
        },
      ),
    });
    const validated = validateResponse(res.status, res.header);
    if (validated.headerError) throw validated.headerError;
    foundStatus = validated.foundStatus;
  } catch (err) {
    throw fail(err);
  }

  const messages = pipe(
    res.body,
    transformSplitEnvelope(MAX_BYTES),
    transformDecompressEnvelope(null, MAX_BYTES),
    transformParseEnvelope(serialization.getO(true)),
    { propagateDownStreamError: true },
  )[Symbol.asyncIterator]();
  const response = res;
  const message: AsyncIterable<MessageShape<O>> = {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<MessageShape<O>>> {
        if (ended) return { done: true, value: undefined };
        try {
          const r = await messages.next();
          if (r.done === true) {
            if (!foundStatus) validateTrailer(response.trailer, response.header);
            end();
          }
          return r;
        } catch (err) {
          throw fail(err);
        }
      },
      async return(): Promise<IteratorResult<MessageShape<O>>> {
        end();
        return { done: true, value: undefined };
      },
    }),
  };
  return {
    stream: true,
    service: method.parent,
    method,
    header: response.header,
    trailer: response.trailer,
    message,
  };
}

async function* normalize<I extends DescMessage>(
  schema: I,
  input: AsyncIterable<MessageInitShape<I>>,
): AsyncGenerator<MessageShape<I>> {
  for await (const init of input) yield create(schema, init);
}
