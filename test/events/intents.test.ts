import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import {
  EVENT_INTENT,
  INTENT_NAMES,
  Intents,
  IntentsBuilder,
  intentNames,
  intents,
  isPrivilegedIntent,
} from '../../src/events/intents.js';
import { manifest } from '../helpers/contract.js';

const camel = (s: string) => s[0]!.toLowerCase() + s.slice(1);

describe('intents', () => {
  it('has the published constants', () => {
    expect(Intents.AllNonPrivileged).toBe(12253);
    expect(Intents.All).toBe(16383);
    expect(Intents.AllPrivileged).toBe(4130);
    expect(intents(...INTENT_NAMES)).toBe(16383);
    expect(intents(...INTENT_NAMES.filter((n) => !isPrivilegedIntent(n)))).toBe(12253);
  });

  it('matches the manifest bits and privileged flags', () => {
    for (const m of manifest.intents) {
      expect(Intents[m.name as keyof typeof Intents]).toBe(m.value);
      expect(isPrivilegedIntent(m.name as (typeof INTENT_NAMES)[number])).toBe(m.isPrivileged);
    }
    expect(INTENT_NAMES).toHaveLength(manifest.intents.length);
  });

  it('maps all 28 manifest events to the right intent (camelCase wire names)', () => {
    expect(Object.keys(EVENT_INTENT)).toHaveLength(28);
    for (const e of manifest.events) {
      expect(camel(e.name) in EVENT_INTENT, e.name).toBe(true);
      expect(EVENT_INTENT[camel(e.name) as keyof typeof EVENT_INTENT]).toBe(e.intent);
    }
  });

  it('builds masks from names and numbers, fluent or not, and rejects unknowns', () => {
    expect(intents('Messages', 'Voice', 'Calls')).toBe(1 | 2048 | 4096);
    expect(intents('AllNonPrivileged', 'Calls')).toBe(12253 | 4096);
    const b = new IntentsBuilder().add('Messages', 'Presence').remove('Presence');
    expect(b.build()).toBe(1);
    expect(b.privileged).toBe(false);
    expect(new IntentsBuilder().add('Members').privileged).toBe(true);
    expect(intentNames(2053)).toEqual(['Messages', 'Channels', 'Voice']);
    expect(() => intents('Nope' as never)).toThrow(InvalidInputError);
    expect(() => intents(1 << 20)).toThrow(InvalidInputError);
  });
});
