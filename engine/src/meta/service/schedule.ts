/**
 * Snapshot schedules with retention. No cron library: each policy is "every N ms, keep K",
 * checked on a tick (the service ticks once a minute; tests tick with an injected clock).
 * A policy is due when its newest snapshot is at least `everyMs` old. Retention deletes only
 * snapshots the same policy made (named `<policy>-<ISO time>`), oldest first.
 */
import { z } from "zod";
import type { SnapshotInfo } from "../api.js";

export interface SchedulePolicy {
  name: string;
  everyMs: number;
  keep: number;
}

export const schedulePolicySchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "policy name: lowercase letters, digits and -"),
  everyMs: z.number().int().min(60_000, "everyMs must be at least one minute"),
  keep: z.number().int().min(1, "keep must be at least 1"),
});

export const DEFAULT_SCHEDULE: readonly SchedulePolicy[] = [
  { name: "hourly", everyMs: 3_600_000, keep: 24 },
  { name: "daily", everyMs: 86_400_000, keep: 7 },
];

export interface ScheduleActions {
  list(): SnapshotInfo[];
  create(name: string, schedule: string): Promise<unknown>;
  remove(name: string): Promise<unknown>;
}

export async function runSchedule(
  policies: readonly SchedulePolicy[],
  now: number,
  act: ScheduleActions,
): Promise<void> {
  for (const p of policies) {
    const mine = () =>
      act
        .list()
        .filter((s) => s.schedule === p.name)
        .sort((a, b) => a.createdAt - b.createdAt);
    const newest = mine().at(-1);
    if (!newest || now - newest.createdAt >= p.everyMs) {
      await act.create(`${p.name}-${new Date(now).toISOString().replace(/[.]\d+Z$/, "Z")}`, p.name);
    }
    const all = mine();
    for (const old of all.slice(0, Math.max(0, all.length - p.keep))) await act.remove(old.name);
  }
}
