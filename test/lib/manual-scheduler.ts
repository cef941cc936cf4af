// A Scheduler the test fires itself, in place of node-cron: the agent's jobs
// run when the test says so, and a test can see which are still scheduled.
import type { JobName, ScheduledJob, Scheduler } from '../../src/agent/schedule.js';

export class ManualScheduler implements Scheduler {
  private readonly jobs = new Map<JobName, { cron: string; run: () => void }>();

  every(name: JobName, cron: string, run: () => void): ScheduledJob {
    if (this.jobs.has(name)) throw new Error(`job ${name} scheduled twice`);
    this.jobs.set(name, { cron, run });
    return {
      cancel: async () => {
        this.jobs.delete(name);
      },
    };
  }

  /** The jobs scheduled and not cancelled, by name. */
  get active(): JobName[] {
    return [...this.jobs.keys()].sort();
  }

  /** The cron expression a job was scheduled with. */
  cronOf(name: JobName): string | undefined {
    return this.jobs.get(name)?.cron;
  }

  /** Runs a job as its time coming would; false when it is not scheduled (never, or cancelled). */
  fire(name: JobName): boolean {
    const job = this.jobs.get(name);
    job?.run();
    return job !== undefined;
  }
}
