// The handlers of a standard resource's five methods (app/standard-resource.ts): each maps the
// request, calls the use case and maps the result back. What differs between resources is their
// ResourceMapping: the names the contract gives them and the proto ⇄ domain conversions.
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { Database } from "../app/database.js";
import type { StandardMethods } from "../app/standard-resource.js";
import { callContext, listRequest, maskedPatch } from "./convert.js";
import { at, byId, creates, reads, type TargetRule } from "./request-targets.js";

export interface ResourceMapping<Row, Fields, Updatable, Message, Noun extends string, Field extends string, ListField extends string> {
  /** The methods' noun: Create<Noun>, Get<Noun>, List<Noun>s, Update<Noun>, Delete<Noun>. */
  readonly noun: Noun;
  /** The request and response field holding one resource (`region`). */
  readonly field: Field;
  /** The List response's field (`regions`). */
  readonly listField: ListField;
  readonly message: (row: Row) => Message;
  /** What Create stores, from the request's resource. */
  readonly fields: (message: Message) => Fields;
  /** For Update: each update_mask path a client may name, to the part of the patch it sets
   * (convert.ts maskedPatch). A path left out is immutable. */
  readonly updatable: (message: Message) => Record<string, () => Partial<Updatable>>;
}

type Holding<Field extends string, Message> = { [K in Field]: Message };
type Given<Field extends string, Message> = { readonly [K in Field]?: Message | undefined };
type Handler<Request, Response> = (request: Request, context: HandlerContext) => Promise<Response>;

/** The five handlers under the contract's method names (createRegion, listRegions …). */
export type StandardHandlers<Noun extends string, Field extends string, ListField extends string, Message> = Record<
  `create${Noun}`,
  Handler<Given<Field, Message> & { readonly requestId: string }, Holding<Field, Message>>
> &
  Record<`get${Noun}`, Handler<{ readonly id: string }, Holding<Field, Message>>> &
  Record<
    `list${Noun}s`,
    Handler<{ pageSize: number; pageToken: string; filter: string }, Holding<ListField, Message[]> & { nextPageToken: string }>
  > &
  Record<`update${Noun}`, Handler<Given<Field, Message> & { readonly updateMask?: FieldMask | undefined }, Holding<Field, Message>>> &
  Record<`delete${Noun}`, Handler<{ readonly id: string; readonly etag: string; readonly force?: boolean }, Record<string, never>>>;

export function standardHandlers<
  Row,
  Fields,
  Updatable extends object,
  Message extends { readonly id: string; readonly etag: string },
  Noun extends string,
  Field extends string,
  ListField extends string,
>(
  db: Database,
  resource: StandardMethods<Row, Fields, Updatable>,
  mapping: ResourceMapping<Row, Fields, Updatable, Message, Noun, Field, ListField>,
): StandardHandlers<Noun, Field, ListField, Message> {
  const { noun, field, listField } = mapping;
  const holding = (row: Row) => ({ [field]: mapping.message(row) });
  // The contract requires the resource in Create and Update; protovalidate checked it was there.
  const given = (request: Given<Field, Message>): Message => request[field]!;
  const handlers: Record<string, Handler<never, unknown>> = {
    [`create${noun}`]: async (request: Given<Field, Message> & { requestId: string }, context: HandlerContext) =>
      holding(await resource.create(db, callContext(context), mapping.fields(given(request)), request.requestId)),
    [`get${noun}`]: async (request: { id: string }, context: HandlerContext) =>
      holding(await resource.get(db, callContext(context), request.id)),
    [`list${noun}s`]: async (request: { pageSize: number; pageToken: string; filter: string }, context: HandlerContext) => {
      const page = await resource.list(db, callContext(context), listRequest(request));
      return { [listField]: page.items.map(mapping.message), nextPageToken: page.nextPageToken };
    },
    [`update${noun}`]: async (request: Given<Field, Message> & { updateMask?: FieldMask | undefined }, context: HandlerContext) => {
      const message = given(request);
      const patch = maskedPatch(request.updateMask, mapping.updatable(message));
      return holding(await resource.update(db, callContext(context), message.id, message.etag, patch));
    },
    [`delete${noun}`]: async (request: { id: string; etag: string; force?: boolean }, context: HandlerContext) => {
      await resource.delete(db, callContext(context), request.id, request.etag, request.force ?? false);
      return {};
    },
  };
  return handlers as unknown as StandardHandlers<Noun, Field, ListField, Message>;
}

/** What the five methods act on, for the audit record (request-targets.ts). */
export type StandardTargets<Noun extends string, Field extends string> = Record<`create${Noun}`, TargetRule<unknown>> &
  Record<`get${Noun}` | `list${Noun}s`, typeof reads> &
  Record<`update${Noun}`, TargetRule<Given<Field, { readonly id: string }>>> &
  Record<`delete${Noun}`, TargetRule<{ readonly id: string }>>;

export function standardTargets<Noun extends string, Field extends string>(
  resource: { readonly type: string },
  noun: Noun,
  field: Field,
): StandardTargets<Noun, Field> {
  const { type } = resource;
  return {
    [`create${noun}`]: creates(type),
    [`get${noun}`]: reads,
    [`list${noun}s`]: reads,
    [`update${noun}`]: at(type, (request: Given<Field, { readonly id: string }>) => request[field]?.id),
    [`delete${noun}`]: byId(type),
  } as StandardTargets<Noun, Field>;
}
