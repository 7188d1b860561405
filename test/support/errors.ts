// The contract's error shape (docs/CONTRACT.md), asserted exactly: one error, these keys, these values.
import { expect } from 'vitest';

export function expectErrorShape(r: { status: number; body: any; text?: string }, status: number, code?: string) {
  expect(r.status, r.text ?? JSON.stringify(r.body)).toBe(status);
  expect(Object.keys(r.body ?? {})).toEqual(['errors']);
  expect(r.body.errors).toHaveLength(1);
  const e = r.body.errors[0];
  expect(Object.keys(e).sort()).toEqual(
    ['code', 'detail', 'global_request_id', 'links', 'related_resources', 'request_id', 'response', 'status', 'title'].sort(),
  );
  expect(typeof e.code).toBe('string');
  if (code) expect(e.code).toBe(code);
  expect(e.title).toBe(e.code);
  expect(e.status).toBe(status);
  expect(e.request_id).toMatch(/^req-[0-9a-f-]{36}$/);
  expect(e.global_request_id).toMatch(/^req-[0-9a-f-]{36}$/);
  expect(e.links).toEqual([]);
  expect(e.related_resources).toEqual([]);
  expect(e.response).toBeNull();
  if (Array.isArray(e.detail)) {
    expect(e.detail.length).toBeGreaterThan(0);
    for (const d of e.detail) {
      expect(Object.keys(d).sort()).toEqual(['loc', 'msg', 'type_']);
      expect(Array.isArray(d.loc) && d.loc.every((s: unknown) => typeof s === 'string')).toBe(true);
      expect(typeof d.msg === 'string' && d.msg.length > 0).toBe(true);
      expect(typeof d.type_).toBe('string');
    }
  } else {
    expect(typeof e.detail === 'string' && e.detail.length > 0).toBe(true);
  }
  return e;
}
