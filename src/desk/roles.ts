/** The desk's roles (issue 17): codes stored in desk_accounts, and what people call them. */
export const ROLES = [
  { code: 'evidence-officer', zh: '证据管理员', en: 'evidence officer' },
  { code: 'leader', zh: '负责人', en: 'leader' },
  { code: 'supervisor', zh: '监督/法制审核', en: 'supervisor' },
  { code: 'read-only', zh: '只读', en: 'read-only' },
] as const;

export type Role = (typeof ROLES)[number]['code'];

/** A role by its code or either of its names; undefined when there is none. */
export function roleOf(text: string): Role | undefined {
  const t = text.trim();
  return ROLES.find((r) => r.code === t || r.zh === t || r.en === t)?.code;
}

export const roleName = (role: Role, lang: 'zh' | 'en'): string => ROLES.find((r) => r.code === role)![lang];

/** Whether the role may change anything (every write of the desk asks this; read-only accounts may not). */
export const mayWrite = (role: Role): boolean => role !== 'read-only';

/** Whether the role oversees the desk itself (reads its audit trail): leaders and supervisors. */
export const mayOversee = (role: Role): boolean => role === 'leader' || role === 'supervisor';

/** Whether the role runs the sample check (制度 §22): draws, checks and signs. Only supervisors; the rest read it. */
export const maySupervise = (role: Role): boolean => role === 'supervisor';
