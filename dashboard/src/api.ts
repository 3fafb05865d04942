// The public management API, called with the administrator's access token: the dashboard has
// no other way to read or change anything.

/** One positioned problem of a JWT template (the API's `errors`). */
export interface ErrorDetail {
  pointer: string;
  offset: number;
  code: string;
  message: string;
}

/** A refused or failed call, with what the API said. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly errors: ErrorDetail[] = [],
  ) {
    super(message);
  }

  /** The message as shown: the field first, when the API named one. */
  describe(): string {
    return this.field ? `${this.field}: ${this.message}` : this.message;
  }
}

/** A page of a list (`next_cursor` absent on the last). */
export interface Page<T> {
  data: T[];
  next_cursor?: string;
}

/** Calls `/t/{tenant}/api{path}`; `token` returns the current access token. */
export class Api {
  constructor(
    private readonly base: string,
    private readonly token: () => Promise<string>,
    private readonly onUnauthorized: () => void,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.send<T>(method, path, body === undefined ? undefined : { data: JSON.stringify(body), type: "application/json" });
  }

  /** POSTs raw bytes (a hook's `.wasm`), answered and refused as `call` is. */
  upload<T>(path: string, bytes: ArrayBuffer, contentType: string): Promise<T> {
    return this.send<T>("POST", path, { data: bytes, type: contentType });
  }

  private async send<T>(method: string, path: string, body?: { data: BodyInit; type: string }): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${await this.token()}`,
      Accept: "application/json",
    };
    if (body !== undefined) headers["Content-Type"] = body.type;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body: body?.data });
    } catch {
      throw new ApiFailure(0, "network", "The server could not be reached. Check your connection and try again.");
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: any = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized();
      const message =
        json?.message ?? `The server answered ${res.status} ${res.statusText || ""}`.trim();
      throw new ApiFailure(res.status, json?.code ?? "http", message, json?.field, json?.errors ?? []);
    }
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("PUT", path, body);
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("PATCH", path, body);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("POST", path, body);
  }
  delete(path: string): Promise<void> {
    return this.call<void>("DELETE", path);
  }
}

/** `encodeURIComponent` for a path segment or query value. */
export const enc = encodeURIComponent;
