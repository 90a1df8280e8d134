// Drives web/src/flow.js against a real server for tests/web/test_page_flow.py: reads one
// JSON request on stdin, prints one JSON answer. Requests:
//   {"op": "submit", "server", "fingerprint", "params", "lang", "report", "files": [{"name", "data": b64}]}
//   {"op": "replies", "server", "fingerprint", "params", "codename", "add"?: report}
// A failure prints {"error": code, "detail"} and exits 1.
import process from "node:process";
import * as core from "../src/core.js";
import * as flow from "../src/flow.js";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
const server = new flow.Server(request.server);
try {
  let answer;
  if (request.op === "submit") {
    const steps = [];
    answer = await flow.submit(server, {
      ...request,
      files: (request.files ?? []).map((f) => ({ name: f.name, data: core.unb64(f.data) })),
      onStep: (s) => steps.push(s),
    });
    answer.steps = steps;
  } else {
    const thread = await flow.checkReplies(server, request);
    const added = request.add ? await flow.addFollowup(server, thread, request.add) : null;
    answer = { records: thread.records.map((r) => r.id), replies: thread.replies, followups: thread.followups.length, added };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: error.code ?? "internal", detail: String(error.detail ?? error.stack) })}\n`);
  process.exitCode = 1;
}
