// What a frontend does first, through the client generated from the live /openapi.json: register,
// log in, refresh, write and find posts, upload an avatar and a cover, make an API key and use it,
// and tell two error answers apart by `ErrorResponse.code`. Run by .ci/client-check:
//   QUILL_BASE_URL=http://127.0.0.1:8000 node dist/flow.js
// One line per step, then `N passed, N failed` (`, N skipped` for steps an earlier failure left
// without what they need). Exit code 1 on any unexpected answer.

import { createClient, createConfig, type Client } from './generated/client/index.js';
import * as api from './generated/sdk.gen.js';
import type { ClientOptions, ErrorResponse } from './generated/types.gen.js';
import { check, expectError, expectStatus, UnexpectedAnswer } from './answers.js';
import { png } from './png.js';

const baseUrl: string = process.env.QUILL_BASE_URL ?? '';
if (!baseUrl) {
  console.error('set QUILL_BASE_URL, e.g. http://127.0.0.1:8000');
  process.exit(2);
}

type Credential = { bearer: string } | { apiKey: string };

// The SDK lists each operation's security alternatives (bearer, then X-API-Key); `auth` answers
// with the credential for the one this client holds and nothing for the other.
function clientFor(credential?: Credential): Client {
  return createClient(
    createConfig<ClientOptions>({
      baseUrl,
      auth: (scheme) => {
        if (credential === undefined) return undefined;
        if ('bearer' in credential) {
          return scheme.scheme === 'bearer' ? credential.bearer : undefined;
        }
        return scheme.type === 'apiKey' ? credential.apiKey : undefined;
      },
    }),
  );
}

// --- telling errors apart ------------------------------------------------------------------------

type Reaction =
  | 'offer-login'
  | 'show-field-errors'
  | 'sign-in-again'
  | 'slow-down'
  | 'pick-another-file'
  | 'not-allowed'
  | 'retry-later'
  | 'unexpected';

// `code` is an enum in the schema, so the generated type is a union of literals: the switch is
// exhaustive, and a code the server adds makes `tsc --strict` fail here until a page decides
// what to do with it (the `never` in the default branch).
function reactionTo(error: ErrorResponse): Reaction {
  const code = error.code;
  switch (code) {
    case 'EMAIL_TAKEN':
      return 'offer-login';
    case 'VALIDATION_FAILED':
    case 'PASSWORD_TOO_COMMON':
    case 'INVALID_FORM_FIELD':
    case 'NO_FILE':
    case 'TOO_MANY_FILES':
    case 'MALFORMED_MULTIPART':
    case 'BAD_REQUEST':
    case 'INVALID_CURRENT_PASSWORD':
    case 'INVALID_OR_EXPIRED_TOKEN':
    case 'SLUG_TAKEN': // the slug field: choose another
      return 'show-field-errors';
    case 'NOT_AUTHENTICATED':
    case 'INVALID_CREDENTIALS':
    case 'INVALID_TOKEN':
    case 'REAUTH_REQUIRED':
      return 'sign-in-again';
    case 'TOO_MANY_LOGIN_ATTEMPTS':
    case 'TOO_MANY_REQUESTS':
    case 'MAIL_THROTTLED':
    case 'RATE_LIMITED':
      return 'slow-down';
    case 'FILE_TOO_LARGE':
    case 'IMAGE_TOO_LARGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
    case 'QUOTA_EXCEEDED':
    case 'PAYLOAD_TOO_LARGE':
      return 'pick-another-file';
    case 'FORBIDDEN':
    case 'ADMIN_REQUIRED':
    case 'API_KEY_NOT_ALLOWED':
      return 'not-allowed';
    case 'SERVICE_UNAVAILABLE':
    case 'DATABASE_UNAVAILABLE':
    case 'STORAGE_UNAVAILABLE':
      return 'retry-later';
    case 'NOT_FOUND':
    case 'CONFLICT':
    case 'METHOD_NOT_ALLOWED':
    case 'NOT_ACCEPTABLE':
    case 'RANGE_NOT_SATISFIABLE':
    case 'INVALID_HOST':
    case 'INTERNAL_ERROR':
      return 'unexpected';
    default: {
      const unhandled: never = code;
      console.error(`  no case for code ${String(unhandled)}`);
      return 'unexpected';
    }
  }
}

function fileName(url: string | null | undefined): string {
  if (typeof url !== 'string' || !url.includes('/files/')) {
    throw new UnexpectedAnswer(`a /files/ URL, got ${url}`);
  }
  return url.slice(url.lastIndexOf('/') + 1);
}

// --- the flow ------------------------------------------------------------------------------------

const anonymous = clientFor();
const unique = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const email = `flow-${unique}@example.com`;
const password = `flow-check-${unique}-passphrase`;
const word = `quillflow${unique}`;

let user: { id: number } | undefined;
let tokens: { access_token: string; refresh_token: string } | undefined;
let session: Client | undefined;
let postId: number | undefined;
let apiKey: string | undefined;

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new SkippedStep();
  return value;
}

class SkippedStep extends Error {}

const steps: Array<[string, () => Promise<void>]> = [
  [
    'register',
    async () => {
      const created = await expectStatus(
        api.authRegister({ client: anonymous, body: { email, password, name: 'Flow' } }),
        201,
      );
      check(created.email === email, `the new account's email, got ${created.email}`);
      user = created;
    },
  ],
  [
    'register the same email again: 409 EMAIL_TAKEN',
    async () => {
      const error = await expectError(
        api.authRegister({ client: anonymous, body: { email, password, name: 'Again' } }),
        409,
      );
      check(reactionTo(error) === 'offer-login', `EMAIL_TAKEN, got ${error.code}`);
    },
  ],
  [
    'register with a bad email: 422 naming the field',
    async () => {
      const error = await expectError(
        api.authRegister({
          client: anonymous,
          body: { email: 'not-an-email', password, name: 'Bad' },
        }),
        422,
      );
      check(reactionTo(error) === 'show-field-errors', `VALIDATION_FAILED, got ${error.code}`);
      const fields = (error.errors ?? []).map((item) => item.field);
      check(
        fields.some((field) => field.includes('email')),
        `an error item for email, got ${fields}`,
      );
    },
  ],
  [
    'login',
    async () => {
      const pair = await expectStatus(
        api.authLogin({ client: anonymous, body: { email, password } }),
        200,
      );
      check(pair.user.id === need(user).id, 'login answers the registered user');
      tokens = pair;
    },
  ],
  [
    'refresh: a new pair, the old refresh token retired',
    async () => {
      const old = need(tokens);
      const pair = await expectStatus(
        api.authRefresh({ client: anonymous, body: { refresh_token: old.refresh_token } }),
        200,
      );
      check(pair.refresh_token !== old.refresh_token, 'a new refresh token');
      tokens = pair;
      session = clientFor({ bearer: pair.access_token });
    },
  ],
  [
    'GET /users/me with the refreshed access token',
    async () => {
      const me = await expectStatus(api.usersReadMe({ client: need(session) }), 200);
      check(me.id === need(user).id && me.email === email, 'the same account');
    },
  ],
  [
    'create a published post',
    async () => {
      const post = await expectStatus(
        api.postsCreatePost({
          client: need(session),
          body: {
            title: `Flow check ${word}`,
            content: `Written by the generated client, findable by **${word}**.`,
            published: true,
          },
        }),
        201,
      );
      check(post.published && post.author_id === need(user).id, 'published, by this user');
      postId = post.id;
    },
  ],
  [
    'list posts: the new one is there',
    async () => {
      const page = await expectStatus(
        api.postsListPosts({ client: anonymous, query: { author_id: need(user).id } }),
        200,
      );
      check(
        page.data.some((post) => post.id === need(postId)),
        'the post in its author\'s list',
      );
    },
  ],
  [
    'search posts by a word of the content',
    async () => {
      const page = await expectStatus(
        api.postsListPosts({ client: anonymous, query: { q: word } }),
        200,
      );
      const ids = page.data.map((post) => post.id);
      check(ids.length === 1 && ids[0] === need(postId), `exactly the new post, got ${ids}`);
    },
  ],
  [
    'upload an avatar, then fetch it',
    async () => {
      const me = await expectStatus(
        api.usersSetAvatar({ client: need(session), body: { file: png(64, [40, 120, 200]) } }),
        200,
      );
      const image = await expectStatus(
        api.filesGetFile({
          client: anonymous,
          path: { name: fileName(me.avatar_url) },
          parseAs: 'blob',
        }),
        200,
      );
      check(image instanceof Blob && image.size > 0, 'the avatar\'s bytes');
    },
  ],
  [
    'upload a cover for the post',
    async () => {
      const post = await expectStatus(
        api.postsSetCover({
          client: need(session),
          path: { post_id: need(postId) },
          body: { file: png(32, [200, 80, 40]) },
        }),
        200,
      );
      fileName(post.cover_image_url);
    },
  ],
  [
    'create an API key',
    async () => {
      const created = await expectStatus(
        api.usersCreateApiKey({ client: need(session), body: { name: 'flow check' } }),
        201,
      );
      check(created.key.startsWith(created.prefix), 'the key starts with its prefix');
      apiKey = created.key;
    },
  ],
  [
    'GET /users/me with the API key',
    async () => {
      const me = await expectStatus(
        api.usersReadMe({ client: clientFor({ apiKey: need(apiKey) }) }),
        200,
      );
      check(me.id === need(user).id, 'the key\'s own account');
    },
  ],
];

let passed = 0;
let failed = 0;
let skipped = 0;
for (const [name, run] of steps) {
  try {
    await run();
    passed += 1;
    console.log(`ok      ${name}`);
  } catch (error) {
    if (error instanceof SkippedStep) {
      skipped += 1;
      console.log(`skipped ${name} (an earlier step failed)`);
    } else {
      failed += 1;
      const why = error instanceof Error ? error.message : String(error);
      console.log(`FAILED  ${name}: ${why}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed || skipped ? 1 : 0);
