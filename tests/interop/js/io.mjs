// Shared stdin/stdout helpers for the typage interop scripts.
import { Buffer } from "node:buffer";
import process from "node:process";

export async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return new Uint8Array(Buffer.concat(chunks));
}

export function writeStdout(data) {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

// Any failure exits 1 with the reason on stderr, so the Python side can
// assert on the exit code without parsing output.
export function main(fn) {
  fn().catch((err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
