"""private_key_jwt with authlib, an independent OAuth client library.

Usage: authlib_private_key_jwt.py TOKEN_URL CLIENT_ID PRIVATE_KEY_PEM KID

1. authlib's OAuth2Session fetches a client_credentials token, authenticating
   with an assertion authlib builds and signs itself;
2. one assertion made with authlib's private_key_jwt_sign is sent twice: the
   replay must be refused;
3. a fresh session works again.
Prints one JSON line with what happened; the Rust test checks it.
"""

import base64
import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def public_modulus(pem):
    """The key's RSA modulus, base64url: which key authlib signed with."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    n = load_pem_private_key(pem, None).public_key().public_numbers().n
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode().rstrip("=")


def session(token_url, client_id, key, kid):
    auth = PrivateKeyJWT(token_url, headers={"kid": kid}, alg="RS256")
    return OAuth2Session(client_id, key, token_endpoint_auth_method=auth, scope="api:read")


def main():
    token_url, client_id, pem_path, kid = sys.argv[1:5]
    with open(pem_path, "rb") as f:
        key = f.read()

    token = session(token_url, client_id, key, kid).fetch_token(token_url, grant_type="client_credentials")

    assertion = private_key_jwt_sign(key, client_id, token_url, alg="RS256", header={"kid": kid})
    if isinstance(assertion, bytes):
        assertion = assertion.decode()
    form = {
        "grant_type": "client_credentials",
        "scope": "api:read",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    first = requests.post(token_url, data=form, timeout=10)
    replay = requests.post(token_url, data=form, timeout=10)

    fresh = session(token_url, client_id, key, kid).fetch_token(token_url, grant_type="client_credentials")

    print(
        json.dumps(
            {
                "token": dict(token),
                "key_n": public_modulus(key),
                "first_status": first.status_code,
                "replay_status": replay.status_code,
                "replay_error": replay.json().get("error"),
                "fresh_status": 200 if fresh.get("access_token") else 0,
            }
        )
    )
    if first.status_code != 200:
        sys.exit(f"the first use of the assertion failed: {first.status_code} {first.text}")


if __name__ == "__main__":
    main()
