// node-oidc-provider (the certified reference implementation) as an upstream
// identity provider for Latchkey's federation tests (tests/tests/federation_node.rs).
//
//   PORT=4000 REDIRECT_URI=http://127.0.0.1:8080/upstream/node/callback node upstream.mjs
//
// Development interactions: any login name and any password sign in; the
// account's claims are derived from the login name (email verified).
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT);
const REDIRECT_URI = process.env.REDIRECT_URI;
const ISSUER = `http://localhost:${PORT}`;

const configuration = {
  clients: [{
    client_id: 'latchkey',
    client_secret: 'latchkey-test-secret-0123456789',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // displayName and roles: non-standard claims (as Entra and others name
  // them) for Latchkey's claim mapping.
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'displayName', 'roles'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@node.example`,
          email_verified: true,
          name: `Node ${id}`,
          displayName: `${id} (Node)`,
          // One name Latchkey cannot keep (white space): dropped, not fatal.
          roles: ['node-staff', `${id}-team`, 'not a group'],
        };
      },
    };
  },
  cookies: { keys: ['latchkey-test-cookie-key-0123456789'] },
  features: { devInteractions: { enabled: true } },
};

const provider = new Provider(ISSUER, configuration);
provider.listen(PORT, '127.0.0.1', () => {
  console.log(`upstream listening on ${ISSUER}`);
});
