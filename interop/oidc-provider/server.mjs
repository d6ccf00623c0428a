// A local OpenID Connect provider for lucia-oauth's flow tests: the certified `oidc-provider`
// on a loopback port, one confidential client, PKCE required, and its development login and
// consent pages (any login and password; the login becomes the account's `sub`). Each start
// signs with a new RSA key under a new key id, so a restart on the same port is a key rotation.
//
// Usage: node server.mjs <port> <redirect-uri>   (or PORT and REDIRECT_URI in the environment)
// With EMAIL_IN_ID_TOKEN=1 the ID token carries the email claims and there is no user-info
// endpoint; by default (as the spec has it for the code flow) they come from user-info only.
// Prints "listening <issuer>" once it accepts connections.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.PORT);
const redirectUri = process.argv[3] ?? process.env.REDIRECT_URI;
if (!Number.isInteger(port) || port <= 0 || !redirectUri) {
  console.error('usage: node server.mjs <port> <redirect-uri>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const emailInIdToken = process.env.EMAIL_IN_ID_TOKEN === '1';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'lucia-test',
      // Test-only credentials of a provider that listens on loopback for one test run.
      client_secret: 'lucia-test-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // An account per login name; a login starting with "unverified" has an unverified email.
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: !id.startsWith('unverified') };
      },
    };
  },
  jwks: { keys: [signingKey] },
  cookies: { keys: ['lucia-oauth-test-cookie-key'] },
  conformIdTokenClaims: !emailInIdToken,
  features: { devInteractions: { enabled: true }, userinfo: { enabled: !emailInIdToken } },
});
// Development warnings (dev interactions, in-memory storage) are expected here.
provider.on('server_error', (_ctx, error) => console.error('server_error', error));

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
