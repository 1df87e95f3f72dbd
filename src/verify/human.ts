/** The verifier's report in sentences, for people (the JSON says the same for programs). */
import type { VerifyReport } from './findings.js';
import { matterByCode, reasonByCode } from '../evidence/vocabulary.js';
import { DEFAULT_ZONE, localClock, zoneLabel } from '../util/local-time.js';

const KIND_TEXT: Record<string, string> = {
  'bad-signature': 'bad signature',
  'untrusted-certificate': 'untrusted certificate',
  'broken-chain': 'broken chain',
  'suite-switch': 'algorithm suite switched without rotation',
  'missing-segment': 'missing segment',
  'altered-segment': 'altered segment',
  'unexplained-gap': 'unexplained gap',
  'unclosed-session': 'unclosed session',
  malformed: 'malformed',
  'deleted-without-receipt': 'deleted without receipt',
  'bad-receipt': 'bad receipt',
  'receipt-contradicted': 'contradicts the agency',
  rollback: 'rolled back',
  'bad-log': 'bad agency log',
  'bad-log-sm2': "agency log's SM2 signature missing or bad",
  unlogged: 'not in the agency log',
  'revoked-key': 'revoked key',
  'time-reversed': 'time runs backwards',
  'wrong-encryption-key': 'wrong encryption key',
  'unconfirmed-statement': 'statement not confirmed by two officers\' PINs',
  'unconfirmed-session': 'officers\' PIN confirmations missing',
  'bad-deletion': 'deletion not signed or logged by the agency',
  'deletion-within-term': 'deleted within its retention term',
  'deletion-of-evidence': 'evidence deleted',
};

/** Receipted deletions: those files are at the agency, not here (verify the agency's store for them). */
const deletedNote = (n: number): string => (n > 0 ? ` (${n} deleted here after the agency's receipt; the agency's store holds ${n === 1 ? 'it' : 'them'})` : '');

/** Files the agency deleted after their retention term, each under a signed, logged deletion event. */
const retainedNote = (n: number): string => (n > 0 ? ` (${n} deleted by the agency after the retention term, under signed deletion events in its log)` : '');

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Times in the zone people read (findings' details keep the ledger's UTC, so they can be looked up there). */
/** Segments whose times rest on a clock nobody measured as synchronised: flagged for the reader, not a finding. */
function clockNote(c: { unsynchronised: number; assumed: number }, of: number): string {
  const parts = [
    ...(c.unsynchronised > 0 ? [`${c.unsynchronised} of ${plural(of, 'segment')} timed by a clock that was NOT synchronised`] : []),
    ...(c.assumed > 0 ? [`${c.assumed} of ${plural(of, 'segment')} by a clock only ASSUMED synchronised (time.assumeSynchronised: the OS did not confirm it)`] : []),
  ];
  return `Clock: ${parts.join('; ')}; their times are the gateway's word.`;
}

export function formatReport(r: VerifyReport, zone = DEFAULT_ZONE): string {
  const t = (iso: string): string => localClock(iso, zone);
  const firstTime = r.devices.flatMap((d) => d.sessions.map((s) => Date.parse(s.start))).find(Number.isFinite) ?? Date.now();
  const out: string[] = [`Times are ${zoneLabel(firstTime, zone)}.`];
  if (r.log) {
    const w =
      r.log.witnesses.length > 0
        ? `; its checkpoint of ${r.log.witnessedSize} leaves cosigned by ${r.log.witnesses.map((x) => `${x.name} (${t(x.time)})`).join(', ')}`
        : '; no witness cosignature checked (give --witness VKEY)';
    const anchor = r.log.anchoredTo ? `; agrees with the trusted checkpoint of ${r.log.anchoredTo.size} leaves` : '';
    const sm2 = r.log.sm2 ? `; its checkpoint SM2-signed by ${r.log.sm2.certificate} (key ID ${r.log.sm2.keyId})` : '';
    out.push(`Agency log ${r.log.origin}: ${r.log.size} leaves, root ${r.log.root}${sm2}${w}${anchor}.`);
  }
  for (const d of r.devices) {
    const bad = r.findings.filter((f) => f.deviceId === d.deviceId).length;
    out.push(
      `Device ${d.deviceId}${d.agency === false ? ' (an export: only the device vouches for it; no agency receipt or log)' : ''}: ` +
        `${plural(d.entries, 'ledger entry', 'ledger entries')}, ${plural(d.segments, 'sealed segment')}${deletedNote(d.deletedSegments ?? 0)}${retainedNote(d.retentionDeleted ?? 0)}, ` +
        `${plural(d.sessions.length, 'session')}${bad === 0 ? ' - every check passed.' : ` - ${plural(bad, 'problem')}.`}`,
    );
    for (const b of d.superseded ?? []) {
      out.push(`  Entries ${b.from} to ${b.through} were signed by an older key and superseded by a newer certificate on ${t(b.accepted)}; kept in ${b.folder}. Ask the agency why (a stolen or replaced key).`);
    }
    for (const s of d.sessions) {
      const m = matterByCode(s.matter);
      const matter = m ? `${m.zh} ${m.en}` : s.matter;
      const span = `${t(s.start)} to ${s.end ? t(s.end) : '(never closed)'}`;
      out.push(`  Session ${s.sessionId}: ${matter}, case ${s.caseRef || '(none)'}, ${span}, ${s.recordedSeconds.toFixed(1)} s recorded.`);
      if (s.officers.length > 0) out.push(`    Officers: ${s.officers.map((o) => `${o.name} (${o.badge})`).join(', ')}.`);
      for (const g of s.gaps) {
        const reason = g.reason ? (reasonByCode(g.reason)?.en ?? g.reason) : null;
        out.push(`    ${g.source} has no footage from ${t(g.start)} to ${t(g.end)}: ${g.explained ? `explained (${reason})` : 'NOT explained'}.`);
      }
      if (s.clock.unsynchronised + s.clock.assumed > 0) out.push(`    ${clockNote(s.clock, s.segments)}`);
      if (s.closedBy === 'terminated') out.push(`    Ended by an interruption that never resumed; written statement ${s.statement ? 'confirmed by two officers' : 'MISSING'}.`);
      const ex = s.explanations;
      if (ex) {
        const missing = ex.missing > 0 ? `; not heard after ${ex.missing}, written statement ${s.statement ? 'confirmed by two officers' : 'MISSING'}` : '';
        out.push(`    Spoken explanation of the interruption heard after ${ex.heard} resume(s)${missing}.`);
      }
    }
  }
  if (r.findings.length > 0) {
    out.push('', 'Problems found:');
    for (const f of r.findings) out.push(`  - ${KIND_TEXT[f.kind] ?? f.kind} (${f.deviceId}): ${f.detail}`);
  }
  // Receipted deletions are allowed, so a valid store with some says what was deleted rather than "nothing".
  const receipted = r.devices.some((d) => (d.deletedSegments ?? 0) > 0);
  const retained = r.devices.some((d) => (d.retentionDeleted ?? 0) > 0);
  const deleted = retained
    ? `Nothing was deleted but ${receipted ? 'after the agency\'s receipt or ' : ''}under the agency's signed retention deletions after their term`
    : receipted
      ? 'Nothing was deleted without the agency\'s receipt'
      : 'Nothing was deleted';
  out.push(
    '',
    r.ok
      ? `Result: VALID. ${deleted}, altered, inserted or reordered, and every gap is explained.`
      : `Result: NOT VALID (${plural(r.findings.length, 'problem')}).`,
  );
  return out.join('\n');
}
