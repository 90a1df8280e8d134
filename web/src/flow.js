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
  for (const f of files) sizes.push(core.payloadSize(core.attachmentSize(f.name, f.data.length)));
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
  onStep?.("seal");
  const plaintexts = [reportPlaintext(report, keys, ids.slice(1)), ...files.map((f) => core.attachmentEnvelope(f.name, f.data))];
  const sealed = [];
  for (const [i, plain] of plaintexts.entries()) {
    const fileKey = core.randomBytes(16);
    const headers = {};
    for (const [holder, recipient] of Object.entries(holders)) headers[holder] = await core.makeHeader(fileKey, recipient);
    const payload = await core.sealPayload(plain, fileKey, core.randomBytes(core.NONCE_SIZE));
    if (payload.length !== sizes[i]) throw new VaultError("malformed", "a record sealed to another size");
    sealed.push({ id: ids[i], fileKey, headers, payload, commitment: core.commitment(fileKey, core.sha256(payload)) });
  }
  onStep?.("upload");
  const total = sizes.reduce((a, b) => a + b, 0);
  let before = 0;
  onProgress?.(0, total);
  for (const record of sealed) {
    await upload(server, created.id, record, chunkBytes, (n) => onProgress?.(before + n, total));
    before += record.payload.length;
  }
  onStep?.("complete");
  const done = await server.send("POST", `/submissions/${created.id}/complete`, {
    records: sealed.map((r) => ({
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
    { record: ids[0], holders, commitmentHex: core.toHex(sealed[0].commitment) },
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

/** Upload one payload in chunks from where the server is; retries from its offset. */
async function upload(server, submission, record, chunkBytes, onStored) {
  let offset = await received(server, submission, record.id);
  let failures = 0;
  while (offset < record.payload.length) {
    const piece = record.payload.subarray(offset, offset + chunkBytes);
    try {
      const answer = await server.send("PUT", `/submissions/${submission}/records/${record.id}/payload?offset=${offset}`, piece, {
        raw: true,
        retry: false,
      });
      offset = Number(answer.received);
    } catch (error) {
      if (error.status === 409 && Number.isInteger(error.problem?.received)) {
        offset = error.problem.received;
      } else if (["offline", "server", "busy"].includes(error.code) && ++failures < RETRIES) {
        await sleep(Math.min(30000, 500 * 2 ** failures));
        offset = await received(server, submission, record.id);
      } else {
        throw error;
      }
    }
    onStored(offset);
  }
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
