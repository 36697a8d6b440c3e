/**
 * Two independent request pools, demand and prefetch, so a demand read never waits for a slot
 * held by prefetch. A prefetch request still queued when a demand read comes to need the same
 * blocks is promoted into the demand pool.
 */

interface Task {
  run: () => void;
  priority: "demand" | "prefetch";
  started: boolean;
}

export interface ScheduledTask<T> {
  promise: Promise<T>;
  /** Move a queued prefetch task into the demand pool (no-op once started). */
  promote(): void;
}

export class RequestScheduler {
  private readonly queues = { demand: [] as Task[], prefetch: [] as Task[] };
  private readonly active = { demand: 0, prefetch: 0 };

  constructor(private readonly limits: { demand: number; prefetch: number }) {}

  schedule<T>(priority: "demand" | "prefetch", fn: () => Promise<T>): ScheduledTask<T> {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const task: Task = {
      priority,
      started: false,
      run: () => {
        task.started = true;
        const pool = task.priority;
        this.active[pool]++;
        fn()
          .then(resolve, reject)
          .finally(() => {
            this.active[pool]--;
            this.pump(pool);
          });
      },
    };
    this.queues[priority].push(task);
    this.pump(priority);
    return {
      promise,
      promote: () => {
        if (task.started || task.priority === "demand") return;
        const q = this.queues.prefetch;
        const i = q.indexOf(task);
        if (i >= 0) q.splice(i, 1);
        task.priority = "demand";
        this.queues.demand.push(task);
        this.pump("demand");
      },
    };
  }

  private pump(pool: "demand" | "prefetch"): void {
    const q = this.queues[pool];
    while (this.active[pool] < this.limits[pool] && q.length > 0) q.shift()!.run();
  }

  get queued(): { demand: number; prefetch: number } {
    return { demand: this.queues.demand.length, prefetch: this.queues.prefetch.length };
  }

  get inFlight(): { demand: number; prefetch: number } {
    return { ...this.active };
  }
}
