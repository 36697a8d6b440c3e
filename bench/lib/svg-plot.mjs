/**
 * A hand-written SVG bar chart (no plotting library is installed): one small panel per
 * metric, each with its own scale and unit, one bar per system. Units differ between
 * workloads (MiB/s, ms, files/s), so panels never share an axis; each panel says whether
 * higher or lower is better.
 */

const PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6"];
/** Stable colours per system name, so plots of different runs read alike. */
const NAMED = { raw: "#6b7280", filespace: "#2563eb", s3fs: "#f59e0b", rclone: "#10b981" };
const colorOf = (system, j) => NAMED[system] ?? PALETTE[j % PALETTE.length];

const xmlEscape = (s) =>
  String(s).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);

/**
 * panels: [{ title, unit, better: "higher"|"lower", values: { [system]: number|undefined, … },
 * notes?: { [system]: string } }], systems: ordered system names.
 */
export function barChartSvg({ title, subtitle, systems, panels, columns = 2 }) {
  const panelW = 460;
  const barH = 18;
  const gap = 6;
  const labelW = 90;
  const panelH = 40 + systems.length * (barH + gap) + 16;
  const rows = Math.ceil(panels.length / columns);
  const width = columns * panelW + 20;
  const height = 70 + rows * panelH;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${xmlEscape(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="17" font-weight="bold">${xmlEscape(title)}</text>`,
    `<text x="10" y="44" fill="#444">${xmlEscape(subtitle ?? "")}</text>`,
  ];
  panels.forEach((p, i) => {
    const x0 = 10 + (i % columns) * panelW;
    const y0 = 60 + Math.floor(i / columns) * panelH;
    const vals = systems.map((s) => p.values[s]).filter((v) => Number.isFinite(v) && v > 0);
    const max = vals.length ? Math.max(...vals) : 1;
    const barMax = panelW - labelW - 160;
    out.push(
      `<text x="${x0}" y="${y0 + 16}" font-weight="bold">${xmlEscape(p.title)}</text>`,
      `<text x="${x0}" y="${y0 + 31}" fill="#666" font-size="11">${xmlEscape(p.unit)} — ${p.better} is better</text>`,
    );
    systems.forEach((s, j) => {
      const y = y0 + 40 + j * (barH + gap);
      const v = p.values[s];
      out.push(`<text x="${x0}" y="${y + 13}">${xmlEscape(s)}</text>`);
      if (Number.isFinite(v) && v > 0) {
        const w = Math.max(1, (v / max) * barMax);
        const label = v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3);
        out.push(
          `<rect x="${x0 + labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colorOf(s, j)}"/>`,
          `<text x="${x0 + labelW + w + 4}" y="${y + 13}">${xmlEscape(label)}${p.notes?.[s] ? ` ${xmlEscape(p.notes[s])}` : ""}</text>`,
        );
      } else {
        out.push(`<text x="${x0 + labelW}" y="${y + 13}" fill="#999">${xmlEscape(p.notes?.[s] ?? "n/a")}</text>`);
      }
    });
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
