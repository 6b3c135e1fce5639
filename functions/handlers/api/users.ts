import type { z } from 'zod';
import { paginate } from '../../core/api/pagination.ts';
import type { PutUserBody, pageQuery } from '../../core/api/schemas.ts';
import { disableUser, getUser, listUsers, putUser } from '../../core/use-cases/users.ts';
import type { ApiHandlerFn } from './context.ts';
import { jsonResult } from './http.ts';
import { userView } from './present.ts';

/** /api/v1/users: provisioning through the Directory. */

export const listUsersRoute: ApiHandlerFn = async (deps, { query }) => {
  const { limit, cursor } = query as z.output<typeof pageQuery>;
  const page = paginate(await listUsers(deps.core), (user) => user.name, { limit, cursor });
  return jsonResult(200, { items: page.items.map(userView), next_cursor: page.nextCursor ?? null });
};

export const getUserRoute: ApiHandlerFn = async (deps, { params }) =>
  jsonResult(200, userView(await getUser(deps.core, params.user!)));

export const putUserRoute: ApiHandlerFn = async (deps, { params, body }) => {
  const fields = (body ?? {}) as PutUserBody;
  const { user, created } = await putUser(deps.core, { name: params.user!, ...fields });
  return jsonResult(
    created ? 201 : 200,
    userView(user),
    created ? { location: `/api/v1/users/${user.name}` } : {},
  );
};

export const deleteUserRoute: ApiHandlerFn = async (deps, { params }) =>
  jsonResult(200, userView(await disableUser(deps.core, params.user!)));
