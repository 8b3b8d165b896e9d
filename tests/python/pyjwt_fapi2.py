"""A FAPI 2.0 client made with PyJWT and cryptography, independent of Latchkey.

Usage:
  pyjwt_fapi2.py push   ISSUER CLIENT_ID CLIENT_KEY_PEM KID STATE_FILE
  pyjwt_fapi2.py redeem ISSUER CLIENT_ID CLIENT_KEY_PEM KID STATE_FILE CODE

push: makes a DPoP key (P-256) and a PKCE verifier, signs a request object
(RFC 9101, ES256) holding the whole authorization request, and pushes it to
/par (RFC 9126) with a private_key_jwt assertion (RFC 7523, aud = the
issuer) and a DPoP proof (RFC 9449); then pushes a new request object with the
same proof again, which must be refused (the proof's jti is spent). Keeps the DPoP key and the verifier in
STATE_FILE. Prints {"request_uri", "replay_status", "replay_error"}.

redeem: redeems CODE at /token with an assertion and a new proof by the
same DPoP key; first without a proof (must be refused). Prints the token
response, the refused answer's error, and the DPoP key's RFC 7638
thumbprint.
"""

import base64
import hashlib
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_jwk(key):
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big"))}


def thumbprint(jwk):
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


def assertion(issuer, client_id, pem, kid):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": issuer, "iat": now, "exp": now + 60, "jti": secrets.token_urlsafe(16)}
    return jwt.encode(claims, pem, algorithm="ES256", headers={"kid": kid})


def proof(key, method, url):
    claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
    return jwt.encode(claims, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})


def post(url, form, headers):
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def request_object(issuer, client_id, pem, kid, verifier):
    """The whole authorization request as a signed request object (RFC 9101)."""
    now = int(time.time())
    return jwt.encode(
        {
            "iss": client_id,
            "aud": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(16),
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "https://app.example/cb",
            "scope": "openid",
            "state": "fapi-state",
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": b64(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        },
        pem,
        algorithm="ES256",
        headers={"kid": kid},
    )


def push(issuer, client_id, pem, kid, state_file):
    dpop_key = ec.generate_private_key(ec.SECP256R1())
    verifier = secrets.token_urlsafe(48)
    form = {
        "client_id": client_id,
        "request": request_object(issuer, client_id, pem, kid, verifier),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(issuer, client_id, pem, kid),
    }
    dpop = proof(dpop_key, "POST", issuer + "/par")
    status, body = post(issuer + "/par", form, {"DPoP": dpop})
    assert status == 201, (status, body)
    # A new request object and assertion, the same proof: its jti is spent.
    form["request"] = request_object(issuer, client_id, pem, kid, verifier)
    form["client_assertion"] = assertion(issuer, client_id, pem, kid)
    replay_status, replay = post(issuer + "/par", form, {"DPoP": dpop})
    key_pem = dpop_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with open(state_file, "w") as f:
        json.dump({"dpop_key": key_pem, "verifier": verifier}, f)
    print(json.dumps({"request_uri": body["request_uri"], "replay_status": replay_status, "replay_error": replay.get("error")}))


def redeem(issuer, client_id, pem, kid, state_file, code):
    with open(state_file) as f:
        state = json.load(f)
    dpop_key = serialization.load_pem_private_key(state["dpop_key"].encode(), None)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://app.example/cb",
        "code_verifier": state["verifier"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(issuer, client_id, pem, kid),
    }
    refused_status, refused = post(issuer + "/token", form, {})
    form["client_assertion"] = assertion(issuer, client_id, pem, kid)
    status, body = post(issuer + "/token", form, {"DPoP": proof(dpop_key, "POST", issuer + "/token")})
    assert status == 200, (status, body)
    print(json.dumps({"tokens": body, "without_proof": [refused_status, refused.get("error")], "jkt": thumbprint(public_jwk(dpop_key))}))


def main():
    command, issuer, client_id, pem_path, kid, state_file, *rest = sys.argv[1:]
    with open(pem_path, "rb") as f:
        pem = f.read()
    if command == "push":
        push(issuer, client_id, pem, kid, state_file)
    else:
        redeem(issuer, client_id, pem, kid, state_file, rest[0])


if __name__ == "__main__":
    main()
