/**
 * What the console's zh-CN pages must not show (issue 16.5), read from a page as Chromium laid it out: ISO UTC times,
 * English status words, raw config keys, text running out of its box or a page scrolling sideways, at a laptop's
 * and at a tablet's width. console-zh-pages.test.ts walks every page with it, console-session.test.ts the session
 * page in each state; both photograph what they check.
 */
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { NAMED_KEYS } from '../../src/console/config-names.js';

/** Words the console used to show in zh-CN pages: status values, booleans, states (whole words, as written). */
const ENGLISH_WORDS = /\b(system|ok|yes|no|true|false|pass|fail|connected|disconnected|idle|recording|paused|missed|declared|detected|technician|active|disabled|overdue|black|frozen|silent|entries|none|null|undefined)\b/;
const ISO_Z = /\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z/;
/** Config keys as the JSON spells them: dotted paths and the schema's camelCase names. */
const CAMEL = [...new Set(NAMED_KEYS.map((k) => k.split('.').at(-1)!.replace('[]', '')).filter((k) => /[a-z][A-Z]/.test(k)))];
const RAW_KEY = new RegExp(`\\b(deviceId|stateDir|${CAMEL.join('|')})\\b|\\b(recording|uplink|console|time|gps|gpio|serial|agency|control)(\\.[a-zA-Z]+|\\[\\d+\\])`);

export interface PageFindings {
  iso: string[];
  english: string[];
  rawKeys: string[];
  overflow: string[];
  pageWide: boolean;
  mainText: string;
}

/**
 * What the issue forbids, read from the page as the browser laid it out. The script runs in the page (as source
 * text: the tests are type-checked without the DOM's types).
 */
export async function findings(page: Page): Promise<PageFindings> {
  const args = JSON.stringify({ iso: ISO_Z.source, english: ENGLISH_WORDS.source, raw: RAW_KEY.source });
  return page.evaluate(`(({ iso, english, raw }) => {
    // The config editor's JSON and a kept ffmpeg log are shown as they are, by design.
    const main = document.querySelector('main').cloneNode(true);
    main.querySelectorAll('textarea, pre, footer').forEach((e) => e.remove());
    document.body.appendChild(main);
    main.style.position = 'absolute';
    main.style.left = '-100000px';
    const mainText = main.innerText;
    main.remove();
    const text = document.querySelector('header').innerText + '\\n' + mainText;
    const all = (re) => [...text.matchAll(new RegExp(re, 'g'))].map((m) => m[0]);
    const overflow = [];
    document.querySelectorAll('main *, header, main').forEach((e) => {
      if (e.tagName === 'TEXTAREA' || e.clientWidth === 0) return;
      if (e.scrollWidth > e.clientWidth + 1) overflow.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className + ': ' + e.scrollWidth + ' > ' + e.clientWidth + ': ' + (e.innerText || '').slice(0, 80));
    });
    return { iso: all(iso), english: all(english), rawKeys: all(raw), overflow, pageWide: document.documentElement.scrollWidth > window.innerWidth, mainText };
  })(${args})`);
}

/**
 * Check a zh-CN page as the issue asks (times: it shows times, so the zone must be named) and photograph it to
 * `shot`; then at a tablet's width, nothing out of its box either.
 */
export async function checkZhPage(page: Page, shot: string, name: string, o: { times: boolean }): Promise<PageFindings> {
  await page.waitForLoadState();
  const f = await findings(page);
  expect(f.iso, `${name}: ISO UTC times`).toEqual([]);
  expect(f.english, `${name}: English words`).toEqual([]);
  expect(f.rawKeys, `${name}: raw config keys`).toEqual([]);
  expect(f.overflow, `${name}: text out of its box`).toEqual([]);
  expect(f.pageWide, `${name}: the page scrolls sideways`).toBe(false);
  if (o.times) expect(f.mainText, `${name}: the zone`).toContain('北京时间 UTC+08:00');
  await page.screenshot({ path: shot, fullPage: true });
  const size = page.viewportSize() ?? { width: 1280, height: 900 };
  await page.setViewportSize({ width: 768, height: 1000 });
  const narrow = await findings(page);
  expect(narrow.overflow, `${name} at 768 px: text out of its box`).toEqual([]);
  expect(narrow.pageWide, `${name} at 768 px: the page scrolls sideways`).toBe(false);
  await page.setViewportSize(size);
  return f;
}
