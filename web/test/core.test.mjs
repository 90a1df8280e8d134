// The page's cryptography against vectors the Python code made (tests/web/vectors.py).
// Run: TVAULT_VECTORS=vectors.json node --test web/test/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import * as core from "../src/core.js";

const path = process.env.TVAULT_VECTORS;
if (!path) throw new Error("TVAULT_VECTORS names the vectors file (tests/web/vectors.py)");
const v = JSON.parse(readFileSync(path, "utf8"));
const bytes = (b64) => core.unb64(b64);

test("the word lists are the pinned BIP-39 lists", () => {
  assert.equal(core.wordlist("ko").words.length, 2048);
  assert.equal(core.wordlist("en").words.length, 2048);
});

test("the same words and fingerprint give the same codename keys", async () => {
  for (const c of v.codenames) {
    const indices = core.parseCodename(c.words);
    assert.deepEqual(indices, c.indices);
    assert.equal(core.checkWord(indices.slice(0, -1)), indices.at(-1));
    const keys = await core.deriveKeys(indices, { fingerprint: v.fingerprint, kind: c.kind, params: v.params });
    assert.equal(keys.replyIdentity, c.reply_identity);
    assert.equal(keys.replyRecipient, c.reply_recipient);
    assert.equal(core.toHex(keys.lookupHash), c.lookup_hash);
    assert.equal(core.toHex(keys.followupKey), c.followup_key);
    assert.equal(core.toHex(keys.resumeKey), c.resume_key);
  }
});

test("a wrong check word is refused", () => {
  const words = v.codenames[2].words.split(" ");
  [words[0], words[1]] = [words[1], words[0]];
  if (words[0] !== words[1]) assert.throws(() => core.parseCodename(words.join(" ")), { code: "codename" });
});

test("the same envelope bytes", () => {
  for (const r of v.reports) assert.deepEqual(core.sealReportPlaintext(bytes(r.doc)), bytes(r.sealed));
  for (const a of v.attachments) {
    const envelope = bytes(a.envelope);
    assert.equal(core.attachmentSize(a.name, bytes(a.data).length), envelope.length);
    assert.deepEqual(core.attachmentEnvelope(a.name, bytes(a.data)), envelope);
  }
});

test("the same proof-of-work solution", async () => {
  const binding = core.powBinding(v.pow.records);
  assert.ok(core.powCheck(v.pow.token, binding, v.pow.counter));
  assert.equal(await core.powSolve(v.pow.token, binding), v.pow.counter);
});

test("a real roster is accepted and a tampered one refused", () => {
  const key = bytes(v.org_public_key);
  assert.equal(core.orgFingerprint(key), v.fingerprint);
  assert.equal(core.normaliseFingerprint(v.fingerprint.toLowerCase().replaceAll("-", " ")), v.fingerprint);
  const roster = core.openRoster(v.roster, key);
  assert.equal(roster.version, 3);
  assert.equal(Object.keys(roster.holders).length, 1);
  assert.throws(() => core.openRoster(v.tampered_roster, key), { code: "roster" });
  assert.throws(() => core.openRoster(v.roster, core.randomBytes(32)), { code: "roster" });
});

test("a receipt proves, a moved one does not", () => {
  const roster = core.openRoster(v.roster, bytes(v.org_public_key));
  const receipt = { ...v.receipt, entry: bytes(v.receipt.entry), proof: v.receipt.proof.map(bytes) };
  core.checkReceipt(receipt, roster, { record: "R".repeat(26), holders: roster.holders, commitmentHex: "c" });
  assert.throws(() => core.checkReceipt({ ...receipt, index: 3 }, roster, { record: "R".repeat(26) }), {
    code: "receipt",
  });
});

test("a signed reply opens with the roster's staff key", () => {
  const roster = core.openRoster(v.roster, bytes(v.org_public_key));
  const fields = core.openReply(v.reply, roster.staffKeys, { record: "R".repeat(26), sequence: 1 });
  assert.equal(fields.message, "답장입니다");
  assert.throws(() => core.openReply(v.reply, roster.staffKeys, { record: "R".repeat(26), sequence: 2 }));
});

test("the same commitment and follow-up message", () => {
  const c = v.commitment;
  assert.equal(core.toHex(core.commitment(core.hex.decode(c.file_key), core.hex.decode(c.sha256))), c.value);
  const key = core.randomBytes(32);
  const expected = core.hmac(core.sha256, key, bytes(v.followup.message));
  const sealedDigest = core.hex.decode(c.sha256);
  assert.deepEqual(core.followupMacOfDigest(key, "R".repeat(26), 2, sealedDigest), expected);
});

test("a sealed payload opens with typage under the intake identity", async () => {
  const roster = core.openRoster(v.roster, bytes(v.org_public_key));
  const [recipient] = Object.values(roster.holders);
  const fileKey = core.randomBytes(16);
  const plain = Uint8Array.from({ length: 70000 }, (_, i) => (i * 13) % 256);
  const header = await core.makeHeader(fileKey, recipient);
  const payload = await core.sealPayload(plain, fileKey, core.randomBytes(16));
  assert.equal(payload.length, core.payloadSize(plain.length));
  assert.deepEqual(await core.openFile(core.concat(header, payload), v.intake_identity), plain);
});

test("a rotated org key is followed from the fingerprint given, a broken chain is not", () => {
  const { statements, current, middle } = v.rotation;
  core.followRotations(statements, v.fingerprint, bytes(current));
  core.followRotations(statements, v.fingerprint, bytes(middle));
  core.followRotations(statements, core.orgFingerprint(bytes(middle)), bytes(current));
  assert.throws(() => core.followRotations([statements[1]], v.fingerprint, bytes(current)), { code: "fingerprint" });
  assert.throws(() => core.followRotations(statements, v.fingerprint, core.randomBytes(32)), { code: "fingerprint" });
  const forged = statements[1].replace(/\u2014 tvault-org (\S+)\n$/u, (line, sig) => line.replace(sig, sig.slice(0, 10) + (sig[10] === "A" ? "B" : "A") + sig.slice(11)));
  assert.throws(() => core.followRotations([statements[0], forged], v.fingerprint, bytes(current)), { code: "fingerprint" });
});

test("an attachment sealed piece by piece is the same envelope, and opens", async () => {
  const roster = core.openRoster(v.roster, bytes(v.org_public_key));
  const [recipient] = Object.values(roster.holders);
  for (const a of v.attachments) {
    const data = bytes(a.data);
    const read = async (start, end) => data.subarray(start, end);
    const pieces = [];
    for await (const piece of core.attachmentPieces(a.name, data.length, read, 4096)) pieces.push(piece);
    assert.deepEqual(core.concat(...pieces), bytes(a.envelope));
    const fileKey = core.randomBytes(16);
    const nonce = core.randomBytes(16);
    const sealed = [];
    for await (const piece of core.sealPieces(core.attachmentPieces(a.name, data.length, read, 5000), fileKey, nonce)) {
      sealed.push(piece);
    }
    const payload = core.concat(...sealed);
    assert.equal(payload.length, core.payloadSize(bytes(a.envelope).length));
    assert.deepEqual(payload, await core.sealPayload(bytes(a.envelope), fileKey, nonce));
    const header = await core.makeHeader(fileKey, recipient);
    assert.deepEqual(await core.openFile(core.concat(header, payload), v.intake_identity), bytes(a.envelope));
  }
});
