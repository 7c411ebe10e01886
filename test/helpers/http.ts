import { request, type Dispatcher } from 'undici';

/** One HTTP call for the tests: the answer's status, headers and body (JSON when it parses, else text). */
export async function send(
  dispatcher: Dispatcher,
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: any; headers: Record<string, string | string[] | undefined> }> {
  const r = await request(url, { method: method as 'GET', headers, body, dispatcher });
  const text = await r.body.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: r.statusCode, body: parsed, headers: r.headers };
}
