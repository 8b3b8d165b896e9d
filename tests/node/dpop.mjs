// DPoP proofs (RFC 9449 §4) made by panva's jose: an implementation
// independent of Latchkey's, for tests/tests/rfc9449_dpop.rs.
// stdin:  {"key": <private JWK, or null for a new one>, "alg": "ES256",
//          "proofs": [{"htm", "htu", "access_token"?, "nonce"?}]}
// stdout: {"key": <private JWK>, "jkt": <RFC 7638 thumbprint>, "proofs": [...]}
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';

let text = '';
for await (const chunk of process.stdin) text += chunk;
const input = JSON.parse(text);
const alg = input.alg ?? 'ES256';
let privateJwk = input.key;
if (!privateJwk) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  privateJwk = await exportJWK(privateKey);
}
const { d, p, q, dp, dq, qi, ...publicJwk } = privateJwk;
const key = await importJWK(privateJwk, alg);
const proofs = [];
for (const want of input.proofs) {
  const claims = { htm: want.htm, htu: want.htu };
  if (want.access_token) claims.ath = base64url.encode(createHash('sha256').update(want.access_token).digest());
  if (want.nonce) claims.nonce = want.nonce;
  const proof = new SignJWT(claims).setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: publicJwk });
  proofs.push(await proof.setIssuedAt().setJti(randomUUID()).sign(key));
}
process.stdout.write(JSON.stringify({ key: privateJwk, jkt: await calculateJwkThumbprint(publicJwk), proofs }));
