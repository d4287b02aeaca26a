// A small Berdaya API client on the platform's fetch, typed from the OpenAPI document:
// `src/schema.d.ts` is generated from openapi/openapi.json (`npm run generate`), so a
// field renamed or removed in the API breaks `npm run typecheck` (tsc --strict), not
// the app at run time.
import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type CommunityRead = Schemas["CommunityRead"];
export type CommunityCreate = Schemas["CommunityCreate"];
export type CommunityUpdate = Schemas["CommunityUpdate"];
export type TokenResponse = Schemas["TokenResponse"];

type Method = "get" | "post" | "put" | "patch" | "delete";
// The operation behind a path and method, as the generated types declare it.
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Parameters<O> = O extends { parameters: infer X } ? X : never;
type QueryOf<O> = NonNullable<Parameters<O> extends { query?: infer Q } ? Q : never>;
type PathOf<O> = Parameters<O> extends { path: infer A } ? A : Record<string, never>;
type BodyOf<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : O extends { requestBody?: { content: { "application/json": infer B } } }
    ? B
    : undefined;
type JsonOf<R> = R extends { content: { "application/json": infer T } } ? T : undefined;
type ResponsesOf<O> = O extends { responses: infer R } ? R : never;
// The body of the success answer: 200, else 201, else nothing (204).
type SuccessOf<O> = 200 extends keyof ResponsesOf<O>
  ? JsonOf<ResponsesOf<O>[200]>
  : 201 extends keyof ResponsesOf<O>
    ? JsonOf<ResponsesOf<O>[201]>
    : undefined;

export interface RequestOptions<O> {
  path?: PathOf<O>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  headers?: Record<string, string>;
}

/** An answer that is not a success: the API's problem+json (RFC 9457), typed. */
export class ProblemError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.name = "ProblemError";
    this.status = problem.status;
    this.problem = problem;
  }
}

export interface Answer<T> {
  data: T;
  etag: string | null;
}

export class BerdayaClient {
  readonly baseUrl: string;
  private accessToken: string | null = null;
  private readonly language: "id" | "en";

  constructor(baseUrl: string, options: { language?: "id" | "en" } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.language = options.language ?? "id";
  }

  /** OAuth2 password grant (form-encoded), as `POST /api/v1/auth/token` expects. */
  async login(email: string, password: string): Promise<TokenResponse> {
    const form = new URLSearchParams({ grant_type: "password", username: email, password });
    const response = await fetch(`${this.baseUrl}/api/v1/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: form,
    });
    const token = await BerdayaClient.read<TokenResponse>(response);
    this.accessToken = token.access_token;
    return token;
  }

  /** Any documented operation, with its path parameters, query, body and answer typed. */
  async request<P extends keyof paths, M extends Method>(
    method: M,
    template: P,
    options: RequestOptions<Operation<P, M>> = {},
  ): Promise<Answer<SuccessOf<Operation<P, M>>>> {
    const url = new URL(this.baseUrl + BerdayaClient.fill(String(template), options.path));
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      Accept: "application/json",
      "Accept-Language": this.language,
      ...options.headers,
    };
    if (this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    const init: RequestInit = { method: method.toUpperCase(), headers };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(url, init);
    const data = await BerdayaClient.read<SuccessOf<Operation<P, M>>>(response);
    return { data, etag: response.headers.get("ETag") };
  }

  /** Every community, page after page (keyset cursors, `next_cursor`). */
  async *communities(
    query: QueryOf<Operation<"/api/v1/communities", "get">> = {},
  ): AsyncGenerator<CommunityRead> {
    let cursor: string | null | undefined = undefined;
    do {
      const page: Answer<Schemas["Page_CommunityRead_"]> = await this.request("get", "/api/v1/communities", {
        query: cursor ? { ...query, cursor } : query,
      });
      yield* page.data.items;
      cursor = page.data.next_cursor;
    } while (cursor);
  }

  /** Creates a community; retrying with the same key never creates it twice. */
  async createCommunity(body: CommunityCreate, idempotencyKey: string): Promise<Answer<CommunityRead>> {
    return this.request("post", "/api/v1/communities", {
      body,
      headers: { "Idempotency-Key": idempotencyKey },
    });
  }

  /** A partial update guarded by the ETag read before (412 if someone changed it since). */
  async updateCommunity(id: string, patch: CommunityUpdate, etag: string): Promise<Answer<CommunityRead>> {
    return this.request("patch", "/api/v1/communities/{community_id}", {
      path: { community_id: id },
      body: patch,
      headers: { "If-Match": etag },
    });
  }

  /** One export dataset as NDJSON, a row at a time while it streams. */
  async *exportRows(dataset: string): AsyncGenerator<Record<string, unknown>> {
    const url = `${this.baseUrl}/api/v1/exports/${encodeURIComponent(dataset)}?format=ndjson`;
    const headers: Record<string, string> = { Accept: "application/x-ndjson" };
    if (this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    const response = await fetch(url, { headers });
    if (!response.ok || response.body === null) {
      await BerdayaClient.read<unknown>(response);
      return;
    }
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    let buffered = "";
    for (;;) {
      const { done, value } = await reader.read();
      buffered += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffered.split("\n");
      buffered = done ? "" : (lines.pop() ?? "");
      for (const line of lines) {
        if (line.trim()) yield JSON.parse(line) as Record<string, unknown>;
      }
      if (done) return;
    }
  }

  private static fill(template: string, path: unknown): string {
    const values = (path ?? {}) as Record<string, string | number | undefined>;
    return template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined) throw new Error(`missing path parameter ${name}`);
      return encodeURIComponent(String(value));
    });
  }

  private static async read<T>(response: Response): Promise<T> {
    if (response.ok) {
      return (response.status === 204 ? undefined : await response.json()) as T;
    }
    const type = response.headers.get("Content-Type") ?? "";
    if (type.startsWith("application/problem+json")) {
      throw new ProblemError((await response.json()) as Problem);
    }
    throw new ProblemError({
      type: "about:blank",
      title: response.statusText,
      status: response.status,
      detail: null,
      instance: null,
      request_id: response.headers.get("X-Request-ID"),
      errors: null,
      allowed: null,
    });
  }
}
