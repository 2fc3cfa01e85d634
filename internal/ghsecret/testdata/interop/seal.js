// seal.js: libsodium's crypto_box_seal, the reference sealed box GitHub's
// docs use. stdin: {"publicKey": base64, "message": base64};
// stdout: the sealed box in standard base64.
'use strict';
const sodium = require('libsodium-wrappers');

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  await sodium.ready;
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const pk = sodium.from_base64(input.publicKey, sodium.base64_variants.ORIGINAL);
  const msg = sodium.from_base64(input.message, sodium.base64_variants.ORIGINAL);
  const sealed = sodium.crypto_box_seal(msg, pk);
  process.stdout.write(sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL));
});
