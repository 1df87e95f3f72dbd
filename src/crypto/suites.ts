/** The suites by name (suite.ts): what a reader calls with the `suite` member of a record. */
import { gmSuite } from './gm/gm-suite.js';
import { intlSuite } from './intl-suite.js';
import { suiteNameOf, type Suite, type SuiteName } from './suite.js';

const SUITES: Record<SuiteName, Suite> = { intl: intlSuite, gm: gmSuite };

/** The suite a record names (`intl` when it names none); throws a RecgwError ('invalid') for an unknown name. */
export function suiteOf(name: unknown): Suite {
  return SUITES[suiteNameOf(name)];
}
