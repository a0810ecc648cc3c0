import { p } from "@mikro-orm/postgresql";
import { newId } from "../../domain/ids.js";

/** The properties every API resource shares: a time-ordered id, an optimistic-lock version (the
 * etag) and its create / update times. */
export function resourceProperties() {
  return {
    id: p
      .uuid()
      .primary()
      .onCreate(() => newId()),
    version: p.integer().version(),
    createTime: p.datetime().onCreate(() => new Date()),
    updateTime: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  };
}
