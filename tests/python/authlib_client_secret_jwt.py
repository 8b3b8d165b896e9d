"""client_secret_jwt with authlib, an independent OAuth client library.

Usage: authlib_client_secret_jwt.py TOKEN_URL CLIENT_ID CLIENT_SECRET

1. authlib's OAuth2Session fetches a client_credentials token, authenticating
   with an HS256 assertion authlib builds and signs with the client secret;
2. the same with HS512;
3. one assertion made with authlib's client_secret_jwt_sign is sent twice:
   the replay must be refused;
4. an assertion signed with a wrong secret is refused.
Prints one JSON line with what happened; the Rust test checks it.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import ClientSecretJWT, client_secret_jwt_sign

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def session(token_url, client_id, secret, alg):
    auth = ClientSecretJWT(token_url, alg=alg)
    return OAuth2Session(client_id, secret, token_endpoint_auth_method=auth, scope="api:read")


def post_assertion(token_url, assertion):
    if isinstance(assertion, bytes):
        assertion = assertion.decode()
    form = {
        "grant_type": "client_credentials",
        "scope": "api:read",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    return form


def main():
    token_url, client_id, secret = sys.argv[1:4]

    hs256 = session(token_url, client_id, secret, "HS256").fetch_token(token_url, grant_type="client_credentials")
    hs512 = session(token_url, client_id, secret, "HS512").fetch_token(token_url, grant_type="client_credentials")

    form = post_assertion(token_url, client_secret_jwt_sign(secret, client_id, token_url))
    first = requests.post(token_url, data=form, timeout=10)
    replay = requests.post(token_url, data=form, timeout=10)

    wrong = requests.post(
        token_url,
        data=post_assertion(token_url, client_secret_jwt_sign(secret[::-1], client_id, token_url)),
        timeout=10,
    )

    print(
        json.dumps(
            {
                "hs256_token": dict(hs256),
                "hs512_status": 200 if hs512.get("access_token") else 0,
                "first_status": first.status_code,
                "replay_status": replay.status_code,
                "replay_error": replay.json().get("error"),
                "wrong_status": wrong.status_code,
                "wrong_error": wrong.json().get("error"),
            }
        )
    )
    if first.status_code != 200:
        sys.exit(f"the first use of the assertion failed: {first.status_code} {first.text}")


if __name__ == "__main__":
    main()
