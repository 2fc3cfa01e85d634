// open.js: libsodium's crypto_box_seal_open. stdin: {"publicKey",
// "secretKey", "sealed"} in standard base64; stdout: the message in standard
// base64. Exits 1 when the box does not open.
'use strict';
const sodium = require('libsodium-wrappers');

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  await sodium.ready;
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const b64 = (s) => sodium.from_base64(s, sodium.base64_variants.ORIGINAL);
  let msg;
  try {
    msg = sodium.crypto_box_seal_open(b64(input.sealed), b64(input.publicKey), b64(input.secretKey));
  } catch (e) {
    process.stderr.write('crypto_box_seal_open: ' + e.message + '\n');
    process.exit(1);
  }
  process.stdout.write(sodium.to_base64(msg, sodium.base64_variants.ORIGINAL));
});
