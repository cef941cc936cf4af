// The agent's clockwork behind one small interface: production runs the cron
// expressions with node-cron; a test hands in a scheduler it fires itself.
import { schedule as cronSchedule, validate as validCron } from 'node-cron';
import type { Config } from '../config/config.js';

/** The jobs the agent schedules, by name. */
export type JobName = 'heartbeat' | 'rescan' | 'full-rehash';

export interface ScheduledJob {
  /** Stops the job; it never runs again. */
  cancel(): Promise<void>;
}

export interface Scheduler {
  /** Runs `run` at every match of the cron expression until cancelled. */
  every(name: JobName, cron: string, run: () => void): ScheduledJob;
}

/** The configuration keys that hold the schedules, and the job each one drives. */
export const SCHEDULES: readonly { key: 'heartbeatCron' | 'rescanCron' | 'fullRehashCron'; job: JobName }[] = [
  { key: 'heartbeatCron', job: 'heartbeat' },
  { key: 'rescanCron', job: 'rescan' },
  { key: 'fullRehashCron', job: 'full-rehash' },
];

/** Throws naming the key when a schedule is not a cron expression. */
export function validateSchedules(config: Config): void {
  for (const { key } of SCHEDULES) {
    if (!validCron(config[key])) {
      throw new Error(`${key} "${config[key]}" is not a valid cron expression (e.g. "*/5 * * * *")`);
    }
  }
}

/** node-cron; a job still running when its next time comes is not started twice. */
export function cronScheduler(): Scheduler {
  return {
    every(name, cron, run) {
      const task = cronSchedule(cron, run, { name, noOverlap: true });
      return { cancel: async () => void (await task.destroy()) };
    },
  };
}
