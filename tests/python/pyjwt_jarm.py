"""Verifies JARM responses with PyJWT, an independent JOSE library.

Usage: pyjwt_jarm.py JWKS_URL ISSUER CLIENT_ID RESPONSE_JWT...

Each response JWT is verified as an app would: the key is taken from the
issuer's JWKS by `kid` (PyJWKClient), the signature checked with RS256 only,
`iss`, `aud` and `exp` required and checked. A JWT whose payload was altered
must be refused. Prints one JSON line: the verified claims of each response,
and whether the altered one was refused.
"""

import base64
import json
import sys

import jwt


def verify(jwks, issuer, client_id, token):
    key = jwks.get_signing_key_from_jwt(token).key
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=client_id,
        issuer=issuer,
        options={"require": ["iss", "aud", "exp"]},
    )


def altered(token):
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["state"] = "changed"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return ".".join([header, body, signature])


def main():
    jwks_url, issuer, client_id, *tokens = sys.argv[1:]
    jwks = jwt.PyJWKClient(jwks_url)
    verified = [verify(jwks, issuer, client_id, t) for t in tokens]
    try:
        verify(jwks, issuer, client_id, altered(tokens[0]))
        refused = False
    except jwt.InvalidSignatureError:
        refused = True
    print(json.dumps({"verified": verified, "altered_refused": refused}))


if __name__ == "__main__":
    main()
