// The node e2e skip list, in one place (same kinds as critest's, test/conformance/skips.ts):
//   host     — this machine lacks the feature; `when` detects it at run time.
//   upstream — the spec needs something no offline build reproduces (an upstream digest).
//   todo     — berth does not do it yet; `issue` is the open issue that will.
import { activeSkips as active, type Skip } from '../conformance/skips.js';

export const skips: Skip[] = [];

/** The entries that apply on this host. */
export const activeSkips = (): Skip[] => active(skips);
