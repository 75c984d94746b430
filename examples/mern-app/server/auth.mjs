// Accounts: passwords hashed and verified by heavylift (argon2id under the
// app's policy), JWT sessions signed and verified by heavylift with the key
// in its JWKS file. The same token authenticates the browser's Socket.IO
// connection to heavylift's hub, which reads the key from the same file.
import { Router } from 'express';

import { HttpError } from './errors.mjs';

const NAME_PATTERN = /^[a-z0-9_-]{3,32}$/;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 256;
// Verified tokens are remembered until they expire (at most this many), so
// reads keep working while heavylift restarts.
const VERIFIED_CACHE_SIZE = 10_000;

// Log-in accepts any non-empty password up to the maximum, so accounts made
// under an older, shorter minimum can still log in.
function checkCredentials(body, { minPassword = PASSWORD_MIN } = {}) {
  const name = typeof body?.name === 'string' ? body.name.trim().toLowerCase() : '';
  const password = typeof body?.password === 'string' ? body.password : '';
  if (!NAME_PATTERN.test(name)) {
    throw new HttpError(400, `name must be 3 to 32 characters of a-z, 0-9, _ or -; got ${JSON.stringify(body?.name ?? null)}`, { field: 'name' });
  }
  if (password.length < minPassword || password.length > PASSWORD_MAX) {
    throw new HttpError(400, `password must be ${minPassword} to ${PASSWORD_MAX} characters; got ${password.length}`, { field: 'password' });
  }
  return { name, password };
}

/**
 * Returns the auth router and `requireUser`, the middleware that sets
 * `request.user` to `{ id, name }` from the Bearer token.
 */
export function createAuth({ client, models, config, record }) {
  const verified = new Map();

  async function issueToken(user) {
    return client.crypto.jwt.sign(
      { sub: String(user._id), name: user.name, rooms: ['activity'] },
      { keyId: config.jwtKeyId, expiresInSeconds: config.sessionSeconds },
    );
  }

  async function requireUser(request, _response, next) {
    try {
      const header = request.get('authorization') ?? '';
      const token = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!token) throw new HttpError(401, 'Log in first: the request has no Bearer token.');
      const now = Date.now() / 1000;
      let claims = verified.get(token);
      if (!claims || claims.expiresAt <= now) {
        verified.delete(token);
        const result = await client.crypto.jwt.verify(token);
        claims = { id: result.subject, name: String(result.claims.name ?? ''), expiresAt: result.expiresAt ?? now };
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value);
        verified.set(token, claims);
      }
      request.user = { id: claims.id, name: claims.name };
      next();
    } catch (error) {
      next(error);
    }
  }

  const router = Router();

  router.post('/signup', async (request, response) => {
    const { name, password } = checkCredentials(request.body);
    if (await models.User.exists({ name })) throw new HttpError(409, `The name ${name} is taken.`, { field: 'name' });
    const passwordHash = await client.crypto.password.hash(password, config.passwordPolicy, { normalize: 'NFC' });
    let user;
    try {
      user = await models.User.create({ name, passwordHash });
    } catch (error) {
      if (error?.code === 11000) throw new HttpError(409, `The name ${name} is taken.`, { field: 'name' });
      throw error;
    }
    await record(user, 'signup');
    response.status(201).json({ token: await issueToken(user), user: { id: String(user._id), name } });
  });

  router.post('/login', async (request, response) => {
    const { name, password } = checkCredentials(request.body, { minPassword: 1 });
    const user = await models.User.findOne({ name });
    // The same response for an unknown name and a wrong password.
    const ok = user ? await client.crypto.password.verify(user.passwordHash, password, { normalize: 'NFC' }) : false;
    if (!ok) throw new HttpError(401, 'Wrong name or password.');
    // Hashes made under an older policy (other algorithm, lower costs) are
    // replaced now, while the plain password is at hand.
    const advice = await client.crypto.password.needsRehash(user.passwordHash, config.passwordPolicy);
    if (advice.needsRehash) {
      user.passwordHash = await client.crypto.password.hash(password, config.passwordPolicy, { normalize: 'NFC' });
      await user.save();
    }
    await record(user, 'login');
    response.json({
      token: await issueToken(user),
      user: { id: String(user._id), name: user.name },
      rehashed: advice.needsRehash ? advice.reason : undefined,
    });
  });

  router.get('/me', requireUser, (request, response) => {
    response.json({ user: request.user });
  });

  return { router, requireUser };
}
