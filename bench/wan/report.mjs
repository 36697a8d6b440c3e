/**
 * Turns results into the table (text + Markdown), the JSON file and the SVG plot.
 * results: { [workloadId]: { [system]: { value?, error?, rts?, latencyMs?, partial?, note? } } }
 */
import { barChartSvg } from "../lib/svg-plot.mjs";
import { markdownTable, num, textTable } from "../lib/table.mjs";

/** Which raw number a workload is compared with (undefined: no meaningful ratio). */
const RATIO_BASE = {
  seq_cold: "seq_cold",
  seq_warm: "seq_cold",
  frames: "seq_cold",
  frames_all: "seq_cold",
  rand_cold: "rand_cold",
  write_app: "write_store",
  write_store: "write_store",
};

function cell(info, results, system) {
  const r = results[info.id]?.[system];
  if (!r) return "";
  if (r.value === undefined) return r.error ? `✗ ${r.error}` : "–";
  let text = `${num(r.value)}`;
  if (r.rts !== undefined) text += ` (${num(r.rts)} RT)`;
  if (r.latencyMs !== undefined) text += ` (${num(r.latencyMs)} ms)`;
  const base = RATIO_BASE[info.id];
  const raw = base ? results[base]?.raw?.value : undefined;
  if (system !== "raw" && raw) text += ` ${(r.value / raw).toFixed(2)}×`;
  if (r.partial) text += ` [${r.partial}]`;
  if (r.error) text += ` ✗ ${r.error}`;
  return text;
}

export function tableRows(infos, results, systems) {
  return infos.map((info) => [`${info.label} [${info.unit}]`, ...systems.map((s) => cell(info, results, s))]);
}

/**
 * Bytes that crossed the store's proxy per workload: "down ↓ / up ↑" in MiB, and what serving
 * them cost the store side (s3rver + proxy) and the mount process in CPU ms per MiB moved.
 */
export function egressRows(infos, results, systems) {
  return infos
    .filter((info) => systems.some((sys) => results[info.id]?.[sys]?.egress))
    .map((info) => [
      info.label,
      ...systems.map((sys) => {
        const e = results[info.id]?.[sys]?.egress;
        if (!e) return "";
        const moved = e.down + e.up;
        const perMiB = (s) => num((1000 * s) / moved);
        let cpu = "";
        if (e.storeCpuS !== undefined && moved >= 1) cpu += ` · store ${perMiB(e.storeCpuS)}`;
        if (e.mountCpuS !== undefined && moved >= 1) cpu += ` · mount ${perMiB(e.mountCpuS)}`;
        if (cpu) cpu += " ms/MiB";
        const gets = e.requests ? ` · ${num(e.requests)} GETs` : "";
        return `${num(e.down)} ↓ / ${num(e.up)} ↑${gets}${cpu}`;
      }),
    ]);
}

export function printEgress(infos, results, systems) {
  return textTable(["store traffic [MiB] · CPU", ...systems], egressRows(infos, results, systems));
}

export function markdownEgress(infos, results, systems) {
  return markdownTable(["store traffic [MiB] · CPU", ...systems], egressRows(infos, results, systems));
}

export function printTable(infos, results, systems) {
  return textTable(["workload", ...systems], tableRows(infos, results, systems));
}

export function markdown(infos, results, systems) {
  return markdownTable(["workload", ...systems], tableRows(infos, results, systems));
}

export function svg(infos, results, systems, subtitle) {
  return barChartSvg({
    title: "Filespaces WAN benchmark (50 ms RTT) — raw store limit vs filespace, s3fs, rclone",
    subtitle,
    systems,
    panels: infos.map((info) => ({
      title: info.label,
      unit: info.unit,
      better: info.better,
      values: Object.fromEntries(systems.map((s) => [s, results[info.id]?.[s]?.value])),
      notes: Object.fromEntries(
        systems.map((s) => {
          const r = results[info.id]?.[s];
          if (!r) return [s, "not run"];
          if (r.value === undefined)
            return [s, r.error?.startsWith("`filespace") ? "not available yet" : (r.error ?? "n/a").slice(0, 40)];
          return [s, r.partial ? "(timed out, partial)" : r.rts !== undefined ? `(${num(r.rts)} RT)` : ""];
        }),
      ),
    })),
  });
}
