// A small SVG line chart, written here (no library): one or more series of dated values.
// Accessible: role="img" with a <title> and a <desc> that says the range in words; the
// page puts the same values in a table beside it. Presentation attributes only (no style=),
// so the portal's Content-Security-Policy holds.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 240;
const PAD = { left: 56, right: 16, top: 16, bottom: 40 };
// Distinct by colour and by dash, so two lines differ without colour vision too.
const STYLES = [
  { stroke: "#0b5cad", dash: "" },
  { stroke: "#a3161b", dash: "6 4" },
  { stroke: "#1b6e34", dash: "2 3" },
];

function node(tag, attrs = {}, text = null) {
  const made = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) made.setAttribute(name, String(value));
  if (text !== null) made.textContent = text;
  return made;
}

function extent(values) {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) {
    const pad = Math.abs(low) * 0.1 || 1;
    low -= pad;
    high += pad;
  }
  const pad = (high - low) * 0.1;
  return [low - pad, high + pad];
}

function label(value) {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString();
}

// `series`: [{ name, unit, points: [{ date (ISO), value }] }]; `id` makes the title/desc ids.
export function lineChart(series, { id, title }) {
  const all = series.flatMap((s) => s.points.map((p) => ({ ...p, t: Date.parse(p.date) }))).filter((p) => !Number.isNaN(p.t));
  const [vLow, vHigh] = extent(all.map((p) => p.value));
  const [tLow, tHigh] = all.length > 1 && Math.min(...all.map((p) => p.t)) !== Math.max(...all.map((p) => p.t))
    ? [Math.min(...all.map((p) => p.t)), Math.max(...all.map((p) => p.t))]
    : [all[0].t - 86_400_000, all[0].t + 86_400_000];
  const x = (t) => PAD.left + ((t - tLow) / (tHigh - tLow)) * (WIDTH - PAD.left - PAD.right);
  const y = (v) => HEIGHT - PAD.bottom - ((v - vLow) / (vHigh - vLow)) * (HEIGHT - PAD.top - PAD.bottom);

  const titleId = `${id}-title`;
  const descId = `${id}-desc`;
  const svg = node("svg", {
    class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": `${titleId} ${descId}`,
  });
  svg.append(node("title", { id: titleId }, title));
  svg.append(node("desc", { id: descId }, describe(series)));

  for (const v of [vLow + (vHigh - vLow) * 0.1, (vLow + vHigh) / 2, vHigh - (vHigh - vLow) * 0.1]) {
    svg.append(node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), stroke: "#c9d3dc", "stroke-width": 1 }));
    svg.append(node("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#4a5a68" }, label(v)));
  }
  svg.append(node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: HEIGHT - PAD.bottom, y2: HEIGHT - PAD.bottom, stroke: "#4a5a68" }));
  const first = new Date(tLow + (all.length > 1 ? 0 : 86_400_000)).toISOString().slice(0, 10);
  const last = new Date(tHigh - (all.length > 1 ? 0 : 86_400_000)).toISOString().slice(0, 10);
  svg.append(node("text", { x: PAD.left, y: HEIGHT - PAD.bottom + 18, "font-size": 12, fill: "#4a5a68" }, first));
  if (last !== first) {
    svg.append(node("text", { x: WIDTH - PAD.right, y: HEIGHT - PAD.bottom + 18, "text-anchor": "end", "font-size": 12, fill: "#4a5a68" }, last));
  }

  series.forEach((s, i) => {
    const style = STYLES[i % STYLES.length];
    const points = s.points.map((p) => [x(Date.parse(p.date)), y(p.value)]).filter(([px]) => !Number.isNaN(px));
    if (points.length > 1) {
      svg.append(node("polyline", {
        points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "),
        fill: "none", stroke: style.stroke, "stroke-width": 2, "stroke-dasharray": style.dash || "none",
      }));
    }
    for (const [px, py] of points) svg.append(node("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 4, fill: style.stroke }));
    if (series.length > 1) {
      const lx = PAD.left + i * 200;
      svg.append(node("line", { x1: lx, x2: lx + 24, y1: HEIGHT - 8, y2: HEIGHT - 8, stroke: style.stroke, "stroke-width": 2, "stroke-dasharray": style.dash || "none" }));
      svg.append(node("text", { x: lx + 30, y: HEIGHT - 4, "font-size": 12, fill: "#14202b" }, s.name));
    }
  });
  return svg;
}

// The chart in words: each series' number of readings, range and latest value.
function describe(series) {
  return series.map((s) => {
    const values = s.points.map((p) => p.value);
    const latest = s.points[s.points.length - 1];
    const range = values.length > 1 ? `from ${Math.min(...values)} to ${Math.max(...values)} ${s.unit}, ` : "";
    return `${s.name}: ${values.length} reading${values.length === 1 ? "" : "s"}, ${range}latest ${latest.value} ${s.unit} on ${latest.date.slice(0, 10)}.`;
  }).join(" ");
}
