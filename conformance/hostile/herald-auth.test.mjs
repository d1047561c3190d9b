// JWT attacks against the real `herald` binary: alg none (any spelling), HS/RS confusion
// (the RSA public key used as an HMAC secret), algorithms outside the site's list, keys
// smuggled in the header (jwk, jku, kid), expired and not-yet-valid tokens, tampered
// signatures and payloads, tokens of another site, wrong iss/aud, missing or odd claims,
// malformed and huge tokens, a bad token next to a good one. Each refused client gets
// CONNECT_ERROR with the exact reason and receives nothing; after each case a
// well-behaved client connects and receives a push.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createSign, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { io } from "socket.io-client";
import { REPO, startHerald, signJwt, now, sleep } from "../herald/support.mjs";
import { PROMPT_MS, assertHeraldHealthy, withTimeout } from "./support.mjs";

const KEY = "hostile-auth-key-0123456789abcdef";
const SECRET = "hostile-auth-secret-that-is-long-enough-0123";
const OTHER_SECRET = "another-site-secret-that-is-long-enough-9876";
const TESTDATA = path.join(REPO, "server/src/auth/testdata");
const RSA_PUBLIC = readFileSync(path.join(TESTDATA, "rsa_public.pem"), "utf8");
const RSA_PRIVATE = readFileSync(path.join(TESTDATA, "rsa_private.pem"), "utf8");
const ISS = "herald-tests";
const AUD = "hostile";

let h;
before(async () => {
  h = await startHerald({
    config: `[[sites]]
name = "hs"
namespace = "/"
api_keys = ["${KEY}"]
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
issuer = "${ISS}"
audience = "${AUD}"

[[sites]]
name = "rs"
namespace = "/rs"
api_keys = ["rs-site-key-0123456789abcdef"]
[sites.auth]
mode = "jwt"
algorithms = ["RS256"]
public_key = "${path.join(TESTDATA, "rsa_public.pem")}"

[[sites]]
name = "other"
namespace = "/other"
api_keys = ["other-site-key-0123456789abcdef"]
[sites.auth]
mode = "jwt"
secret = "${OTHER_SECRET}"
`,
  });
});
after(async () => {
  await h?.stop();
});

const b64url = (x) => Buffer.from(x).toString("base64url");
const good = (extra = {}) => ({ sub: "mallory", iss: ISS, aud: AUD, exp: now() + 3600, ...extra });

/** An RS256 token signed with the test key pair's private key. */
function signRs256(claims, header = {}) {
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", ...header }));
  const body = b64url(JSON.stringify(claims));
  const sig = createSign("RSA-SHA256").update(`${head}.${body}`).sign(RSA_PRIVATE);
  return `${head}.${body}.${b64url(sig)}`;
}

/** A token with this exact header and claims, HMAC-SHA256 signed with `secret`. */
function hmacRaw(headerJson, claims, secret = SECRET) {
  const head = b64url(headerJson);
  const body = b64url(JSON.stringify(claims));
  return `${head}.${body}.${b64url(createHmac("sha256", secret).update(`${head}.${body}`).digest())}`;
}

/**
 * Connects with `opts` and expects CONNECT_ERROR `message`; then pushes to everyone and to
 * the user room and checks the refused socket got nothing.
 */
async function refused(opts, message, nsp = "/") {
  const s = io(`${h.url}${nsp}`, { forceNew: true, reconnection: false, timeout: PROMPT_MS, ...opts });
  const events = [];
  s.onAny((...a) => events.push(a));
  try {
    const err = await withTimeout(
      new Promise((resolve, reject) => {
        s.once("connect", () => reject(new Error(`connected, expected "${message}"`)));
        s.once("connect_error", resolve);
      }),
      "connect_error",
    );
    assert.equal(err.message, message);
    const site = { "/": "hs", "/rs": "rs", "/other": "other" }[nsp];
    const key = { hs: KEY, rs: "rs-site-key-0123456789abcdef", other: "other-site-key-0123456789abcdef" }[site];
    for (const body of [{ event: "leak" }, { rooms: ["mallory"], event: "leak" }]) {
      const res = await fetch(`${h.url}/send?site=${site}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": key },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 202);
    }
    await sleep(100);
    assert.deepEqual(events, [], "a refused client receives nothing");
  } finally {
    s.close();
  }
  await healthy();
}

const healthy = () => assertHeraldHealthy(h, { token: h.token("healthy", "hs"), key: KEY, site: "hs", room: "healthy" });

describe("hostile auth: algorithms", () => {
  it("alg none is refused in every spelling, signed or not", async () => {
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      await refused({ auth: { token: await signJwt(good(), null, { alg }) } }, "algorithm not allowed");
    }
    // a `none` header with a real signature attached
    await refused({ auth: { token: hmacRaw('{"alg":"none","typ":"JWT"}', good()) } }, "algorithm not allowed");
  });

  it("HS256 signed with the RS site's public key (HS/RS confusion) is refused", async () => {
    await refused({ auth: { token: await signJwt({ sub: "mallory", exp: now() + 3600 }, RSA_PUBLIC) } }, "algorithm not allowed", "/rs");
    // a correctly signed RS256 token is accepted there (the case above is not refused by accident)
    const s = io(`${h.url}/rs`, { forceNew: true, reconnection: false, auth: { token: signRs256({ sub: "rsa-user", exp: now() + 3600 }) } });
    await withTimeout(new Promise((resolve, reject) => { s.once("connect", resolve); s.once("connect_error", reject); }), "RS256 connect");
    s.close();
  });

  it("an RS256 token on the HS site, and HS384/HS512 where only HS256 is allowed, are refused", async () => {
    await refused({ auth: { token: signRs256(good()) } }, "algorithm not allowed");
    for (const alg of ["HS384", "HS512"]) {
      await refused({ auth: { token: await signJwt(good(), SECRET, { alg }) } }, "algorithm not allowed");
    }
  });

  it("keys smuggled in the header (jwk, jku, x5u, kid) are never used", async () => {
    const attacker = "attacker-chosen-secret-0123456789abcdef";
    const jwk = { kty: "oct", k: b64url(attacker) };
    for (const header of [{ jwk }, { jku: "http://127.0.0.1:1/keys" }, { x5u: "http://127.0.0.1:1/cert" }, { kid: "../../../../dev/null" }]) {
      await refused({ auth: { token: await signJwt(good(), attacker, { header }) } }, "invalid signature");
    }
    // kid pointing at an empty key, signed with the empty string
    await refused({ auth: { token: hmacRaw('{"alg":"HS256","kid":"/dev/null"}', good(), "") } }, "invalid signature");
  });

  it("a header with alg missing, not a string, or not JSON is a malformed token", async () => {
    for (const header of ['{"typ":"JWT"}', '{"alg":256}', '{"alg":["HS256"]}', "not json", "[]", '{"alg":"HS256"'] ) {
      await refused({ auth: { token: hmacRaw(header, good()) } }, "malformed token");
    }
  });
});

describe("hostile auth: signatures and claims", () => {
  it("a tampered signature or payload is an invalid signature", async () => {
    const token = await signJwt(good(), SECRET);
    const [head, body, sig] = token.split(".");
    const bytes = Buffer.from(sig, "base64url");
    bytes[5] ^= 1;
    await refused({ auth: { token: `${head}.${body}.${b64url(bytes)}` } }, "invalid signature");
    await refused({ auth: { token: `${head}.${b64url(JSON.stringify(good({ sub: "admin" })))}.${sig}` } }, "invalid signature");
    await refused({ auth: { token: `${head}.${body}.` } }, "invalid signature");
  });

  it("a token of another site is an invalid signature, both ways", async () => {
    await refused({ auth: { token: h.token("mallory", "other") } }, "invalid signature");
    await refused({ auth: { token: h.token("mallory", "hs") } }, "invalid signature", "/other");
  });

  it("expired and not-yet-valid tokens are refused with their reasons", async () => {
    await refused({ auth: { token: await signJwt(good({ exp: now() - 60 }), SECRET) } }, "token expired");
    await refused({ auth: { token: await signJwt(good({ exp: now() }), SECRET) } }, "token expired");
    await refused({ auth: { token: await signJwt(good({ nbf: now() + 600 }), SECRET) } }, "token not yet valid");
  });

  it("missing exp or sub, wrong iss or aud are refused with their reasons", async () => {
    const { exp, ...noExp } = good();
    assert.ok(exp);
    await refused({ auth: { token: await signJwt(noExp, SECRET) } }, "missing exp");
    await refused({ auth: { token: await signJwt(good({ sub: "" }), SECRET) } }, "missing sub");
    await refused({ auth: { token: await signJwt(good({ sub: undefined }), SECRET) } }, "missing sub");
    await refused({ auth: { token: await signJwt(good({ iss: "someone-else" }), SECRET) } }, "invalid issuer");
    await refused({ auth: { token: await signJwt(good({ iss: undefined }), SECRET) } }, "invalid issuer");
    await refused({ auth: { token: await signJwt(good({ aud: "elsewhere" }), SECRET) } }, "invalid audience");
    await refused({ auth: { token: await signJwt(good({ aud: ["a", "b"] }), SECRET) } }, "invalid audience");
  });

  it("claims of the wrong type are refused, never coerced", async () => {
    for (const [claims, message] of [
      [good({ exp: "9999999999" }), "invalid exp claim"],
      [good({ exp: -1 }), "invalid exp claim"],
      [good({ exp: 1e300 }), "invalid exp claim"],
      [good({ nbf: "0" }), "invalid nbf claim"],
    ]) {
      await refused({ auth: { token: await signJwt(claims, SECRET) } }, message);
    }
  });

  it("a sub that is not a string is an invalid sub claim", async () => {
    for (const sub of [42, { id: 1 }]) {
      await refused({ auth: { token: await signJwt(good({ sub }), SECRET) } }, "invalid sub claim");
    }
  });
});

describe("hostile auth: token shapes and places", () => {
  it("malformed, empty and huge tokens are refused", async () => {
    for (const token of ["", "a.b", "a.b.c.d", "..", "...", "\u0000.\u0000.\u0000", "é.é.é", "x".repeat(100_000)]) {
      await refused({ auth: { token } }, token === "" ? "missing token" : "malformed token");
    }
  });

  it("a token that is not a string in the auth payload is refused", async () => {
    for (const token of [42, null, { token: "nested" }, ["a.b.c"], true]) {
      const s = io(h.url, { forceNew: true, reconnection: false, auth: { token } });
      const err = await withTimeout(new Promise((resolve, reject) => { s.once("connect", () => reject(new Error("connected"))); s.once("connect_error", resolve); }), "connect_error");
      assert.match(err.message, /^(missing token|malformed token)$/, JSON.stringify(token));
      s.close();
    }
    await healthy();
  });

  it("a bad token in the auth payload does not fall back to a good one in the query", async () => {
    await refused({ auth: { token: "bad.token.here" }, query: { token: h.token("mallory", "hs") } }, "malformed token");
  });

  it("a refused CONNECT can be retried with a good token on the same connection", async () => {
    const s = io(h.url, { forceNew: true, reconnection: false, auth: { token: "bad" } });
    await withTimeout(new Promise((resolve) => s.once("connect_error", resolve)), "connect_error");
    s.auth = { token: h.token("retry", "hs") };
    s.connect();
    await withTimeout(new Promise((resolve, reject) => { s.once("connect", resolve); s.once("connect_error", reject); }), "connect on retry");
    s.close();
    await healthy();
  });
});
