/**
 * The encryption engine's key errors in the app's vocabulary, once: a missing key is
 * KEY_REQUIRED, a wrong one WRONG_KEY, with a message that says what to give. (Damage to an
 * encrypted archive is not a key error: the readers refuse it as a corrupt archive.)
 */
import { AppError } from "../errors";
import type { AgeError } from "./crypto";

export function keyError(err: AgeError): AppError {
  const what = err.code === "WRONG_PASSPHRASE" ? "passphrase" : err.code === "WRONG_IDENTITY" ? "identity" : null;
  if (what) {
    return new AppError(
      "WRONG_KEY",
      `The archive is encrypted and the ${what} given does not open it (${err.message}). Nothing was changed; try again with the right ${what}.`,
      { cause: err, details: { reason: err.code === "WRONG_PASSPHRASE" ? "wrong_passphrase" : "wrong_identity" } },
    );
  }
  return new AppError("KEY_REQUIRED", `The archive is encrypted: ${err.message}. Nothing was changed.`, {
    cause: err,
    details: { reason: /passphrase/.test(err.message) ? "passphrase" : "identity" },
  });
}
