import { createLocalJWKSet, exportJWK, generateKeyPair, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type DeepLinkingRequest,
  deepLinkingResponse,
  openDeepLinkingRequest,
  sealDeepLinkingRequest,
} from '../../functions/core/lti/deep-linking.ts';
import { type LtiDeps, startLtiLogin, verifyLtiMessage } from '../../functions/core/lti/launch.ts';
import { MemoryLtiReplayGuard } from '../../functions/core/lti/memory-replay-guard.ts';
import type { LtiPlatform, LtiToolKey } from '../../functions/core/lti/ports.ts';

/**
 * Deep linking, tool side: a teacher's LtiDeepLinkingRequest is verified like a launch,
 * and the answer is a JWS the platform can check against the tool's published key,
 * holding one resource link whose custom parameters a launch reads.
 */
const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
const DL = 'https://purl.imsglobal.org/spec/lti-dl/claim/';
const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';
const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';

const platform: LtiPlatform = {
  issuer: 'https://lms.example.edu',
  clientId: 'tool-7',
  deploymentIds: ['dep-1'],
  jwksUrl: 'https://lms.example.edu/jwks',
  authUrl: 'https://lms.example.edu/auth',
  usernameClaim: `${LTI}ext.user_username`,
  createdAt: '2026-01-01T00:00:00.000Z',
};

/** The request a teacher's deep linking post verifies to; the other tests start from it. */
const request: DeepLinkingRequest = {
  issuer: platform.issuer,
  clientId: 'tool-7',
  deploymentId: 'dep-1',
  returnUrl: 'https://lms.example.edu/deep_links/42',
  data: 'opaque-42',
  teacher: 'grace',
};

let platformKeys: Awaited<ReturnType<typeof generateKeyPair>>;
let deps: LtiDeps;
let toolKey: LtiToolKey;
let toolPublic: CryptoKey;

beforeAll(async () => {
  platformKeys = await generateKeyPair('RS256', { extractable: true });
  const jwks = createLocalJWKSet({
    keys: [{ ...(await exportJWK(platformKeys.publicKey)), kid: 'lms-1', alg: 'RS256' }],
  });
  deps = {
    platforms: {
      list: async () => [platform],
      get: async (issuer, clientId) =>
        issuer === platform.issuer && clientId === platform.clientId ? platform : undefined,
      put: async () => undefined,
      remove: async () => false,
    },
    replay: new MemoryLtiReplayGuard(),
    toolUrl: 'https://labs.example.edu',
    keysFor: () => jwks,
  };
  const tool = await generateKeyPair('RS256', { extractable: true });
  toolPublic = tool.publicKey;
  toolKey = {
    sign: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'tool-key' }).sign(tool.privateKey),
    verify: async (token) => (await jwtVerify(token, tool.publicKey, { algorithms: ['RS256'] })).payload,
  };
});

/** What the LMS posts back after the tool's login initiation, with `change` applied to the claims. */
async function deepLinkingPost(change: (claims: JWTPayload) => JWTPayload = (c) => c) {
  const auth = new URL(
    await startLtiLogin(deps, {
      iss: platform.issuer,
      login_hint: 'u-1',
      target_link_uri: 'x',
      client_id: 'tool-7',
    }),
  );
  const now = Math.floor(Date.now() / 1000);
  const claims = change({
    iss: platform.issuer,
    aud: platform.clientId,
    sub: 'u-1',
    iat: now,
    exp: now + 300,
    nonce: auth.searchParams.get('nonce') ?? '',
    [`${LTI}message_type`]: 'LtiDeepLinkingRequest',
    [`${LTI}version`]: '1.3.0',
    [`${LTI}deployment_id`]: 'dep-1',
    [`${LTI}roles`]: [INSTRUCTOR],
    [`${LTI}ext`]: { user_username: 'grace' },
    [`${DL}deep_linking_settings`]: {
      deep_link_return_url: 'https://lms.example.edu/deep_links/42',
      accept_types: ['link', 'ltiResourceLink'],
      accept_presentation_document_targets: ['window'],
      data: 'opaque-42',
      title: 'Week 1',
    },
  });
  const idToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'lms-1' })
    .sign(platformKeys.privateKey);
  return { id_token: idToken, state: auth.searchParams.get('state') ?? '' };
}

async function refusal(promise: Promise<unknown>) {
  const error = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code?: string; status?: number; message?: string } | undefined;
  if (!error) throw new Error('expected a refusal');
  return error;
}

describe('a deep linking request', () => {
  it("is verified like a launch and says where the teacher's choice goes back to", async () => {
    const message = await verifyLtiMessage(deps, await deepLinkingPost());
    expect(message).toEqual({
      type: 'LtiDeepLinkingRequest',
      request: { ...request, title: 'Week 1' },
    });
  });

  it('is refused to a student, with a page that says to ask the teacher', async () => {
    const error = await refusal(
      verifyLtiMessage(deps, await deepLinkingPost((c) => ({ ...c, [`${LTI}roles`]: [LEARNER] }))),
    );
    expect(error).toMatchObject({ code: 'lti_not_instructor', status: 403 });
    expect(error.message).toMatch(/Ask your teacher/);
  });

  it('is refused where the LMS accepts no resource links, naming what it accepts', async () => {
    const error = await refusal(
      verifyLtiMessage(
        deps,
        await deepLinkingPost((c) => ({
          ...c,
          [`${DL}deep_linking_settings`]: {
            deep_link_return_url: 'https://lms.example.edu/r',
            accept_types: ['file'],
          },
        })),
      ),
    );
    expect(error).toMatchObject({ code: 'lti_deep_link_unsupported', status: 400 });
    expect(error.message).toMatch(/accepts file/);
  });

  it('is refused without a return URL', async () => {
    const error = await refusal(
      verifyLtiMessage(
        deps,
        await deepLinkingPost((c) => ({
          ...c,
          [`${DL}deep_linking_settings`]: { accept_types: ['ltiResourceLink'] },
        })),
      ),
    );
    expect(error).toMatchObject({ code: 'lti_deep_link_incomplete' });
  });
});

describe('the answer to the LMS', () => {
  const options = { toolUrl: 'https://labs.example.edu', launchPath: '/lti/launch' };

  it('is signed by the tool for the platform, echoes data, and holds the chosen notebook as custom parameters', async () => {
    const jwt = await deepLinkingResponse(
      toolKey,
      request,
      {
        title: ' Week 1 ',
        repository: 'https://github.com/org/intro.git',
        branch: 'main',
        path: 'intro/week1.ipynb',
      },
      options,
    );
    const { payload } = await jwtVerify(jwt, toolPublic, { issuer: 'tool-7', audience: platform.issuer });
    expect(payload).toMatchObject({
      [`${LTI}message_type`]: 'LtiDeepLinkingResponse',
      [`${LTI}version`]: '1.3.0',
      [`${LTI}deployment_id`]: 'dep-1',
      [`${DL}data`]: 'opaque-42',
      [`${DL}content_items`]: [
        {
          type: 'ltiResourceLink',
          title: 'Week 1',
          url: 'https://labs.example.edu/lti/launch',
          custom: {
            repository: 'https://github.com/org/intro.git',
            branch: 'main',
            path: 'intro/week1.ipynb',
          },
        },
      ],
    });
    expect(typeof payload.nonce).toBe('string');
  });

  it('refuses a notebook path a launch would refuse, so the teacher hears of it, not the students', async () => {
    const error = await refusal(deepLinkingResponse(toolKey, request, { path: '../../etc/passwd' }, options));
    expect(error).toMatchObject({ code: 'lti_bad_custom_parameters', status: 400 });
  });

  it('names the file when the teacher gives no title', async () => {
    const jwt = await deepLinkingResponse(toolKey, request, { path: 'intro/week2.ipynb' }, options);
    const { payload } = await jwtVerify(jwt, toolPublic);
    expect((payload[`${DL}content_items`] as Array<{ title: string }>)[0]?.title).toBe('week2.ipynb');
  });
});

describe('the choice page carries the request signed', () => {
  it('opens what it sealed', async () => {
    expect(await openDeepLinkingRequest(toolKey, await sealDeepLinkingRequest(toolKey, request))).toEqual(
      request,
    );
  });

  it('refuses a changed, foreign, missing or expired one', async () => {
    const sealed = await sealDeepLinkingRequest(toolKey, request);
    const [head, body, signature] = sealed.split('.');
    const changed = JSON.parse(Buffer.from(body ?? '', 'base64url').toString());
    changed.request.returnUrl = 'https://evil.example/steal';
    const forged = `${head}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${signature}`;
    const foreign = await new SignJWT({ aud: 'hubless:lti-deep-link-choice', request })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('10m')
      .sign(platformKeys.privateKey);
    const expired = await sealDeepLinkingRequest(toolKey, request, Date.now() - 31 * 60_000);
    for (const token of [forged, foreign, undefined, expired])
      expect(await refusal(openDeepLinkingRequest(toolKey, token))).toMatchObject({
        code: 'lti_deep_link_expired',
        status: 400,
      });
  });
});
