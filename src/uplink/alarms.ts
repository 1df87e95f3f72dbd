/**
 * Upload deadline alarms: warn at configured times before a deadline and when it passes without a receipt. Each
 * item raises each level once; items crossing a level in the same check share one ledger entry, so a vehicle
 * back from days out of coverage writes a handful of alarms, not one per segment.
 */
import { kvGet, kvSet, type Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { ENTRY } from '../evidence/types.js';
import type { UploadQueue } from './queue.js';

export interface Alarm {
  item: string;
  deadline: string;
  level: string;
}

const HOUR = 3600_000;
const MAX_NAMED = 100;
const ENTRIES_ITEM = 'entries';
const ENTRIES_BACKLOG = 'uplink.alarms.entriesDeadline';

/** Level names, most urgent last: "6h", "1h", "missed". */
export function alarmLevels(hoursBefore: number[]): { level: string; beforeMs: number }[] {
  return [...hoursBefore]
    .sort((a, b) => b - a)
    .map((h) => ({ level: `${h}h`, beforeMs: h * HOUR }))
    .concat([{ level: 'missed', beforeMs: 0 }]);
}

export class DeadlineAlarms {
  private levels: { level: string; beforeMs: number }[];

  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private readonly queue: UploadQueue,
    hoursBefore: number[],
  ) {
    this.levels = alarmLevels(hoursBefore);
  }

  /** A changed config's alarm times, from the next check on. */
  setHoursBefore(hoursBefore: number[]): void {
    this.levels = alarmLevels(hoursBefore);
  }

  /** Raise what is due at `nowMs`; returns the alarms raised now. */
  check(nowMs: number): Alarm[] {
    this.followEntriesBacklog();
    const items: { item: string; deadlineMs: number }[] = this.queue.nextFiles(100_000).map((f) => ({ item: f.name, deadlineMs: f.deadlineMs }));
    const ed = this.queue.entriesDeadlineMs();
    if (ed !== null) items.push({ item: ENTRIES_ITEM, deadlineMs: ed });
    const raised = this.db.prepare('SELECT item, level FROM uplink_alarms').all() as { item: string; level: string }[];
    const done = new Set(raised.map((r) => `${r.item}\u0000${r.level}`));
    const byLevel = new Map<string, { item: string; deadlineMs: number }[]>();
    for (const it of items) {
      // Only the most urgent level crossed is raised; the ones before it are marked as passed with it.
      // "missed" only once the deadline has passed: a receipt stored exactly at the deadline is on time.
      const crossed = this.levels.filter((l) => (l.beforeMs === 0 ? nowMs > it.deadlineMs : nowMs >= it.deadlineMs - l.beforeMs));
      const top = crossed[crossed.length - 1];
      if (!top || done.has(`${it.item}\u0000${top.level}`)) continue;
      const list = byLevel.get(top.level) ?? [];
      list.push(it);
      byLevel.set(top.level, list);
    }
    const out: Alarm[] = [];
    const mark = this.db.prepare('INSERT OR IGNORE INTO uplink_alarms(item, level) VALUES (?, ?)');
    for (const [level, list] of byLevel) {
      list.sort((a, b) => a.deadlineMs - b.deadlineMs);
      const deadline = new Date(list[0]!.deadlineMs).toISOString();
      this.ledger.append(
        ENTRY.alarmRaised,
        { kind: 'upload-deadline', level, deadline, count: list.length, items: list.slice(0, MAX_NAMED).map((i) => i.item) },
        () => {
          for (const it of list) {
            for (const l of this.levels) {
              mark.run(it.item, l.level);
              if (l.level === level) break;
            }
          }
        },
      );
      for (const it of list) out.push({ item: it.item, deadline: new Date(it.deadlineMs).toISOString(), level });
    }
    return out;
  }

  /** Alarms standing now: raised for items that still lack a receipt, most urgent level per item. */
  standing(): Alarm[] {
    this.followEntriesBacklog();
    const pending = new Map(this.queue.nextFiles(100_000).map((f) => [f.name, f.deadlineMs]));
    const ed = this.queue.entriesDeadlineMs();
    if (ed !== null) pending.set(ENTRIES_ITEM, ed);
    const rank = new Map(this.levels.map((l, i) => [l.level, i]));
    const best = new Map<string, string>();
    for (const r of this.db.prepare('SELECT item, level FROM uplink_alarms').all() as { item: string; level: string }[]) {
      if (!pending.has(r.item)) continue;
      const cur = best.get(r.item);
      if (cur === undefined || (rank.get(r.level) ?? -1) > (rank.get(cur) ?? -1)) best.set(r.item, r.level);
    }
    return [...best].map(([item, level]) => ({ item, level, deadline: new Date(pending.get(item)!).toISOString() }));
  }

  /**
   * Entries alarms belong to one backlog (named by its deadline): when the receiver confirms it and a new one
   * starts, the old backlog's alarms no longer stand and the new one may raise its own.
   */
  private followEntriesBacklog(): void {
    const current = String(this.queue.entriesDeadlineMs());
    if (kvGet(this.db, ENTRIES_BACKLOG) === current) return;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM uplink_alarms WHERE item = ?').run(ENTRIES_ITEM);
      kvSet(this.db, ENTRIES_BACKLOG, current);
    })();
  }
}
