import { classifyProviderError, storageErrorStatus, toStorageError } from "./errors.js";
import { StorageError, type StorageErrorCode } from "./object-store.js";

/** Errors shaped as the SDKs and Node.js throw them. */
function sdk(fields: Record<string, unknown>, message = "boom"): Error {
  return Object.assign(new Error(message), fields);
}

describe("classifyProviderError", () => {
  it.each<[string, unknown, StorageErrorCode | undefined]>([
    ["S3 NoSuchKey", sdk({ name: "NoSuchKey", $metadata: { httpStatusCode: 404 } }), "NotFound"],
    [
      "S3 HEAD 404 without a name",
      sdk({ name: "Unknown", $metadata: { httpStatusCode: 404 } }),
      "NotFound",
    ],
    [
      "S3 PreconditionFailed",
      sdk({ name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } }),
      "AlreadyExists",
    ],
    [
      "S3 ConditionalRequestConflict",
      sdk({ name: "ConditionalRequestConflict", $metadata: { httpStatusCode: 409 } }),
      "AlreadyExists",
    ],
    [
      "S3 InvalidAccessKeyId",
      sdk({ name: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } }),
      "Unauthorized",
    ],
    ["S3 SignatureDoesNotMatch", sdk({ Code: "SignatureDoesNotMatch" }), "Unauthorized"],
    [
      "S3 503",
      sdk({ name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } }),
      "Unavailable",
    ],
    ["S3 500 unnamed", sdk({ $metadata: { httpStatusCode: 500 } }), "Unavailable"],
    [
      "S3 InvalidRange",
      sdk({ name: "InvalidRange", $metadata: { httpStatusCode: 416 } }),
      "InvalidArgument",
    ],
    ["GCS 404", sdk({ code: 404 }), "NotFound"],
    ["GCS 412 precondition", sdk({ code: 412 }), "AlreadyExists"],
    ["GCS 401", sdk({ code: 401 }), "Unauthorized"],
    ["GCS 503", sdk({ code: 503 }), "Unavailable"],
    [
      "Google OAuth invalid_grant",
      sdk({ response: { status: 400, data: { error: "invalid_grant" } } }),
      "Unauthorized",
    ],
    [
      "Azure BlobNotFound",
      sdk({ statusCode: 404, details: { errorCode: "BlobNotFound" } }),
      "NotFound",
    ],
    [
      "Azure BlobAlreadyExists",
      sdk({ statusCode: 409, details: { errorCode: "BlobAlreadyExists" } }),
      "AlreadyExists",
    ],
    ["Azure ConditionNotMet", sdk({ statusCode: 412, code: "ConditionNotMet" }), "AlreadyExists"],
    [
      "Azure AuthenticationFailed",
      sdk({ statusCode: 403, code: "AuthenticationFailed" }),
      "Unauthorized",
    ],
    [
      "Azure REQUEST_SEND_ERROR around ECONNREFUSED",
      sdk({ code: "REQUEST_SEND_ERROR", cause: sdk({ code: "ECONNREFUSED" }) }),
      "Unavailable",
    ],
    ["ECONNREFUSED", sdk({ code: "ECONNREFUSED" }), "Unavailable"],
    ["ECONNRESET", sdk({ code: "ECONNRESET" }), "Unavailable"],
    ["ETIMEDOUT", sdk({ code: "ETIMEDOUT" }), "Unavailable"],
    [
      "fetch failed around an AggregateError",
      sdk({ cause: new AggregateError([sdk({ code: "ECONNREFUSED" })]) }, "fetch failed"),
      "Unavailable",
    ],
    ["socket hang up", new Error("socket hang up"), "Unavailable"],
    ["ENOENT", sdk({ code: "ENOENT" }), "NotFound"],
    ["EEXIST", sdk({ code: "EEXIST" }), "AlreadyExists"],
    ["EACCES", sdk({ code: "EACCES" }), "Unauthorized"],
    ["ENOSPC", sdk({ code: "ENOSPC" }), "Unavailable"],
    ["AbortError", sdk({ name: "AbortError" }), "Aborted"],
    ["a StorageError keeps its code", new StorageError("KeyUnavailable", "x"), "KeyUnavailable"],
    ["an unknown error", new Error("what"), undefined],
    ["not an error", "a string", undefined],
  ])("%s", (_name, err, want) => {
    expect(classifyProviderError(err)).toBe(want);
  });
});

describe("toStorageError", () => {
  it("keeps the cause, names the call, and treats the unknown as Unavailable", () => {
    const cause = new Error("strange");
    const e = toStorageError(cause, "put s3://b/k");
    expect(e).toMatchObject({ code: "Unavailable", cause });
    expect(e.message).toMatch(/^put s3:\/\/b\/k: .*strange/);
  });

  it("returns a StorageError as it is", () => {
    const e = new StorageError("NotFound", "gone");
    expect(toStorageError(e, "x")).toBe(e);
  });
});

describe("storageErrorStatus", () => {
  it.each<[StorageErrorCode, number]>([
    ["NotFound", 404],
    ["AlreadyExists", 409],
    ["InvalidArgument", 400],
    ["IntegrityMismatch", 502],
    ["Unauthorized", 502],
    ["Unavailable", 503],
    ["InvalidConfig", 500],
    ["KeyUnavailable", 500],
    ["Aborted", 499],
  ])("%s → %d", (code, status) => {
    expect(storageErrorStatus(code)).toBe(status);
  });
});
