/**
 * Contract test: the published manifest (the project's copy in contract/, loaded by
 * test/helpers/contract.ts) against the route table and the real requests the client puts on the
 * wire; and the copy against its own metadata (contract/source.json), so it cannot drift silently.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestClient } from '../../src/rest/client.js';
import { CORRECTIONS, requestFieldCorrections } from '../../src/rest/corrections.js';
import { RATE_LIMITS, ROUTES } from '../../src/rest/routes.js';
import {
  CONTRACT_DIR,
  changelog,
  compareVersions,
  contractSource,
  contractVersion,
  manifest,
  newestChangelogEntry,
} from '../helpers/contract.js';
import { json, type Stub, startStub, TOKEN } from './stub.js';

const manifestRoutes = manifest.interfaces.flatMap((i) =>
  i.routes.map((r) => ({ iface: i.name, version: i.version, stable: i.isStable, ...r })),
);

const G = '11111111-2222-3333-4444-555555555555';
const sampleArgs: Record<string, unknown> = {
  spaceId: G,
  userId: G,
  channelId: G,
  commandId: G,
  archetypeId: G,
  interactionId: G,
  callId: G,
  trackId: `${G}/${G}:${G}`,
  name: 'n',
  description: 'd',
  channelType: 1,
  groupId: G,
  text: 't',
  randomId: 7n,
  replyTo: 3n,
  entities: [],
  controls: [],
  options: [],
  defaultPermission: true,
  messageId: 9n,
  messageIds: [9n],
  emoji: 'x',
  kind: 'typing',
  modal: { customId: 'c', title: 't', components: [] },
  reason: 'r',
  from: 10n,
  limit: 5,
  intents: 1,
};

describe('manifest contract', () => {
  let stub: Stub;
  let client: RestClient;
  const wire = new Map<string, { method: string; path: string; query: string[]; body: string[] }>();

  beforeAll(async () => {
    stub = await startStub((req, res) => {
      if (req.path.endsWith('/IEvents/v1/Stream')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('event: ready\ndata: {"intents":1,"spaces":[]}\nid: ready\n\n');
        return;
      }
      json(res, 200, {});
    });
    client = new RestClient({ token: TOKEN, baseUrl: `${stub.url}/api/bot`, retries: 0 });
    for (const def of ROUTES) {
      const [prop, method] = def.key.split('.') as [string, string];
      const fn = (client as unknown as Record<string, Record<string, (...a: unknown[]) => Promise<unknown>>>)[prop]![
        method
      ]!;
      const n = stub.requests.length;
      const args = def.input === 'none' ? [] : [sampleArgs];
      const out = await fn(...args);
      if (def.key === 'events.stream') (out as { close(): void }).close();
      const seen = stub.requests[n]!;
      wire.set(def.key, {
        method: seen.method,
        path: seen.path,
        query: [...seen.query.keys()].sort(),
        body: seen.body ? Object.keys(JSON.parse(seen.body) as object).sort() : [],
      });
    }
  });
  afterAll(async () => {
    await client.close();
    await stub.close();
  });

  it('has 37 routes in the manifest and in the route table, one client method each', () => {
    expect(manifestRoutes).toHaveLength(37);
    expect(ROUTES).toHaveLength(37);
    expect(new Set(ROUTES.map((r) => r.key)).size).toBe(37);
    expect(wire.size).toBe(37);
  });

  it('maps every manifest route to exactly one client method with the same HTTP method and path', () => {
    for (const m of manifestRoutes) {
      const matches = ROUTES.filter((r) => r.iface === m.iface && r.version === m.version && r.path === m.path);
      expect(matches, `${m.iface}/v${m.version}${m.path}`).toHaveLength(1);
      const def = matches[0]!;
      expect(def.method).toBe(m.method);
      expect(def.draft).toBe(!m.stable);
      const seen = wire.get(def.key)!;
      expect(seen.method).toBe(m.method);
      expect(seen.path).toBe(`/api/bot/${m.iface}/v${m.version}${m.path}`);
    }
  });

  it('sends the manifest request field names, apart from the listed corrections', () => {
    for (const m of manifestRoutes) {
      const def = ROUTES.find((r) => r.iface === m.iface && r.version === m.version && r.path === m.path)!;
      const { extra, omitted } = requestFieldCorrections(def.key);
      const manifestFields = (m.requestTypeShape ?? []).map((p) => p.name).filter((f) => !omitted.includes(f));
      const extraBody = CORRECTIONS.filter(
        (c) => c.target === def.key && c.kind === 'extra-request-field' && c.where === 'body',
      ).map((c) => c.field!);
      const expectedBody = [...manifestFields, ...extraBody].sort();
      expect([...def.body].sort(), def.key).toEqual(expectedBody);
      // and the wire agrees: every sample field present in the body was declared
      expect(wire.get(def.key)!.body, def.key).toEqual(expectedBody);
      // query parameters are not in the manifest; only listed corrections may add some to body routes
      if (m.requestTypeShape) {
        const extraQuery = extra.filter((f) => !extraBody.includes(f)).sort();
        expect(wire.get(def.key)!.query, def.key).toEqual(extraQuery);
      }
    }
  });

  it('sends UnsubscribeTrack with ?spaceId and a {trackId} JSON body (server quirk)', () => {
    const seen = wire.get('voiceEgress.unsubscribeTrack')!;
    expect(seen.method).toBe('DELETE');
    expect(seen.query).toEqual(['spaceId']);
    expect(seen.body).toEqual(['trackId']);
  });

  it('puts query-route inputs in the query string and sends no body', () => {
    for (const def of ROUTES.filter((r) => r.input === 'query')) {
      expect(wire.get(def.key)!.body, def.key).toEqual([]);
      expect(wire.get(def.key)!.query, def.key).toEqual([...def.query].sort());
    }
  });

  it('mirrors the manifest rate limits (plus ITyping/IArchetypes/IReactions from server config)', () => {
    for (const l of manifest.rateLimits)
      expect(RATE_LIMITS[l.interfaceName as keyof typeof RATE_LIMITS]).toBe(l.permitLimit);
    expect(RATE_LIMITS.ITyping).toBe(60);
    expect(RATE_LIMITS.IArchetypes).toBe(30);
    expect(RATE_LIMITS.IReactions).toBe(60);
  });
});

describe('the contract copy in contract/', () => {
  it('records the newest changelog release as its version', () => {
    const newest = newestChangelogEntry();
    expect(contractVersion).toBe(newest.version);
    expect(contractSource.versionDate).toBe(newest.date);
    // No entry is newer than the recorded version, whatever the order of the file.
    for (const e of changelog) expect(compareVersions(e.version, contractVersion)).toBeLessThanOrEqual(0);
  });

  it('holds exactly the files source.json describes (SHA-256 of each)', () => {
    expect(Object.keys(contractSource.files).sort()).toEqual(['api-manifest.json', 'changelog.json']);
    for (const [name, { sha256 }] of Object.entries(contractSource.files)) {
      const actual = createHash('sha256')
        .update(readFileSync(`${CONTRACT_DIR}${name}`))
        .digest('hex');
      expect(actual, `${name} changed without updating contract/source.json`).toBe(sha256);
    }
  });

  it('states the same version and copy date in contract/README.md', () => {
    expect(contractSource.copied).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(contractSource.copied >= contractSource.versionDate).toBe(true);
    const readme = readFileSync(`${CONTRACT_DIR}README.md`, 'utf8');
    expect(readme).toContain(`**${contractVersion}** (${contractSource.versionDate}`);
    expect(readme).toContain(`**Copied:** ${contractSource.copied}`);
  });

  it('orders versions numerically, not as text', () => {
    expect(compareVersions('1.10.0', '1.9.0')).toBeGreaterThan(0);
    expect(compareVersions('1.9.0', '1.9.0')).toBe(0);
    expect(compareVersions('0.9.9', '1.0.0')).toBeLessThan(0);
    expect(() => compareVersions('1.9', '1.9.0')).toThrow(/major\.minor\.patch/);
    const entry = (version: string) => ({ version, date: '2026-01-01', title: '', changes: [] });
    expect(newestChangelogEntry([entry('1.9.0'), entry('1.10.0'), entry('1.2.0')]).version).toBe('1.10.0');
  });
});
