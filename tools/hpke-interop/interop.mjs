// HPKE interop: @hpke/core (Node) against the C implementation (src/hpke),
// through the test-only program tests/hpke_interop_peer.c.
//
//   node interop.mjs <path to hpke_interop_peer>
//
// For DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 with AES-256-GCM (the suite
// RFC 9180 has no test vector for), ChaCha20-Poly1305 and AES-128-GCM, in
// modes base and psk, several message sizes:
//   Node seals  -> C opens   (plaintext and exported secret must match)
//   C seals     -> Node opens
// and a tampered ciphertext must be refused by both sides.
// Exits non-zero on the first mismatch.
import { execFileSync } from "node:child_process";
import { webcrypto, randomBytes } from "node:crypto";
import {
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";

// Node 18 has no global WebCrypto by default; @hpke/core needs it.
globalThis.crypto ??= webcrypto;

const peer = process.argv[2];
if (!peer) {
  console.error("usage: node interop.mjs <hpke_interop_peer>");
  process.exit(2);
}

const hex = (b) => (b.length === 0 ? "-" : Buffer.from(b).toString("hex"));
const unhex = (s) => (s === "-" ? new Uint8Array(0) : new Uint8Array(Buffer.from(s, "hex")));
const equal = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

function runPeer(args) {
  return execFileSync(peer, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    .trim()
    .split(" ");
}

function peerFails(args) {
  try {
    execFileSync(peer, args, { stdio: ["ignore", "pipe", "pipe"] });
    return false;
  } catch (e) {
    return e.status === 1;
  }
}

let checks = 0;
function check(cond, what) {
  if (!cond) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
  checks++;
}

const aeads = [
  { id: 2, name: "AES-256-GCM", make: () => new Aes256Gcm() },
  { id: 3, name: "ChaCha20-Poly1305", make: () => new Chacha20Poly1305() },
  { id: 1, name: "AES-128-GCM", make: () => new Aes128Gcm() },
];
const sizes = [0, 1, 1000, 20000];

for (const aead of aeads) {
  const suite = new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: aead.make(),
  });
  for (const mode of ["base", "psk"]) {
    for (const size of sizes) {
      const tag = `${aead.name} ${mode} ${size} B`;
      const info = new Uint8Array(randomBytes(20));
      const aad = new Uint8Array(randomBytes(size % 7));
      const pt = new Uint8Array(randomBytes(size));
      const expCtx = new Uint8Array(randomBytes(9));
      const psk = mode === "psk" ? { id: new Uint8Array(randomBytes(12)), key: new Uint8Array(randomBytes(32)) } : undefined;
      const pskArgs = psk ? [hex(psk.key), hex(psk.id)] : [];

      // Node seals, C opens.
      const [skHex, pkHex] = runPeer(["keygen"]);
      const pkR = await suite.kem.deserializePublicKey(unhex(pkHex).buffer);
      const sender = await suite.createSenderContext({ recipientPublicKey: pkR, info, psk });
      const ct = new Uint8Array(await sender.seal(pt, aad));
      const nodeExport = new Uint8Array(await sender.export(expCtx, 32));
      const enc = new Uint8Array(sender.enc);
      const [ptHex, cExport] = runPeer(["open", String(aead.id), skHex, hex(enc), hex(info), hex(aad), hex(ct), hex(expCtx), ...pskArgs]);
      check(equal(unhex(ptHex), pt), `${tag}: C opened a different plaintext`);
      check(equal(unhex(cExport), nodeExport), `${tag}: exported secrets differ (Node sender)`);
      const bad = new Uint8Array(ct);
      bad[bad.length - 1] ^= 1;
      check(peerFails(["open", String(aead.id), skHex, hex(enc), hex(info), hex(aad), hex(bad), hex(expCtx), ...pskArgs]),
            `${tag}: C accepted a tampered ciphertext`);

      // C seals, Node opens.
      const rkp = await suite.kem.generateKeyPair();
      const myPk = new Uint8Array(await suite.kem.serializePublicKey(rkp.publicKey));
      const [encHex, ctHex, cExport2] = runPeer(["seal", String(aead.id), hex(myPk), hex(info), hex(aad), hex(pt), hex(expCtx), ...pskArgs]);
      const recipient = await suite.createRecipientContext({ recipientKey: rkp, enc: unhex(encHex).buffer, info, psk });
      const opened = new Uint8Array(await recipient.open(unhex(ctHex), aad));
      check(equal(opened, pt), `${tag}: Node opened a different plaintext`);
      const nodeExport2 = new Uint8Array(await recipient.export(expCtx, 32));
      check(equal(unhex(cExport2), nodeExport2), `${tag}: exported secrets differ (C sender)`);
      const bad2 = unhex(ctHex);
      bad2[0] ^= 0x80;
      const recipient2 = await suite.createRecipientContext({ recipientKey: rkp, enc: unhex(encHex).buffer, info, psk });
      let refused = false;
      try {
        await recipient2.open(bad2, aad);
      } catch {
        refused = true;
      }
      check(refused, `${tag}: Node accepted a tampered ciphertext`);
    }
  }
  console.log(`ok: ${aead.name}: Node->C and C->Node, modes base and psk, sizes ${sizes.join(", ")}`);
}
console.log(`hpke interop: ${checks} checks passed`);
