// When a Greengrass IPC server keeps refusing our auth token, and when exiting for it is allowed.
//
// Nucleus lite keeps component tokens (SVCUID) only in its IPC daemon's memory: once that daemon
// restarts, the token in our environment is refused at every handshake, and only a restart of the
// component (its unit's `Restart=on-failure`) hands it a fresh one. A restart is not free: the
// component's unit allows 3 starts per hour (`StartLimitBurst=3`, `StartLimitInterval=3600`; the
// first start counts), and past that it stays failed until the next deployment. So:
//
// 1. Only an explicit refusal counts: the nucleus answered the handshake and turned us down
//    (`refused`). A socket that is missing or not answering (`unreachable`: the nucleus is
//    starting, stopping or hung) breaks the streak: there is nobody to ask for a new token yet.
// 2. The token is dead after `limit` refusals in a row whose first is at least `minSpanMs` old.
//    Nucleus lite's IPC daemon may restart at most 10 times in 20 s before systemd gives up on it
//    (its unit's StartLimitBurst=10, StartLimitInterval=20, RestartSec=1): a daemon that has kept
//    answering for longer than that has settled, so a restart now gets a token that lasts.
// 3. At most `maxExits` exits for a dead token per `exitWindowMs` (a ledger in the state folder
//    remembers them across restarts): one per hour leaves room in the unit's three starts for
//    the first start and one other failure, whatever the daemon does. A later one waits, and
//    says until when.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../state/atomic.js';

export type HandshakeOutcome = 'accepted' | 'refused' | 'unreachable';

export interface RefusalPolicy {
  limit: number;
  minSpanMs: number;
  maxExits: number;
  exitWindowMs: number;
}

export const DEFAULT_REFUSAL_POLICY: RefusalPolicy = {
  limit: 3,
  minSpanMs: 30_000,
  maxExits: 1,
  exitWindowMs: 60 * 60_000,
};

/** Consecutive refused handshakes; any other outcome ends the run. */
export class RefusalStreak {
  private count = 0;
  private firstAt: number | undefined;

  constructor(private readonly policy: Pick<RefusalPolicy, 'limit' | 'minSpanMs'>) {}

  /** Records one handshake attempt; true when the token is to be taken as dead. */
  record(outcome: HandshakeOutcome, now: number): boolean {
    if (outcome !== 'refused') {
      this.count = 0;
      this.firstAt = undefined;
      return false;
    }
    this.count++;
    this.firstAt ??= now;
    return this.count >= this.policy.limit && now - this.firstAt >= this.policy.minSpanMs;
  }

  get refusals(): number {
    return this.count;
  }

  get since(): number | undefined {
    return this.firstAt;
  }
}

/**
 * The earliest time (ms) an exit for a dead token is allowed, given the times of earlier such
 * exits; `now` when it is allowed at once.
 */
export function exitAllowedAt(pastExits: readonly number[], now: number, policy: Pick<RefusalPolicy, 'maxExits' | 'exitWindowMs'>): number {
  const recent = pastExits.filter((t) => t <= now && now - t < policy.exitWindowMs).sort((a, b) => a - b);
  if (recent.length < policy.maxExits) return now;
  // The oldest exit that keeps us at the cap has to leave the window first.
  return recent[recent.length - policy.maxExits]! + policy.exitWindowMs;
}

/** Where the exits for a dead token are remembered (a small JSON file in the state folder). */
export interface ExitLedger {
  read(): Promise<number[]>;
  record(at: number): Promise<void>;
}

const LEDGER_SCHEMA = 'deploy-witness/ipc-restarts';
/** Bounded: older entries say nothing about the window. */
const LEDGER_MAX = 16;

export function fileExitLedger(path: string): ExitLedger {
  const read = async (): Promise<number[]> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return [];
    }
    try {
      const doc = JSON.parse(text) as { schema?: unknown; exits?: unknown };
      if (doc.schema !== LEDGER_SCHEMA || !Array.isArray(doc.exits)) return [];
      return doc.exits.filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
    } catch {
      // A torn or foreign file must not keep the agent from recovering: start afresh.
      return [];
    }
  };
  return {
    read,
    async record(at) {
      const exits = [...(await read()), at].sort((a, b) => a - b).slice(-LEDGER_MAX);
      await writeFileAtomic(path, JSON.stringify({ schema: LEDGER_SCHEMA, exits }) + '\n');
    },
  };
}
