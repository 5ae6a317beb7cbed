// A real OpenID Connect provider for the workspace's browser tests: npm's
// oidc-provider (a certified implementation), set up the way ProConnect
// behaves towards a relying party: authorization code flow with PKCE
// required, `client_secret_post`, id_token and userinfo signed (RS256, the
// userinfo answer as `application/jwt`), the claims email, given_name,
// usual_name, siret and uid, and RP-initiated logout.
//
// Whoever types an e-mail at its login page (its development login form;
// any password) is that person, with the SIRET below.
//
// For the refusals, a test may ask that the next token (or userinfo)
// answer be forged: POST /__test__/forge?mode=MODE, where MODE is
//   nonce     the id_token's nonce changed, signed with the provider's key
//   audience  the id_token issued for another client, signed with its key
//   key       the id_token signed by another key under the same key id
//   expired   the id_token expired an hour ago, signed with its key
//   issuer    the id_token issued by another provider, signed with its key
//   userinfo  the userinfo JWT signed by another key under the same key id
//   rotate    the provider rotates its keys: the id_token signed by a new key
//             under a new key id, which its JWKS publishes from then on
//   hold      the next answer (the redirect to the service with code and
//             state) not sent: GET /__test__/held gives its address
// Started by scripts/browser:
//   OIDC_PORT=… AVIP_URL=… node tests/browser/provider.mjs
import { Provider } from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.env.OIDC_PORT);
const avip = process.env.AVIP_URL;
if (!port || !avip) throw new Error('OIDC_PORT and AVIP_URL must be set');
const issuer = `http://127.0.0.1:${port}`;
const CLIENT_ID = 'avip-tests';
const CLIENT_SECRET = 'avip-tests-secret-0123456789abcdef';
const SIRET = '13000548100010';

async function signingKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid: 'avip-tests-1', alg: 'RS256', use: 'sig' };
}
const key = await signingKey();
// Another key under the same id: what a forger without the provider's key
// would sign with.
const otherKey = await signingKey();
// The key a rotation brings, under its own id.
const newKey = { ...(await signingKey()), kid: 'avip-tests-2' };
let rotated = false;
const publicPart = ({ d, p, q, dp, dq, qi, ...rest }) => rest;

let forge = null;
let held = null;

async function resign(jwt, change, withKey) {
  const payload = { ...jose.decodeJwt(jwt), ...change };
  const header = jose.decodeProtectedHeader(jwt);
  return new jose.SignJWT(payload)
    .setProtectedHeader({ alg: header.alg, kid: header.kid, typ: header.typ })
    .sign(await jose.importJWK(withKey, 'RS256'));
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [`${avip}/app/connexion/proconnect/retour`],
    post_logout_redirect_uris: [`${avip}/app/deconnexion/fin`],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
    userinfo_signed_response_alg: 'RS256',
  }],
  clientAuthMethods: ['client_secret_post'],
  jwks: { keys: [key] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'given_name', 'usual_name', 'siret', 'uid'],
  claims: {
    openid: ['sub'],
    email: ['email'],
    given_name: ['given_name'],
    usual_name: ['usual_name'],
    siret: ['siret'],
    uid: ['uid'],
  },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, given_name: 'Agente', usual_name: 'Test', siret: SIRET, uid: id };
      },
    };
  },
  // No consent screen: ProConnect asks none of agents.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email given_name usual_name siret uid');
    await grant.save();
    return grant;
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test__/forge' && ctx.method === 'POST') {
    forge = ctx.query.mode || null;
    ctx.body = { forge };
    return;
  }
  if (ctx.path === '/__test__/held' && ctx.method === 'GET') {
    ctx.body = { held };
    held = null;
    return;
  }
  await next();
  const location = String(ctx.response.get('Location') ?? '');
  if (forge === 'hold' && location.startsWith(`${avip}/app/connexion/proconnect/retour`)) {
    held = location;
    forge = null;
    ctx.status = 200;
    ctx.type = 'text/plain';
    ctx.body = 'answer held by the test';
    ctx.remove('Location');
    return;
  }
  if ((!forge && !rotated) || ctx.status !== 200) return;
  if (ctx.path === '/jwks' && rotated && Array.isArray(ctx.body?.keys)) {
    ctx.body.keys.push(publicPart(newKey));
    return;
  }
  if (ctx.path === '/token' && ctx.body?.id_token && forge === 'rotate') {
    rotated = true;
    const payload = jose.decodeJwt(ctx.body.id_token);
    ctx.body.id_token = await new jose.SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: newKey.kid, typ: 'JWT' })
      .sign(await jose.importJWK(newKey, 'RS256'));
    forge = null;
  } else if (ctx.path === '/token' && ctx.body?.id_token) {
    const now = Math.floor(Date.now() / 1000);
    const change = {
      nonce: { nonce: 'x'.repeat(43) },
      audience: { aud: 'another-client' },
      key: {},
      expired: { iat: now - 7200, exp: now - 3600 },
      issuer: { iss: 'https://another-provider.example' },
    }[forge];
    if (change) {
      ctx.body.id_token = await resign(ctx.body.id_token, change, forge === 'key' ? otherKey : key);
      forge = null;
    }
  } else if (ctx.path === '/me' && forge === 'userinfo' && typeof ctx.body === 'string') {
    ctx.body = await resign(ctx.body, {}, otherKey);
    forge = null;
  }
});

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider on ${issuer}`));
