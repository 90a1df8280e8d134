// typage (npm age-encryption) as a service for the Python interop tests.
//
// Reads one JSON request a line on stdin and writes one JSON reply a line on stdout, in
// order, so one Node process serves a whole test session instead of one start per call.
// Bytes travel as base64. Requests:
//   {"op": "generate", "kind": "pq" | "x25519"}                 -> {"identity": ...}
//   {"op": "recipient", "identity": ...}                          -> {"recipient": ...}
//   {"op": "encrypt", "data", "recipients"?: [...], "passphrase"?, "workFactor"?, "armor"?}
//                                                                 -> {"data": ...}
//   {"op": "decrypt", "data", "identities"?: [...], "passphrase"?}  -> {"data": ...}
// decrypt takes binary or armored files. Every reply has "ok"; a failure is
// {"ok": false, "error": "..."} and the service goes on with the next request.
import { Buffer } from "node:buffer";
import process from "node:process";
import { createInterface } from "node:readline";
import * as age from "age-encryption";

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
const toBase64 = (bytes) => Buffer.from(bytes).toString("base64");
const fromBase64 = (text) => new Uint8Array(Buffer.from(text, "base64"));

const operations = {
  async generate({ kind }) {
    const generators = { pq: age.generateHybridIdentity, x25519: age.generateX25519Identity };
    if (!Object.hasOwn(generators, kind)) throw new Error(`unknown identity kind: ${kind}`);
    return { identity: await generators[kind]() };
  },

  async recipient({ identity }) {
    return { recipient: await age.identityToRecipient(identity) };
  },

  async encrypt({ data, recipients = [], passphrase, workFactor, armor = false }) {
    const e = new age.Encrypter();
    if (passphrase !== undefined) {
      e.setPassphrase(passphrase);
      if (workFactor !== undefined) e.setScryptWorkFactor(workFactor);
    }
    for (const r of recipients) e.addRecipient(r);
    const file = await e.encrypt(fromBase64(data));
    return { data: armor ? Buffer.from(age.armor.encode(file)).toString("base64") : toBase64(file) };
  },

  async decrypt({ data, identities = [], passphrase }) {
    const d = new age.Decrypter();
    if (passphrase !== undefined) d.addPassphrase(passphrase);
    for (const identity of identities) d.addIdentity(identity);
    let file = fromBase64(data);
    const text = new TextDecoder().decode(file.subarray(0, 64)).trimStart();
    if (text.startsWith(ARMOR_BEGIN)) file = age.armor.decode(new TextDecoder().decode(file));
    return { data: toBase64(await d.decrypt(file)) };
  },
};

async function reply(line) {
  try {
    const request = JSON.parse(line);
    if (!Object.hasOwn(operations, request.op)) throw new Error(`unknown op: ${request.op}`);
    return { ok: true, ...(await operations[request.op](request)) };
  } catch (err) {
    return { ok: false, error: String(err?.stack ?? err) };
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim()) process.stdout.write(`${JSON.stringify(await reply(line))}\n`);
}
