// The source page's cryptography, matching the Python client byte for byte
// (crypto/codename, crypto/envelope.py, crypto/pow.py, crypto/roster.py, crypto/note.py,
// crypto/checkpoint.py, crypto/merkle, crypto/commitment.py, crypto/messages.py).
// Pure functions on bytes: no DOM, no network. Run under node by web/test/ against
// vectors that the Python code produced (tests/web/).
//
// Every primitive comes from a maintained library: typage (age-encryption) seals and
// opens, @noble/hashes hashes, derives (HKDF, Argon2id) and MACs, @noble/curves
// verifies Ed25519, @scure/bip39 holds the word lists, @scure/base encodes.
import { Decrypter, Encrypter } from "age-encryption";
// One header per holder around one file key (docs/submissions.md step 6) needs typage's
// recipients, header encoding and STREAM, which its index does not re-export.
import { HybridRecipient, X25519Recipient } from "../node_modules/age-encryption/dist/recipients.js";
import { encodeHeader, encodeHeaderNoMAC } from "../node_modules/age-encryption/dist/format.js";
import { encryptSTREAM } from "../node_modules/age-encryption/dist/stream.js";
import { identityToRecipient } from "age-encryption";
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { base32, base64, base64urlnopad, bech32, hex } from "@scure/base";
import { wordlist as englishWords } from "@scure/bip39/wordlists/english.js";
import { wordlist as koreanWords } from "@scure/bip39/wordlists/korean.js";

const utf8 = new TextEncoder();
const fromUtf8 = (bytes) => new TextDecoder("utf-8", { fatal: true }).decode(bytes);

export class VaultError extends Error {
  /** `code` names the failure for the page's messages (see page.js MESSAGES). */
  constructor(code, detail = "") {
    super(detail ? `${code}: ${detail}` : code);
    this.code = code;
    this.detail = detail;
  }
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export const toHex = (bytes) => hex.encode(bytes);
export const b64 = (bytes) => base64.encode(bytes);
export const unb64 = (text) => base64.decode(text);

// --- canonical JSON (crypto.roster.canonical_json, vault.report.encode_report) --------

export function canonicalJson(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new VaultError("malformed", "not an I-JSON integer");
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

// --- word lists and codenames (crypto/codename) ----------------------------------------

export const PINNED = {
  en: "187db04a869dd9bc7be80d21a86497d692c0db6abd3aa8cb6be5d618ff757fae",
  ko: "bdda237495b010e85f5ff409314291fdd9a2e46df45a9620ea5def3296507fc6",
};
export const normaliseWord = (text) => text.normalize("NFKC").toLowerCase().normalize("NFKC");

const lists = {};
export function wordlist(lang) {
  if (!lists[lang]) {
    const words = (lang === "ko" ? koreanWords : englishWords).map(normaliseWord);
    if (words.length !== 2048 || toHex(sha256(utf8.encode(words.join("\n")))) !== PINNED[lang]) {
      throw new VaultError("wordlist", `the ${lang} word list is not the pinned one`);
    }
    lists[lang] = { lang, words, index: new Map(words.map((w, i) => [w, i])) };
  }
  return lists[lang];
}

const POLYNOMIAL = 0x805; // x^11 + x^2 + 1
const timesX = (e) => ((e << 1) >> 11 ? (e << 1) ^ POLYNOMIAL : e << 1);
export function checkWord(indices) {
  let total = 0;
  for (let i = indices.length - 1; i >= 0; i--) total = timesX(total ^ indices[i]);
  return total;
}

export const MIN_WORDS = 10;

/** A fresh codename: 10 random words and the check word, as indices. */
export function generateIndices(words = MIN_WORDS) {
  const random = new Uint16Array(words);
  crypto.getRandomValues(random);
  const indices = Array.from(random, (r) => r & 2047);
  return [...indices, checkWord(indices)];
}

export const spell = (indices, lang) => indices.map((i) => wordlist(lang).words[i]).join(" ");

/** The indices of a typed codename, in either list. Raises VaultError "codename". */
export function parseCodename(text) {
  const tokens = normaliseWord(text).split(/[\s,.\-]+/u).filter(Boolean);
  if (tokens.length <= MIN_WORDS || tokens.length > 25) {
    throw new VaultError("codename", `a codename has 11 to 25 words, not ${tokens.length}`);
  }
  const candidates = ["ko", "en"].map(wordlist);
  const known = candidates.map((w) => tokens.filter((t) => w.index.has(t)).length);
  const list = known[1] > known[0] ? candidates[1] : candidates[0];
  const indices = [];
  for (const [position, token] of tokens.entries()) {
    if (!list.index.has(token)) throw new VaultError("codename", `word ${position + 1} is unknown`);
    indices.push(list.index.get(token));
  }
  if (checkWord(indices.slice(0, -1)) !== indices[indices.length - 1]) {
    throw new VaultError("codename", "the check word does not match");
  }
  return indices;
}

const LABELS = {
  salt: "tvault/codename/v1",
  reply: "tvault/codename/v1/reply-identity/",
  lookup: "tvault/codename/v1/lookup",
  followup: "tvault/codename/v1/followup-mac",
  resume: "tvault/codename/v1/resume-state",
};
const STANZA = { pq: "mlkem768x25519", x25519: "X25519" };
const hkdf32 = (key, info, salt = undefined) => hkdf(sha256, key, salt, utf8.encode(info), 32);

/**
 * The v1 keys of a codename at the org (crypto.codename.derive). `params` is the
 * profile's Argon2id cost {t, m (KiB), p}; `kind` the policy's recipient type.
 */
export async function deriveKeys(indices, { fingerprint, kind, params, onProgress }) {
  if (!STANZA[kind]) throw new VaultError("malformed", "unknown recipient type");
  const secret = new Uint8Array(indices.length * 2);
  indices.forEach((v, i) => {
    secret[2 * i] = v >> 8;
    secret[2 * i + 1] = v & 255;
  });
  const master = await argon2idAsync(secret, utf8.encode(LABELS.salt + fingerprint), {
    t: params.t,
    m: params.m,
    p: params.p,
    dkLen: 32,
    onProgress,
  });
  const seed = hkdf32(master, LABELS.reply + STANZA[kind]);
  const prefix = kind === "pq" ? "AGE-SECRET-KEY-PQ-" : "AGE-SECRET-KEY-";
  const replyIdentity = bech32.encode(prefix, bech32.toWords(seed), false).toUpperCase();
  const lookupSecret = hkdf32(master, LABELS.lookup);
  return {
    replyIdentity,
    replyRecipient: await identityToRecipient(replyIdentity),
    lookupSecret,
    lookupHash: sha256(lookupSecret),
    followupKey: hkdf32(master, LABELS.followup),
    resumeKey: hkdf32(master, LABELS.resume),
  };
}

// --- envelopes (crypto/envelope.py, crypto/padding.py) ----------------------------------

export function padme(length) {
  if (length < 2) return length;
  const exponent = Math.floor(Math.log2(length));
  const mantissaBits = Math.floor(Math.log2(exponent)) + 1;
  const mask = 2 ** (exponent - mantissaBits) - 1;
  return Math.ceil(length / (mask + 1)) * (mask + 1);
}

export const REPORT_MIN_SIZE = 1024;
export const ATTACHMENT_MIN_SIZE = 10240;
const BLOCK = 512;
const blocks = (n) => Math.ceil(n / BLOCK) * BLOCK;

/** The report document padded with spaces and a newline to its Padmé bucket. */
export function sealReportPlaintext(doc) {
  const size = Math.max(REPORT_MIN_SIZE, padme(doc.length + 1));
  const out = new Uint8Array(size).fill(0x20);
  out.set(doc);
  out[size - 1] = 0x0a;
  return out;
}

export function openReportPlaintext(data) {
  return JSON.parse(fromUtf8(data).trimEnd());
}

const BIDI = new Set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069");
/** crypto.envelope.check_name: a plain base name. Raises VaultError "name". */
export function checkName(name) {
  if (name === "" || name === "." || name === "..") throw new VaultError("name", "empty");
  if (/[/\\\0]/u.test(name)) throw new VaultError("name", "a path");
  if (utf8.encode(name).length > 255) throw new VaultError("name", "too long");
  for (const c of name) {
    if (BIDI.has(c) || /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}]/u.test(c)) throw new VaultError("name", "control");
  }
  return name;
}

function octal(value, digits) {
  // tarfile's itn for the ustar format: zero-padded octal, then NUL.
  return `${value.toString(8).padStart(digits - 1, "0")}\0`;
}

function ustarBlock(fields) {
  const block = new Uint8Array(BLOCK);
  const put = (offset, length, bytes) => block.set(bytes.subarray(0, length), offset);
  put(0, 100, fields.name);
  put(100, 8, utf8.encode(octal(fields.mode, 8)));
  put(108, 8, utf8.encode(octal(0, 8)));
  put(116, 8, utf8.encode(octal(0, 8)));
  put(124, 12, utf8.encode(octal(fields.size, 12)));
  put(136, 12, utf8.encode(octal(0, 12)));
  put(148, 8, utf8.encode("        "));
  block[156] = fields.type.charCodeAt(0);
  put(257, 8, utf8.encode("ustar\x0000"));
  const sum = block.reduce((a, b) => a + b, 0);
  put(148, 7, utf8.encode(`${sum.toString(8).padStart(6, "0")}\0`));
  return block;
}

/** Python's tarfile.TarInfo.tobuf(PAX_FORMAT) for our one regular file. */
export function tarHeader(name, size) {
  checkName(name);
  const ascii = /^[\x00-\x7f]*$/u.test(name);
  const encodedName = utf8.encode(name);
  if (ascii && encodedName.length <= 100) {
    return ustarBlock({ name: encodedName, size, type: "0", mode: 0o600 });
  }
  // A pax extended header carries the UTF-8 path; the ustar name is its ASCII form
  // with '?' for what ASCII cannot hold (tarfile's "replace"), cut to 100 bytes.
  const body = utf8.encode(`path=${name}\n`);
  let length = body.length + 1;
  for (;;) {
    const total = String(length).length + body.length + 1;
    if (total === length) break;
    length = total;
  }
  const record = concat(utf8.encode(`${length} `), body);
  const paxName = utf8.encode("././@PaxHeader");
  const pax = ustarBlock({ name: paxName, size: record.length, type: "x", mode: 0 });
  const padded = new Uint8Array(blocks(record.length));
  padded.set(record);
  const replaced = utf8.encode(Array.from(name, (c) => (c.codePointAt(0) < 128 ? c : "?")).join(""));
  return concat(pax, padded, ustarBlock({ name: replaced, size, type: "0", mode: 0o600 }));
}

export function attachmentSize(name, size) {
  const length = tarHeader(name, size).length + blocks(size) + 2 * BLOCK;
  return blocks(Math.max(ATTACHMENT_MIN_SIZE, padme(length)));
}

/**
 * The attachment envelope of a file, in pieces, never whole in memory: `read(start, end)`
 * resolves to those bytes of the file (of `size` bytes). Yields what attachmentEnvelope makes.
 */
export async function* attachmentPieces(name, size, read, piece = 1 << 20) {
  const header = tarHeader(name, size);
  yield header;
  for (let at = 0; at < size; at += piece) {
    const bytes = await read(at, Math.min(size, at + piece));
    if (bytes.length !== Math.min(piece, size - at)) throw new VaultError("changed");
    yield bytes;
  }
  const zeros = new Uint8Array(Math.min(piece, attachmentSize(name, size)));
  for (let left = attachmentSize(name, size) - header.length - size; left > 0; left -= zeros.length) {
    yield zeros.subarray(0, Math.min(left, zeros.length));
  }
}

/**
 * nonce ‖ STREAM of the plaintext `pieces` (an async iterable), in pieces as they are
 * sealed: typage's STREAM under the payload key of `fileKey` and `nonce`. The same key,
 * nonce and plaintext always give the same bytes, so a record can be sealed again to go on
 * from an offset.
 */
export async function* sealPieces(pieces, fileKey, nonce) {
  yield nonce;
  const iterator = pieces[Symbol.asyncIterator]();
  const source = new ReadableStream({
    async pull(controller) {
      const { done, value } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
  const reader = source.pipeThrough(encryptSTREAM(hkdf32(fileKey, "payload", nonce))).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/** The single-file tar envelope of `data` named `name`, zero-padded to its bucket. */
export function attachmentEnvelope(name, data) {
  const header = tarHeader(name, data.length);
  const out = new Uint8Array(attachmentSize(name, data.length));
  out.set(header);
  out.set(data, header.length);
  return out;
}

// --- age: one file key, one header per holder, the STREAM payload -------------------------

export const NONCE_SIZE = 16;
const CHUNK = 64 * 1024;
export const payloadSize = (plain) => NONCE_SIZE + plain + Math.max(1, Math.ceil(plain / CHUNK)) * 16;

function recipientOf(text) {
  if (text.startsWith("age1pq1")) return new HybridRecipient(text);
  if (text.startsWith("age1") && !text.startsWith("age1tag")) return new X25519Recipient(text);
  throw new VaultError("roster", "an intake recipient is of an unknown type");
}

/** A complete age header (with its MAC) sealing `fileKey` to `recipient` alone. */
export async function makeHeader(fileKey, recipient) {
  const stanzas = await recipientOf(recipient).wrapFileKey(fileKey);
  const macKey = hkdf32(fileKey, "header");
  return encodeHeader(stanzas, hmac(sha256, macKey, encodeHeaderNoMAC(stanzas)));
}

/** nonce ‖ STREAM(plaintext), as crypto.age.seal_payload writes it. */
export async function sealPayload(plain, fileKey, nonce) {
  const key = hkdf32(fileKey, "payload", nonce);
  const source = new ReadableStream({
    start(controller) {
      for (let i = 0; i < plain.length; i += CHUNK) controller.enqueue(plain.subarray(i, i + CHUNK));
      controller.close();
    },
  });
  const parts = [nonce];
  const reader = source.pipeThrough(encryptSTREAM(key)).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return concat(...parts);
}

export function commitment(fileKey, payloadSha256) {
  return hmac(sha256, hkdf32(fileKey, "tvault/commit/v1"), payloadSha256);
}

export const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

/** One whole age file to several recipients (a follow-up), with typage. */
export async function sealFile(plain, recipients) {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(plain);
}

export async function openFile(sealed, identity) {
  const d = new Decrypter();
  d.addIdentity(identity);
  return d.decrypt(sealed);
}

// --- proof of work (crypto/pow.py) -------------------------------------------------------

export function powBinding(records) {
  return sha256(utf8.encode(canonicalJson(records)));
}

function decodeToken(token) {
  let raw;
  try {
    raw = base64urlnopad.decode(token);
  } catch {
    throw new VaultError("pow", "malformed token");
  }
  if (raw.length !== 58 || raw[0] !== 1 || raw[1] < 1 || raw[1] > 40) {
    throw new VaultError("pow", "malformed token");
  }
  return raw;
}

function meetsBits(digest, bits) {
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (digest[i] !== 0) return false;
  return bits === 0 || digest[i] >> (8 - bits) === 0;
}

export function powCheck(token, binding, counter) {
  const raw = decodeToken(token);
  const c = new Uint8Array(8);
  new DataView(c.buffer).setBigUint64(0, BigInt(counter));
  return meetsBits(sha256(concat(raw, binding, c)), raw[1]);
}

/** The first counter solving `token` for `binding`; yields every `slice` tries. */
export async function powSolve(token, binding, { slice = 20000, onProgress } = {}) {
  const raw = decodeToken(token);
  const bits = raw[1];
  const input = concat(raw, binding, new Uint8Array(8));
  const view = new DataView(input.buffer, input.length - 8);
  for (let counter = 0; ; counter++) {
    view.setUint32(0, Math.floor(counter / 2 ** 32));
    view.setUint32(4, counter >>> 0);
    if (meetsBits(sha256(input), bits)) return counter;
    if (counter % slice === slice - 1) {
      onProgress?.(counter + 1, 2 ** bits);
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

// --- signed notes, org key, rosters (crypto/note.py, crypto/roster.py) --------------------

export function keyId(name, publicKey) {
  const d = sha256(concat(utf8.encode(`${name}\n`), new Uint8Array([1]), publicKey));
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}

export function parseVerifierKey(vkey) {
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  const parts = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
  if (first < 1 || second < 0 || !/^[0-9a-f]{8}$/u.test(parts[1])) throw new VaultError("malformed", "key");
  const raw = unb64(parts[2]);
  if (raw.length !== 33 || raw[0] !== 1) throw new VaultError("malformed", "key");
  const publicKey = raw.subarray(1);
  if (keyId(parts[0], publicKey) !== Number.parseInt(parts[1], 16)) throw new VaultError("malformed", "key id");
  return { name: parts[0], publicKey };
}

/** The text of a signed note if one of `verifiers` ({name, publicKey}) signed it. */
export function openNote(message, verifiers) {
  const decoded = typeof message === "string" ? message : fromUtf8(message);
  const split = decoded.lastIndexOf("\n\n");
  if (split < 0 || !decoded.endsWith("\n")) throw new VaultError("signature", "malformed note");
  const text = decoded.slice(0, split + 1);
  const lines = decoded.slice(split + 2, -1).split("\n");
  const data = utf8.encode(text);
  let verified = false;
  for (const line of lines) {
    const match = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!match) throw new VaultError("signature", "malformed signature line");
    const raw = unb64(match[2]);
    if (raw.length !== 68) continue;
    const id = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0;
    for (const v of verifiers) {
      if (v.name !== match[1] || keyId(v.name, v.publicKey) !== id) continue;
      if (!ed25519.verify(raw.subarray(4), data, v.publicKey)) {
        throw new VaultError("signature", "a signature by a known key does not verify");
      }
      verified = v;
    }
  }
  if (!verified) throw new VaultError("signature", "no known key signed the note");
  return { text, signer: verified };
}

export function orgFingerprint(publicKey) {
  const digest = sha256(concat(utf8.encode("tvault org key v1\n"), publicKey)).subarray(0, 20);
  return base32.encode(digest).match(/.{4}/gu).join("-");
}

export function normaliseFingerprint(text) {
  const compact = text.toUpperCase().replace(/[-\s]/gu, "");
  let raw;
  try {
    raw = base32.decode(compact);
  } catch {
    throw new VaultError("fingerprint-format");
  }
  if (raw.length !== 20) throw new VaultError("fingerprint-format");
  return compact.match(/.{4}/gu).join("-");
}

/** open_roster + check_roster for the public roster. Raises VaultError "roster". */
export function openRoster(signed, orgPublicKey, today = new Date().toISOString().slice(0, 10)) {
  let text;
  try {
    ({ text } = openNote(signed, [{ name: "tvault-org", publicKey: orgPublicKey }]));
  } catch {
    throw new VaultError("roster", "the org key did not sign this roster");
  }
  const body = text.slice(0, -1);
  let doc;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new VaultError("roster", "not JSON");
  }
  if (canonicalJson(doc) !== body) throw new VaultError("roster", "not canonical JSON");
  if (doc.type !== "tvault-public-roster/v1") throw new VaultError("roster", "not a public roster");
  if (!Number.isSafeInteger(doc.version) || doc.version < 1) throw new VaultError("roster", "version");
  if (!["pq", "x25519"].includes(doc.policy?.recipient_type)) throw new VaultError("roster", "policy");
  if (!Array.isArray(doc.intake)) throw new VaultError("roster", "intake");
  if (typeof doc.expires !== "string" || today > doc.expires) throw new VaultError("roster", "expired");
  const logKey = parseVerifierKey(doc.log_key);
  const holders = {};
  for (const m of doc.intake) {
    if (typeof m.id !== "string" || typeof m.recipient !== "string") throw new VaultError("roster", "intake");
    holders[m.id] = m.recipient;
  }
  if (Object.keys(holders).length === 0) throw new VaultError("no-intake");
  if (doc.policy.recovery_recipient) holders["recovery-recipient"] = doc.policy.recovery_recipient;
  const staffKeys = {};
  for (const entry of doc.staff_keys ?? []) staffKeys[entry.id] = unb64(entry.verify_key);
  return { document: doc, version: doc.version, kind: doc.policy.recipient_type, holders, logKey, staffKeys };
}

// --- the log (crypto/checkpoint.py, crypto/merkle, client/receipts.py) -------------------

export function openCheckpoint(signed, logKey) {
  const { text } = openNote(signed, [logKey]);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/u.test(lines[1]) || lines[0] !== logKey.name) {
    throw new VaultError("receipt", "malformed checkpoint");
  }
  const root = unb64(lines[2]);
  if (root.length !== 32) throw new VaultError("receipt", "malformed checkpoint");
  return { treeSize: Number(lines[1]), root };
}

const hashLeaf = (data) => sha256(concat(new Uint8Array([0]), data));
const hashChildren = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

/** RFC 9162 section 2.1.3.2: the inclusion proof of leaf `index` leads to `root`. */
export function verifyInclusion(entry, index, treeSize, proof, root) {
  if (!(index >= 0 && index < treeSize)) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = hashLeaf(entry);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/** client.receipts.check_entry: the entry is this record's submission, in the log. */
export function checkReceipt({ entry, index, proof, checkpoint }, roster, { record, holders, commitmentHex }) {
  const cp = openCheckpoint(checkpoint, roster.logKey);
  if (!verifyInclusion(entry, index, cp.treeSize, proof, cp.root)) {
    throw new VaultError("receipt", "the log does not include the submission");
  }
  const fields = JSON.parse(fromUtf8(entry));
  if (fields.action !== "record.submitted" || fields.record !== record) {
    throw new VaultError("receipt", "the entry is not this submission");
  }
  if (!Array.isArray(fields.holders) || fields.holders.length === 0) throw new VaultError("receipt", "no holder");
  if (holders && !fields.holders.every((h) => h in holders)) throw new VaultError("receipt", "unknown holder");
  if (commitmentHex && fields.commitment !== commitmentHex) throw new VaultError("receipt", "commitment");
  return cp;
}

// --- replies and follow-ups (crypto/messages.py) -------------------------------------------

/** A reply's fields if one of `staffKeys` (id -> key) signed it as its author. */
export function openReply(signed, staffKeys, { record, sequence }) {
  const verifiers = Object.entries(staffKeys).map(([id, publicKey]) => ({ id, name: "tvault-staff", publicKey }));
  const { text, signer } = openNote(signed, verifiers);
  const fields = JSON.parse(text.slice(0, -1));
  if (fields.type !== "tvault-reply/v1" || fields.author !== signer.id) {
    throw new VaultError("reply", "not a reply by its signer");
  }
  if (fields.record !== record || fields.sequence !== sequence) throw new VaultError("reply", "misplaced");
  return fields;
}

export function followupMacOfDigest(followupKey, record, sequence, sealedSha256) {
  const message = concat(utf8.encode(`tvault-followup/v1\n${record}\n${sequence}\n`), sealedSha256);
  return hmac(sha256, followupKey, message);
}

export const followupMac = (key, record, sequence, sealed) =>
  followupMacOfDigest(key, record, sequence, sha256(sealed));

export { hex, hmac, sha256, utf8 };
export const sha256Hasher = () => sha256.create();

/** client.org.follow_rotations: the served key is the one `wanted` names, or reached
 * from it through rotation statements each signed by the key before and the key after. */
export function followRotations(statements, wanted, current) {
  if (orgFingerprint(current) === wanted) return;
  const parse = (signed) => {
    const text = signed.split("\n\n", 1)[0];
    const doc = JSON.parse(text);
    if (canonicalJson(doc) !== text || doc.type !== "tvault-org-key-rotation/v1") throw new VaultError("fingerprint");
    return doc;
  };
  const docs = statements.map((s) => {
    try {
      return parse(s);
    } catch {
      return null;
    }
  });
  let start = docs.findIndex((d) => d && orgFingerprint(unb64(d.old_key)) === wanted);
  if (start < 0) throw new VaultError("fingerprint");
  let key = unb64(docs[start].old_key);
  let serial = null;
  const seen = new Set([toHex(key)]);
  for (; start < statements.length; start++) {
    const doc = docs[start];
    if (!doc) throw new VaultError("fingerprint");
    const oldKey = unb64(doc.old_key);
    const newKey = unb64(doc.new_key);
    if (!equalBytes(oldKey, key) || (serial !== null && doc.serial !== serial + 1) || seen.has(toHex(newKey))) {
      throw new VaultError("fingerprint");
    }
    try {
      openNote(statements[start], [{ name: "tvault-org", publicKey: oldKey }]);
      openNote(statements[start], [{ name: "tvault-org", publicKey: newKey }]);
    } catch {
      throw new VaultError("fingerprint");
    }
    if (doc.old_fingerprint !== orgFingerprint(oldKey) || doc.new_fingerprint !== orgFingerprint(newKey)) {
      throw new VaultError("fingerprint");
    }
    key = newKey;
    serial = doc.serial;
    seen.add(toHex(key));
    if (equalBytes(key, current)) return;
  }
  throw new VaultError("fingerprint");
}
