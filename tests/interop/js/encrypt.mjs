// Usage: node encrypt.mjs [--armor] (--recipient R ... | --passphrase-env VAR [--work-factor N])
// Reads the plaintext on stdin and writes the age file to stdout.
import process from "node:process";
import { parseArgs } from "node:util";
import * as age from "age-encryption";
import { main, readStdin, writeStdout } from "./io.mjs";

main(async () => {
  const { values } = parseArgs({
    options: {
      armor: { type: "boolean", default: false },
      recipient: { type: "string", multiple: true, default: [] },
      "passphrase-env": { type: "string" },
      "work-factor": { type: "string" },
    },
  });
  const e = new age.Encrypter();
  if (values["passphrase-env"] !== undefined) {
    e.setPassphrase(process.env[values["passphrase-env"]] ?? "");
    if (values["work-factor"] !== undefined) e.setScryptWorkFactor(Number(values["work-factor"]));
  }
  for (const r of values.recipient) e.addRecipient(r);
  const ciphertext = await e.encrypt(await readStdin());
  await writeStdout(values.armor ? age.armor.encode(ciphertext) : ciphertext);
});
