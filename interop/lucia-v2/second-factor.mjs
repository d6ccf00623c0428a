// Usage: node second-factor.mjs '<json>'  with
//   { "dialect": "postgres" | "mysql", "url": database URL, "schema": PostgreSQL schema name,
//     "pendingToken": a pending two-step sign-in's token (optional),
//     "deleteUserId": a user with a second factor to delete (optional) }
// Checks that lucia@2.7.7, sharing the database, takes lucia-rs's pending sign-in for no
// session, and can still delete a user that has a second factor (the new tables cascade).
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
const auth = lucia({ env: "DEV", adapter: input.dialect === "mysql" ? mysql2(pool, tables) : pg(pool, tables) });

try {
  if (input.pendingToken) {
    let accepted = false;
    try {
      await auth.validateSession(input.pendingToken);
      accepted = true;
    } catch (error) {
      if (!(error instanceof LuciaError && error.message === "AUTH_INVALID_SESSION_ID")) throw error;
    }
    if (accepted) throw new Error("lucia@2 accepted a pending sign-in as a session");
  }
  if (input.deleteUserId) await auth.deleteUser(input.deleteUserId);
  console.log(JSON.stringify({ ok: true }));
} finally {
  await pool.end();
}
