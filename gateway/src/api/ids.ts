/** Sandbox ids: E2B's `^[a-z0-9]+$`, 20 random characters, used as the Sandbox object's name. */
import { randomBytes } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
/** The length of a sandbox id. */
export const ID_LENGTH = 20;
/** What a sandbox id looks like. */
export const SANDBOX_ID = /^[a-z0-9]{1,63}$/;

/** A fresh random id (about 103 bits; unbiased: bytes ≥ 252 are dropped). */
export function newSandboxId(): string {
  let out = "";
  while (out.length < ID_LENGTH) {
    for (const b of randomBytes(ID_LENGTH * 2)) {
      if (b >= 252) continue; // 252 = 7 × 36
      out += ALPHABET[b % 36];
      if (out.length === ID_LENGTH) break;
    }
  }
  return out;
}
