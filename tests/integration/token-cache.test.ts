// The token cache against real PostgreSQL and its notices: a revocation reaches the cache through
// the database's notice, even when it races a look-up that read the token just before; and a lost
// listening connection makes the cache forget everything once it is back (notices sent meanwhile
// are lost). Every cache here lasts ten minutes, so only a notice can end an entry in time.
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/app/database.js";
import { Authenticator, issue } from "../../src/app/identity.js";
import { newSecret } from "../../src/domain/token.js";
import { Notifications } from "../../src/persistence/notifications.js";
import { openDatabase } from "../../src/persistence/orm.js";
import { freshDatabaseUrl } from "../support/database.js";

/** A database whose next look-up reads its row, then waits to be released before answering: a
 * look-up in flight, frozen between its query and its answer. */
class HeldDatabase extends Database {
  private held: { reached(): void; release: Promise<void> } | undefined;

  hold(): { reached: Promise<void>; release(): void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    this.held = { reached, release: new Promise<void>((resolve) => (release = resolve)) };
    return { reached: reachedPromise, release };
  }

  override em(): EntityManager {
    const em = super.em();
    const held = this.held;
    if (!held) return em;
    this.held = undefined;
    const findOne = em.findOne.bind(em);
    em.findOne = (async (...args: Parameters<typeof findOne>) => {
      const row = await findOne(...args);
      held.reached();
      await held.release;
      return row;
    }) as typeof em.findOne;
    return em;
  }
}

let url: string;
let orm: MikroORM;
let notifications: Notifications;
let observer: pg.Client;
beforeAll(async () => {
  url = await freshDatabaseUrl();
  orm = await openDatabase(url, 4);
  notifications = new Notifications(url);
  await notifications.start();
  observer = new pg.Client({ connectionString: url });
  await observer.connect();
});
afterAll(async () => {
  await notifications?.close();
  await observer?.end();
  await orm?.close();
});

async function newToken(principal: string): Promise<{ id: string; secret: string }> {
  const secret = newSecret();
  const token = await orm.em
    .fork()
    .transactional(async (em) =>
      issue(em, "tests", { principal, role: "SERVICE", tenantId: null, description: "", ttlMillis: null }, secret),
    );
  return { id: token.id, secret };
}

/** Resolves when the notice of `tokenId`'s change has been handed to every subscriber before it. */
function noticeOf(tokenId: string): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = notifications.subscribe("rackplane_token", (payload) => {
      if (payload !== tokenId) return;
      unsubscribe();
      resolve();
    });
  });
}

const revoke = (id: string) => observer.query("update api_token set revoke_time = now() where id = $1", [id]);

describe("the token cache", () => {
  /** A look-up of a fresh token, frozen after its read; then the token is revoked and the notice
   * has reached the authenticator. */
  async function raced(principal: string) {
    const db = new HeldDatabase(orm);
    const authenticator = new Authenticator(db, 600_000);
    const unfollow = authenticator.follow(notifications);
    const { id, secret } = await newToken(principal);
    const held = db.hold();
    const first = authenticator.authenticate(secret);
    await held.reached; // the look-up has read the token, still valid
    const noticed = noticeOf(id);
    await revoke(id);
    await noticed; // the authenticator has had the notice too (it subscribed first)
    return { authenticator, id, secret, first, release: held.release, unfollow };
  }

  it("does not cache what a look-up in flight read just before the revocation", async () => {
    const { authenticator, id, secret, first, release, unfollow } = await raced("raced-cache");
    try {
      release();
      // The call that was waiting began before the revocation committed: it may pass…
      expect((await first).tokenId).toBe(id);
      // …but what it read is not cached.
      await expect(authenticator.authenticate(secret)).rejects.toMatchObject({ reason: "TOKEN_INVALID" });
    } finally {
      unfollow();
    }
  });

  it("does not let a call after the notice join a look-up that began before it", async () => {
    const { authenticator, secret, first, release, unfollow } = await raced("raced-join");
    try {
      const second = authenticator.authenticate(secret).then(
        () => "accepted",
        (error: { reason?: string }) => error.reason,
      );
      release();
      await first;
      expect(await second).toBe("TOKEN_INVALID");
    } finally {
      unfollow();
    }
  });

  it("forgets a token deleted outright (as a cascade would), and forgets everything after a lost listening connection", async () => {
    const authenticator = new Authenticator(new Database(orm), 600_000);
    const unfollow = authenticator.follow(notifications);
    try {
      const deleted = await newToken("deleted");
      expect((await authenticator.authenticate(deleted.secret)).tokenId).toBe(deleted.id);
      const noticed = noticeOf(deleted.id);
      await observer.query("delete from api_token where id = $1", [deleted.id]);
      await noticed;
      await expect(authenticator.authenticate(deleted.secret)).rejects.toMatchObject({ reason: "TOKEN_INVALID" });

      const missed = await newToken("missed");
      expect((await authenticator.authenticate(missed.secret)).tokenId).toBe(missed.id);
      let reconnected!: () => void;
      const back = new Promise<void>((resolve) => (reconnected = resolve));
      const stopWaiting = notifications.onReconnect(() => reconnected());
      // Cut the listening connection, then revoke while it is down (it comes back after a second):
      // the notice is lost.
      await observer.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where query like 'LISTEN %' and datname = current_database()",
      );
      await revoke(missed.id);
      await back;
      stopWaiting();
      await expect(authenticator.authenticate(missed.secret)).rejects.toMatchObject({ reason: "TOKEN_INVALID" });
    } finally {
      unfollow();
    }
  });
});
