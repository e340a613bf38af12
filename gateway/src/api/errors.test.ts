import { ApiError, toApiError } from "./errors.js";

test.each([
  [new ApiError(409, "already paused"), 409, "already paused"],
  [Object.assign(new Error("HTTP-Code: 403"), { code: 403 }), 403, /gateway\.teams/],
  [
    Object.assign(new Error("HTTP-Code: 500"), { code: 500 }),
    500,
    "internal error in the SoulBox gateway",
  ],
  [new TypeError("x is undefined"), 500, "internal error in the SoulBox gateway"],
  ["a string", 500, "internal error in the SoulBox gateway"],
])("toApiError(%p) → %i", (err, status, message) => {
  const e = toApiError(err);
  expect(e.status).toBe(status);
  expect(e.message).toMatch(message);
  expect(e.toJSON()).toEqual({ code: status, message: e.message });
  if (!(err instanceof ApiError)) expect(e.cause).toBe(err); // kept for the log
});
