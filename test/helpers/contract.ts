/**
 * The platform contract as the tests see it: the project's own copy in `contract/` at the repo
 * root (see contract/README.md), parsed once per test process. Tests import from here instead of
 * reading JSON by a relative path, so the location of the copy lives in one place.
 *
 * The types describe only what the manifest really contains and the tests use; they are
 * structural, so members the tests ignore are simply absent from them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the `contract/` folder, with a trailing slash. */
export const CONTRACT_DIR = fileURLToPath(new URL('../../contract/', import.meta.url));

/** One member of a request, response or event payload shape (nested for objects). */
export interface ManifestProp {
  name: string;
  type: string;
  isArray: boolean;
  isNullable: boolean;
  properties: ManifestProp[] | null;
}

/** One documented error of a route. */
export interface ManifestError {
  status: number;
  code: string;
  description: string;
}

export interface ManifestRoute {
  method: string;
  /** `/Method`, relative to `/{Interface}/v{Version}`. */
  path: string;
  requestTypeName: string | null;
  responseTypeName: string | null;
  requestTypeShape: ManifestProp[] | null;
  responseTypeShape: ManifestProp[] | null;
  errors: ManifestError[] | null;
}

export interface ManifestInterface {
  name: string;
  version: number;
  isStable: boolean;
  isDeprecated: boolean;
  routes: ManifestRoute[];
}

export interface ManifestIntent {
  name: string;
  bit: number;
  value: number;
  isPrivileged: boolean;
  /** PascalCase event names. */
  events: string[];
}

export interface ManifestEvent {
  /** PascalCase; the wire name is the same with a lower-case first letter. */
  name: string;
  /** Intent name, or null for events delivered regardless of intents. */
  intent: string | null;
  payloadTypeName: string;
  payloadTypeShape: ManifestProp[];
}

export interface ManifestRateLimit {
  interfaceName: string;
  permitLimit: number;
  window: string;
}

/** `contract/api-manifest.json`. */
export interface ApiManifest {
  interfaces: ManifestInterface[];
  intents: ManifestIntent[];
  events: ManifestEvent[];
  rateLimits: ManifestRateLimit[];
}

/** One release in `contract/changelog.json`. */
export interface ChangelogEntry {
  version: string;
  date: string;
  title: string;
  changes: Array<{ type: string; interface?: string; description: string }>;
}

/** `contract/source.json`: which release the copy is and where and when it was taken. */
export interface ContractSource {
  /** Bot API release the copy corresponds to (the newest entry of changelog.json). */
  version: string;
  /** Date of that release in the changelog. */
  versionDate: string;
  /** Day the files were copied into this repository (YYYY-MM-DD). */
  copied: string;
  /** Where the files come from, in words. */
  source: string;
  /** SHA-256 (hex) of each copied file, as it was copied. */
  files: Record<string, { sha256: string }>;
}

function readJson<T>(name: string): T {
  return JSON.parse(readFileSync(`${CONTRACT_DIR}${name}`, 'utf8')) as T;
}

export const manifest: ApiManifest = readJson<ApiManifest>('api-manifest.json');
export const changelog: ChangelogEntry[] = readJson<ChangelogEntry[]>('changelog.json');
export const contractSource: ContractSource = readJson<ContractSource>('source.json');

/** The Bot API release the copy in `contract/` corresponds to (from source.json). */
export const contractVersion: string = contractSource.version;

/**
 * Orders `major.minor.patch` version strings numerically (`1.10.0` after `1.9.0`).
 *
 * @throws Error for a string that is not three dot-separated integers.
 */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
    if (!m) throw new Error(`not a major.minor.patch version: ${JSON.stringify(v)}`);
    return [Number(m[1]), Number(m[2]), Number(m[3])];
  };
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** The changelog entry with the highest version (entry order in the file is not relied on). */
export function newestChangelogEntry(entries: readonly ChangelogEntry[] = changelog): ChangelogEntry {
  if (entries.length === 0) throw new Error('the changelog has no entries');
  return entries.reduce((best, e) => (compareVersions(e.version, best.version) > 0 ? e : best));
}
