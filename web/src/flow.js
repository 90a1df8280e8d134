// What the page does over the wire (docs/submissions.md, "Source: submitting" and
// "Source: coming back"), step for step as client/submitting.py and client/returning.py.
// No DOM: page.js drives it, and node drives it against `tvault serve --dev` in tests.
import * as core from "./core.js";

const { VaultError } = core;
const RETRIES = 8;
const ID_LENGTH = 26;
const MAX_ATTACHMENTS = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The server at `base` ("" on the page served at `/`). */
export class Server {
  constructor(base, fetcher = globalThis.fetch.bind(globalThis)) {
    this.base = base.replace(/\/+$/u, "");
    this.fetch = fetcher;
  }

  /** One request; JSON in and out unless `raw`. Retries drops, 5xx and 429 with backoff. */
  async send(method, path, body, { retry = true, tries = retry ? RETRIES : 1, raw = false, text = false } = {}) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await this.fetch(`${this.base}/v1${path}`, {
          method,
          headers: body === undefined ? {} : { "Content-Type": raw ? "application/octet-stream" : "application/json" },
          body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
          credentials: "omit",
          cache: "no-store",
          referrerPolicy: "no-referrer",
        });
      } catch {
        if (attempt + 1 >= tries) throw new VaultError("offline");
        await sleep(Math.min(30000, 500 * 2 ** attempt));
        continue;
      }
      if (response.status >= 500 || response.status === 429) {
        if (attempt + 1 >= tries) throw new VaultError(response.status === 429 ? "busy" : "server", String(response.status));
        const after = Number(response.headers.get("Retry-After") ?? 0) * 1000;
        await sleep(Math.max(after, Math.min(30000, 500 * 2 ** attempt)));
        continue;
      }
      if (!response.ok) {
        let problem = {};
        try {
          problem = await response.json();
        } catch {
          // not a problem document: the status says enough
        }
        throw refusal(response.status, problem);
      }
      return text ? response.text() : response.json();
    }
  }
}

function refusal(status, problem) {
  const detail = typeof problem.detail === "string" ? problem.detail : "";
  if (status === 413) return new VaultError("too-large", detail);
  if (status === 403 && problem.reason === "pow-refused") return new VaultError("pow-refused", detail);
  const error = new VaultError("refused", `${status} ${detail}`);
  error.status = status;
  error.problem = problem;
  return error;
}

/** client.sourcing.pin_org: the org key checked against `fingerprint`, its public roster opened. */
export async function pinOrg(server, fingerprint) {
  const wanted = core.normaliseFingerprint(fingerprint);
  // Few tries: with no connection at all the person hears so in seconds, not a minute.
  const org = await server.send("GET", "/org", undefined, { tries: 3 });
  let publicKey;
  try {
    publicKey = core.unb64(org.public_key);
    core.orgFingerprint(publicKey);
  } catch {
    throw new VaultError("malformed", "org key");
  }
  if (core.orgFingerprint(publicKey) !== wanted) {
    const served = await server.send("GET", "/org/rotations");
    core.followRotations(Array.isArray(served.statements) ? served.statements : [], wanted, publicKey);
  }
  if (typeof org.roster !== "string") throw new VaultError("no-roster");
  const roster = core.openRoster(org.roster, publicKey);
  return { fingerprint: wanted, publicKey, roster };
}

/** vault.report.encode_report: canonical JSON of the report, nulls left out. */
export function encodeReport(report) {
  const prune = (value) => {
    if (Array.isArray(value)) return value.map(prune);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, prune(v)]));
    }
    return value;
  };
  return core.utf8.encode(core.canonicalJson(prune(report)));
}

function reportPlaintext(report, keys, attachmentIds) {
  const complete = {
    ...report,
    reply: { recipient: keys.replyRecipient, followup_mac_check: core.toHex(keys.followupKey) },
    attachments: attachmentIds.length ? attachmentIds.map((record) => ({ record })) : null,
  };
  return core.sealReportPlaintext(encodeReport(complete));
}

/**
 * Seal and upload a report with its attachments; resolve to what the source must keep.
 *
 * `report` is a report/v1 object without `reply` and `attachments`; `files` are
 * `{name, data: Uint8Array}`; `params` the codename's Argon2id cost; `maxBytes` (optional)
 * the largest attachment the page accepts. Callbacks: `onStep(name)`,
 * `onCodename(words)` (once the server took the submission, before any upload),
 * `onProgress(done, total)` for the upload, `onWork(tries, expected)` for the proof of work,
 * `onKeys(fraction)` while the codename's keys are derived.
 */
export async function submit(
  server,
  { fingerprint, report, files = [], lang, params, onStep, onCodename, onProgress, onWork, onKeys },
) {
  if (files.length > MAX_ATTACHMENTS) throw new VaultError("too-many");
  for (const f of files) core.checkName(f.name);
  onStep?.("org");
  const org = await pinOrg(server, fingerprint);
  const { holders } = org.roster;
  onStep?.("keys");
  const indices = core.generateIndices();
  const keys = await core.deriveKeys(indices, {
    fingerprint: org.fingerprint,
    kind: org.roster.kind,
    params,
    onProgress: onKeys,
  });
  const placeholder = files.map(() => "A".repeat(ID_LENGTH));
  const sizes = [core.payloadSize(reportPlaintext(report, keys, placeholder).length)];
  for (const f of files) sizes.push(core.payloadSize(core.attachmentSize(f.name, fileSize(f))));
  const records = sizes.map((size, i) => ({ kind: i === 0 ? "report" : "attachment", size }));
  onStep?.("work");
  const created = await paidSubmission(server, records, onWork);
  const ids = created.records.map((r) => String(r.id));
  const chunkBytes = Number(created.chunk_bytes);
  if (
    canonical(created.records.map((r) => ({ kind: r.kind, size: r.size }))) !== canonical(records) ||
    !(chunkBytes >= 1) ||
    ids.some((id) => id.length !== ID_LENGTH)
  ) {
    throw new VaultError("malformed", "the server answered for other records");
  }
  onCodename?.(core.spell(indices, lang));
  // Each record is sealed as it is uploaded, one piece at a time: an attachment is never
  // whole in memory. Only its key, nonce and headers are kept, to seal it again from the
  // start if the server holds another offset than the stream reached.
  onStep?.("seal");
  const reportBytes = reportPlaintext(report, keys, ids.slice(1));
  const sealing = [];
  for (const [i, id] of ids.entries()) {
    const fileKey = core.randomBytes(16);
    const headers = {};
    for (const [holder, recipient] of Object.entries(holders)) headers[holder] = await core.makeHeader(fileKey, recipient);
    const plain =
      i === 0
        ? async function* reportPieces() {
            yield reportBytes;
          }
        : () => core.attachmentPieces(files[i - 1].name, fileSize(files[i - 1]), reader(files[i - 1]));
    sealing.push({ id, size: sizes[i], fileKey, nonce: core.randomBytes(core.NONCE_SIZE), headers, plain });
  }
  onStep?.("upload");
  const total = sizes.reduce((a, b) => a + b, 0);
  let before = 0;
  onProgress?.(0, total);
  for (const record of sealing) {
    record.commitment = await upload(server, created.id, record, chunkBytes, (n) => onProgress?.(before + n, total));
    before += record.size;
  }
  onStep?.("complete");
  const done = await server.send("POST", `/submissions/${created.id}/complete`, {
    records: sealing.map((r) => ({
      id: r.id,
      commitment: core.toHex(r.commitment),
      headers: Object.fromEntries(Object.entries(r.headers).map(([h, v]) => [h, core.b64(v)])),
    })),
    lookup_hash: core.toHex(keys.lookupHash),
  });
  const indicesById = Object.fromEntries(done.records.map((r) => [r.id, Number(r.log_index)]));
  if (canonical(Object.keys(indicesById).sort()) !== canonical([...ids].sort())) {
    throw new VaultError("receipt", "other records were completed");
  }
  const receipt = done.receipt;
  if (Number(receipt.index) !== indicesById[ids[0]]) throw new VaultError("receipt", "another entry");
  core.checkReceipt(
    { entry: core.unb64(receipt.entry), index: Number(receipt.index), proof: receipt.proof.map(core.unb64), checkpoint: receipt.checkpoint },
    org.roster,
    { record: ids[0], holders, commitmentHex: core.toHex(sealing[0].commitment) },
  );
  return { codename: core.spell(indices, lang), recordId: ids[0], logIndex: indicesById[ids[0]], attachments: ids.slice(1) };
}

const canonical = (v) => core.canonicalJson(v);

async function paidSubmission(server, records, onWork) {
  const binding = core.powBinding(records);
  for (let attempt = 0; ; attempt++) {
    const token = await server.send("POST", "/tokens");
    const counter = await core.powSolve(String(token.token), binding, { onProgress: onWork });
    try {
      return await server.send("POST", "/submissions", { records, pow: { token: token.token, counter } }, { retry: false });
    } catch (error) {
      if (!["offline", "server", "busy"].includes(error.code) || attempt + 1 >= RETRIES) throw error;
      await sleep(Math.min(30000, 500 * 2 ** attempt));
    }
  }
}

async function received(server, submission, record) {
  const status = await server.send("GET", `/submissions/${submission}`);
  const found = status.records.find((r) => r.id === record);
  if (!found) throw new VaultError("malformed", "the server lost a record");
  return Number(found.received);
}

const fileSize = (f) => (f.data ? f.data.length : f.file.size);

/** `read(start, end)` of a file given as bytes (`data`) or as a browser File (`file`). */
function reader(f) {
  if (f.data) return async (start, end) => f.data.subarray(start, end);
  return async (start, end) => new Uint8Array(await f.file.slice(start, end).arrayBuffer());
}

class Restart extends Error {
  constructor(received) {
    super(`the server holds ${received} bytes`);
    this.received = received;
  }
}

/**
 * Seal one record and upload it in chunks of `chunkBytes` from where the server is,
 * hashing every byte; resolve to its commitment. A dropped connection is retried from
 * the offset the server then holds; an offset the stream has passed seals it again.
 */
async function upload(server, submission, record, chunkBytes, onStored) {
  let start = await received(server, submission, record.id);
  for (;;) {
    try {
      return await sealAndSend(server, submission, record, chunkBytes, start, onStored);
    } catch (error) {
      if (!(error instanceof Restart)) throw error;
      start = error.received;
    }
  }
}

async function sealAndSend(server, submission, record, chunkBytes, start, onStored) {
  const hasher = core.sha256Hasher();
  let position = 0;
  let sent = start;
  let buffer = [];
  let buffered = 0;
  const put = async (piece) => {
    const offset = sent;
    const end = sent + piece.length;
    for (let failures = 0; ; ) {
      let stored;
      try {
        const path = `/submissions/${submission}/records/${record.id}/payload?offset=${offset}`;
        stored = Number((await server.send("PUT", path, piece, { raw: true, retry: false })).received);
      } catch (error) {
        if (error.status === 409 && Number.isInteger(error.problem?.received)) {
          stored = error.problem.received;
        } else if (["offline", "server", "busy"].includes(error.code) && ++failures < RETRIES) {
          await sleep(Math.min(30000, 500 * 2 ** failures));
          try {
            stored = await received(server, submission, record.id);
          } catch (again) {
            if (["offline", "server", "busy"].includes(again.code)) continue;
            throw again;
          }
        } else {
          throw error;
        }
      }
      if (stored === end) {
        sent = end;
        onStored(end);
        return;
      }
      if (stored !== offset) throw new Restart(stored);
    }
  };
  const take = (n) => {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const first = buffer[0];
      const used = Math.min(first.length, n - at);
      out.set(first.subarray(0, used), at);
      at += used;
      if (used === first.length) buffer.shift();
      else buffer[0] = first.subarray(used);
    }
    buffered -= n;
    return out;
  };
  for await (const piece of core.sealPieces(record.plain(), record.fileKey, record.nonce)) {
    hasher.update(piece);
    const end = position + piece.length;
    if (end > record.size) throw new VaultError("malformed", "a record sealed larger than declared");
    const from = Math.max(0, sent + buffered - position);
    if (from < piece.length) {
      buffer.push(piece.subarray(from));
      buffered += piece.length - from;
    }
    position = end;
    while (buffered >= chunkBytes) await put(take(chunkBytes));
  }
  if (buffered) await put(take(buffered));
  if (position !== record.size) throw new VaultError("malformed", "a record sealed to another size");
  return core.commitment(record.fileKey, hasher.digest());
}

/** client.returning.replies: look the codename up, prove the receipts, open the replies. */
export async function checkReplies(server, { fingerprint, codename, params, onKeys }) {
  const indices = core.parseCodename(codename);
  const org = await pinOrg(server, fingerprint);
  const keys = await core.deriveKeys(indices, {
    fingerprint: org.fingerprint,
    kind: org.roster.kind,
    params,
    onProgress: onKeys,
  });
  let found;
  try {
    found = await server.send("POST", "/sources/lookup", { lookup_secret: core.b64(keys.lookupSecret) });
  } catch (error) {
    if (error.status === 404) throw new VaultError("not-found");
    throw error;
  }
  const records = found.records.map((r) => ({ id: String(r.id), kind: String(r.kind), logIndex: Number(r.log_index), entry: core.unb64(r.entry) }));
  if (!records.length || records[0].kind !== "report") throw new VaultError("malformed", "no report");
  const signed = await server.send("GET", "/log/checkpoint", undefined, { text: true });
  const checkpoint = core.openCheckpoint(signed, org.roster.logKey);
  for (const record of records) {
    if (!(record.logIndex >= 0 && record.logIndex < checkpoint.treeSize)) throw new VaultError("receipt", "not in the log");
    const proof = await server.send("GET", `/log/proof/inclusion?index=${record.logIndex}&tree_size=${checkpoint.treeSize}`);
    core.checkReceipt(
      { entry: record.entry, index: record.logIndex, proof: proof.hashes.map(core.unb64), checkpoint: signed },
      org.roster,
      { record: record.id },
    );
  }
  const ids = new Set(records.map((r) => r.id));
  const replies = [];
  for (const r of found.replies) {
    if (!ids.has(r.record)) throw new VaultError("reply", "a reply to another record");
    let plain;
    try {
      plain = await core.openFile(core.unb64(r.sealed), keys.replyIdentity);
    } catch {
      throw new VaultError("reply", "does not open");
    }
    const fields = core.openReply(new TextDecoder().decode(plain), org.roster.staffKeys, { record: r.record, sequence: Number(r.sequence) });
    replies.push({ record: r.record, sequence: fields.sequence, author: fields.author, message: fields.message });
  }
  return { org, keys, records, replies, followups: found.followups, treeSize: checkpoint.treeSize };
}

/** client.returning._send_followup: `report` sealed to the intake, MAC'd with the codename. */
export async function addFollowup(server, thread, report) {
  const record = thread.records[0].id;
  const sequence = 1 + Math.max(0, ...thread.followups.filter((f) => f.record === record).map((f) => Number(f.sequence)));
  const plain = core.sealReportPlaintext(encodeReport(report));
  const sealed = await core.sealFile(plain, Object.values(thread.org.roster.holders));
  await server.send(
    "POST",
    "/sources/followups",
    {
      lookup_secret: core.b64(thread.keys.lookupSecret),
      record,
      sequence,
      sealed: core.b64(sealed),
      mac: core.toHex(core.followupMac(thread.keys.followupKey, record, sequence, sealed)),
    },
    { retry: false },
  );
  return sequence;
}
