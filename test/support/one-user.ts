/**
 * One user through the engine port's batch operations: the response for that user, or the error it failed with
 * thrown, as a single-user call would. For tests that speak about one user at a time.
 */
import type {
  DatabaseEngine,
  DeleteUserResponse,
  DisableUserResponse,
  NewUserRequest,
  NewUserResponse,
} from '../../src/core/ports.js';

export interface OneUser {
  newUser(req: NewUserRequest): Promise<NewUserResponse>;
  disableUser(username: string): Promise<DisableUserResponse>;
  deleteUser(username: string): Promise<DeleteUserResponse>;
}

export function oneUser(engine: DatabaseEngine): OneUser {
  return {
    newUser: async (req) => only(await engine.newUsers([req]), req.username),
    disableUser: async (username) => only(await engine.disableUsers([username]), username),
    deleteUser: async (username) => only(await engine.deleteUsers([username]), username),
  };
}

function only<R>(results: Map<string, R | Error>, username: string): R {
  const res = results.get(username);
  if (res === undefined) throw new Error(`the engine returned no result for ${username}`);
  if (res instanceof Error) throw res;
  return res;
}
