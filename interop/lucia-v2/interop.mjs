// Usage: node interop.mjs '<json>'  with
//   { "dialect": "postgres" | "mysql", "url": database URL, "schema": PostgreSQL schema name,
//     "provider": key provider id (default "email"),
//     "rust": { "email", "password", "userId", "username", "sessionId" },
//     "node": { "email", "password", "username" } }
// ("email" is the provider user id, whatever the provider.)
// Checks that lucia@2.7.7 accepts what lucia-rs wrote (the key's s2 hash, the session),
// then creates a user, key and session of its own, and prints what it made as JSON.
import { lucia, LuciaError } from "lucia";
import { pg } from "@lucia-auth/adapter-postgresql";
import { mysql2 } from "@lucia-auth/adapter-mysql";
import postgres from "pg";
import mysql from "mysql2/promise";

const input = JSON.parse(process.argv[2]);
const tables = { user: "user", key: "key", session: "session" };
const pool =
  input.dialect === "mysql"
    ? mysql.createPool({ uri: input.url })
    : new postgres.Pool({ connectionString: input.url, options: `-c search_path=${input.schema}` });
const auth = lucia({
  env: "DEV",
  adapter: input.dialect === "mysql" ? mysql2(pool, tables) : pg(pool, tables),
  getUserAttributes: (user) => ({ username: user.username }),
});

function check(condition, message) {
  if (!condition) throw new Error(`lucia@2 check failed: ${message}`);
}

async function rejects(promise, code) {
  try {
    await promise;
  } catch (error) {
    check(error instanceof LuciaError && error.message === code, `expected ${code}, got ${error}`);
    return;
  }
  throw new Error(`expected ${code}, got success`);
}

try {
  const { rust, node } = input;
  const provider = input.provider ?? "email";
  const key = await auth.useKey(provider, rust.email, rust.password);
  check(key.userId === rust.userId && key.passwordDefined, "useKey on the Rust key");
  await rejects(auth.useKey(provider, rust.email, rust.password + "!"), "AUTH_INVALID_PASSWORD");
  const session = await auth.validateSession(rust.sessionId);
  check(session.user.userId === rust.userId, "validateSession on the Rust session");
  check(session.user.username === rust.username, "user attributes of the Rust user");
  check(session.state === "active" && session.fresh === false, "Rust session is active");
  const idle = session.idlePeriodExpiresAt.getTime() - session.activePeriodExpiresAt.getTime();
  check(idle === 1000 * 60 * 60 * 24 * 14, `idle period in ms, got ${idle}`);

  const user = await auth.createUser({
    key: { providerId: provider, providerUserId: node.email, password: node.password },
    attributes: { username: node.username },
  });
  const nodeSession = await auth.createSession({ userId: user.userId, attributes: {} });
  console.log(JSON.stringify({
    userId: user.userId,
    sessionId: nodeSession.sessionId,
    activeExpires: nodeSession.activePeriodExpiresAt.getTime(),
    idleExpires: nodeSession.idlePeriodExpiresAt.getTime(),
  }));
} finally {
  await pool.end();
}
