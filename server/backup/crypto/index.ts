/**
 * Encryption at rest in the age v1 format (https://age-encryption.org/v1), so that an
 * encrypted backup (`backup_….tar.gz.age`) opens with the standard `age` tool:
 *
 *   age -d -i key.txt backup_….tar.gz.age | tar xzf -
 *
 * Streaming over node:crypto (native ChaCha20-Poly1305, X25519, scrypt, HKDF); no Next, tRPC
 * or app imports. The archive writer encrypts its output with AgeStreamEncryptor; the restore
 * reader reads plaintext with AgePayloadReader (random access: any byte range of the plaintext
 * can be read with the key, one 64 KiB chunk authenticated at a time).
 */
export { AgeError, isAgeError, type AgeErrorCode } from "./errors";
export {
  AGE_MAGIC,
  describeLock,
  isAgeHead,
  makeHeader,
  parseHeader,
  unlockHeader,
  type AgeHeader,
  type AgeKeys,
  type AgeLock,
  type AgeTarget,
} from "./header";
export {
  generateIdentity,
  parseIdentity,
  parseIdentityFile,
  parseRecipient,
  recipientOfIdentity,
  DEFAULT_SCRYPT_LOG_N,
  MAX_SCRYPT_LOG_N,
} from "./keys";
export {
  AgePayloadReader,
  AgeStreamEncryptor,
  CHUNK as AGE_CHUNK,
  fdRead,
  plaintextPieces,
  readAgeHeader,
  sealedPayloadBytes,
  type PositionalRead,
} from "./payload";
