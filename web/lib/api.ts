// One way to call the API: the key as a bearer token, errors turned into ApiError with what a page needs to
// show (the field a refusal is about, how long to wait after a 429, whether the API answered at all).

export interface FieldError {
  param: string | null;
  message: string;
}

export class ApiError extends Error {
  readonly status: number; // 0: the API could not be reached
  readonly code: string;
  readonly param: string | null;
  readonly fields: FieldError[];
  readonly retryAfter: number | null; // seconds, on 429

  constructor(status: number, code: string, message: string, options: Partial<ApiError> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = options.param ?? null;
    this.fields = options.fields ?? [];
    this.retryAfter = options.retryAfter ?? null;
  }

  get unreachable(): boolean {
    return this.status === 0;
  }

  /** The message for one form field: from `errors` when the API listed several, else from `param`. */
  forField(name: string): string | null {
    const listed = this.fields.find((f) => f.param === name || f.param?.startsWith(`${name}.`));
    if (listed) return listed.message;
    return this.param === name || this.param?.startsWith(`${name}.`) ? this.message : null;
  }
}

export interface Connection {
  apiUrl: string;
  apiKey: string | null;
}

export interface CallOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
  query?: Record<string, string | number | undefined | null | string[]>;
}

export function url(connection: Connection, path: string, query?: CallOptions["query"]): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  const tail = search.toString();
  return `${connection.apiUrl}${path}${tail ? `?${tail}` : ""}`;
}

export function headers(connection: Connection, json: boolean): Record<string, string> {
  const result: Record<string, string> = {};
  if (json) result["content-type"] = "application/json";
  if (connection.apiKey) result.authorization = `Bearer ${connection.apiKey}`;
  return result;
}

function retryAfter(response: Response): number | null {
  const value = response.headers.get("retry-after");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(1, Math.ceil((date - Date.now()) / 1000));
}

/** An error answer in any of the API's shapes (Asahi's own, OpenAI's, Anthropic's) as an ApiError. */
export async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's page, or nothing
  }
  const error = (body as { error?: Record<string, unknown> } | null)?.error ?? {};
  const message =
    typeof error.message === "string" ? error.message : `The API answered ${response.status} ${response.statusText}.`;
  const code = typeof error.code === "string" ? error.code : typeof error.type === "string" ? error.type : "http_error";
  const fields = Array.isArray(error.errors) ? (error.errors as FieldError[]) : [];
  return new ApiError(response.status, code, message, {
    param: typeof error.param === "string" ? error.param : null,
    fields,
    retryAfter: response.status === 429 ? retryAfter(response) : null,
  });
}

export async function send(connection: Connection, path: string, options: CallOptions = {}): Promise<Response> {
  const json = options.body !== undefined;
  try {
    return await fetch(url(connection, path, options.query), {
      method: options.method ?? (json ? "POST" : "GET"),
      headers: headers(connection, json),
      body: json ? JSON.stringify(options.body) : undefined,
      signal: options.signal,
      cache: "no-store",
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "unreachable", `Could not reach the API at ${connection.apiUrl}.`);
  }
}

export async function call<T>(connection: Connection, path: string, options: CallOptions = {}): Promise<T> {
  const response = await send(connection, path, options);
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}
