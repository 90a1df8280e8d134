// The page's flow against a fake server (no network): each failure comes back as the code
// the page shows a message for, and an upload goes on from the offset the server names.
// Run with the vectors of tests/web/vectors.py: TVAULT_VECTORS=vectors.json node --test ...
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import * as core from "../src/core.js";
import * as flow from "../src/flow.js";
import { buildReport } from "../src/report.js";

const v = JSON.parse(readFileSync(process.env.TVAULT_VECTORS, "utf8"));
const report = {
  schema: "report/v1",
  language: "ko",
  detainee: { name_hangul: "김영희", romanisations: [], sex: "unknown" },
  events: [],
  source: { relationship: "어머니", knowledge: "hearsay" },
  consent: { share_with_un_working_groups: false, publish: false, recontact: false },
  narrative: "",
};
const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

/** A fake server: `routes` maps "METHOD /path" (no query) to a handler of (url, init). */
function fake(routes) {
  const calls = [];
  const fetcher = async (url, init) => {
    const { pathname, searchParams } = new URL(url);
    const key = `${init.method} ${pathname.replace(/^\/v1/u, "")}`;
    calls.push({ key, offset: searchParams.get("offset"), length: init.body?.length });
    const handler = routes[key] ?? Object.entries(routes).find(([k]) => new RegExp(`^${k}$`, "u").test(key))?.[1];
    if (!handler) return json(404, { detail: "no such route" });
    return handler(url, init);
  };
  return { server: new flow.Server("http://vault.test", fetcher), calls };
}

const org = { "GET /org": () => json(200, { public_key: v.org_public_key, roster: v.roster }) };
const paid = {
  ...org,
  "POST /tokens": () => json(201, { token: v.pow.token, bits: 8 }),
};
const submit = (server, extra = {}) =>
  flow.submit(server, { fingerprint: v.fingerprint, report, files: [], lang: "ko", params: v.params, ...extra });

test("no connection is 'offline'", async () => {
  const server = new flow.Server("http://vault.test", async () => {
    throw new TypeError("Failed to fetch");
  });
  await assert.rejects(submit(server), { code: "offline" });
});

test("another org's key is 'fingerprint'", async () => {
  const { server } = fake({ ...org, "GET /org/rotations": () => json(200, { statements: [] }) });
  const other = core.orgFingerprint(core.randomBytes(32));
  await assert.rejects(submit(server, { fingerprint: other }), { code: "fingerprint" });
});

test("a tampered roster is 'roster' and nothing is sent", async () => {
  const { server, calls } = fake({ "GET /org": () => json(200, { public_key: v.org_public_key, roster: v.tampered_roster }) });
  await assert.rejects(submit(server), { code: "roster" });
  assert.deepEqual(calls.map((c) => c.key), ["GET /org"]);
});

test("a refused proof of work is 'pow-refused', a refused size 'too-large'", async () => {
  const refused = fake({ ...paid, "POST /submissions": () => json(403, { detail: "token expired", reason: "pow-refused" }) });
  await assert.rejects(submit(refused.server), { code: "pow-refused" });
  const large = fake({ ...paid, "POST /submissions": () => json(413, { detail: "over the limit" }) });
  await assert.rejects(submit(large.server), { code: "too-large" });
});

test("the upload goes on from the offset the server names", async () => {
  let stored = 0;
  let created;
  const { server, calls } = fake({
    ...paid,
    "POST /submissions": (_, init) => {
      const body = JSON.parse(init.body);
      assert.ok(core.powCheck(body.pow.token, core.powBinding(body.records), body.pow.counter));
      created = body.records;
      return json(201, { id: "S".repeat(26), records: body.records.map((r) => ({ id: "R".repeat(26), ...r })), chunk_bytes: 300 });
    },
    "GET /submissions/S+": () => json(200, { records: [{ id: "R".repeat(26), received: stored }], state: "open" }),
    "PUT /submissions/S+/records/R+/payload": (url, init) => {
      const offset = Number(new URL(url).searchParams.get("offset"));
      if (offset === 600 && stored === 600) {
        stored = 900; // another try of ours already stored this chunk
        return json(409, { detail: "offset", received: 900 });
      }
      stored = offset + init.body.length;
      return json(200, { received: stored });
    },
    "POST /submissions/S+/complete": () => json(422, { detail: "stop here" }),
  });
  await assert.rejects(submit(server), { code: "refused" });
  const puts = calls.filter((c) => c.key.startsWith("PUT")).map((c) => Number(c.offset));
  const size = created[0].size;
  const expected = [0, 300, 600];
  for (let at = 900; at < size; at += 300) expected.push(at);
  assert.deepEqual(puts, expected);
});

test("the form's report passes the report/v1 rules, and each bad field is named", () => {
  const fields = {
    "detainee-name-hangul": "김영희",
    "source-relationship": "어머니",
    "source-knowledge": "direct",
    "detainee-birth": "1985-02",
    narrative: "줄\n바꿈",
  };
  const events = [{ kind: "arrest", start: "2024-05-14", end: "", description: "" }];
  const { report: built } = buildReport(fields, events, "ko");
  assert.equal(built.detainee.birth_date.precision, "month");
  assert.deepEqual(built.events[0].date, { start: { value: "2024-05-14", precision: "day" }, end: null });
  const bad = buildReport(
    { ...fields, "detainee-name-hangul": "Kim", "detainee-birth": "1985-02-30" },
    [{ kind: "arrest", start: "2024-05", end: "2024-04" }],
    "ko",
  );
  assert.deepEqual(
    bad.problems.map((p) => `${p.id}:${p.code}`),
    ["detainee-name-hangul:not-hangul", "detainee-birth:bad-date", "event-0-end:end-before-start"],
  );
  assert.deepEqual(buildReport({}, [], "en").problems.map((p) => p.code), ["need-name", "required", "required"]);
});
