// Usage:
//   node keys.mjs generate pq|x25519   prints a new identity
//   node keys.mjs recipient            reads identities (one a line) on stdin,
//                                      prints the recipient of each
import process from "node:process";
import * as age from "age-encryption";
import { main, readStdin, writeStdout } from "./io.mjs";

main(async () => {
  const [command, kind] = process.argv.slice(2);
  if (command === "generate") {
    const generators = { pq: age.generateHybridIdentity, x25519: age.generateX25519Identity };
    if (!(kind in generators)) throw new Error(`unknown identity kind: ${kind}`);
    await writeStdout(`${await generators[kind]()}\n`);
  } else if (command === "recipient") {
    const lines = new TextDecoder().decode(await readStdin()).split("\n").filter((l) => l.trim());
    for (const identity of lines) await writeStdout(`${await age.identityToRecipient(identity.trim())}\n`);
  } else {
    throw new Error(`unknown command: ${command}`);
  }
});
