/**
 * A raw HTTP client for emulator tests: what a curl user sends, with no client library between
 * the test and the wire. JSON bodies are serialised int64-exactly; a string body goes as is.
 */
import { request } from 'node:http';
import { parseJson, stringifyJson } from '../../../src/emulator/index.js';

export interface RawResponse {
  status: number;
  text: string;
  /**
   * The parsed body (int64-exact), `undefined` for an empty one. Its shape is whatever the route
   * returned, including error bodies, and the tests' assertions are what check it.
   */
  // biome-ignore lint/suspicious/noExplicitAny: arbitrary wire JSON that ~60 assertions across the REST tests walk by property path (`r.json.messages[0].messageId`); `unknown`/`JsonValue` would need a cast at every one of them, which checks nothing the assertions do not.
  json: any;
}

/** Sends `method path` to `baseUrl` with `Authorization: Bot <token>` and an optional JSON body. */
export function rawHttp(
  baseUrl: string,
  method: string,
  path: string,
  body: unknown,
  token: string,
): Promise<RawResponse> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bot ${token}` };
    const text = body === undefined ? undefined : typeof body === 'string' ? body : stringifyJson(body);
    if (text !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, text: t, json: t ? parseJson(t) : undefined });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}
