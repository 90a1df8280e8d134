// Usage: node decrypt.mjs (--identity-file FILE ... | --passphrase-env VAR)
// Reads an age file (binary or armored) on stdin and writes the plaintext to stdout.
import { readFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import * as age from "age-encryption";
import { main, readStdin, writeStdout } from "./io.mjs";

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

main(async () => {
  const { values } = parseArgs({
    options: {
      "identity-file": { type: "string", multiple: true, default: [] },
      "passphrase-env": { type: "string" },
    },
  });
  const d = new age.Decrypter();
  if (values["passphrase-env"] !== undefined) d.addPassphrase(process.env[values["passphrase-env"]] ?? "");
  for (const path of values["identity-file"]) {
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (line.trim() && !line.startsWith("#")) d.addIdentity(line.trim());
    }
  }
  let file = await readStdin();
  const text = new TextDecoder().decode(file.subarray(0, 64)).trimStart();
  if (text.startsWith(ARMOR_BEGIN)) file = age.armor.decode(new TextDecoder().decode(file));
  await writeStdout(await d.decrypt(file));
});
