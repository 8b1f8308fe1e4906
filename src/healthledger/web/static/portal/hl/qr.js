// QR codes drawn as SVG in the browser (the vendored `uqr` encoder, web/vendor.json):
// byte mode, error correction M, the smallest version that holds the text. The SVG is
// built node by node, so the encoded text never passes through markup.
import { encode } from "uqr";

const SVG = "http://www.w3.org/2000/svg";
const QUIET_ZONE = 4; // modules of light margin on each side (ISO/IEC 18004 §6.3.8)

// The dark modules as one path: a run of dark modules in a row is one rectangle.
function pathOf(matrix) {
  const parts = [];
  matrix.forEach((row, y) => {
    let x = 0;
    while (x < row.length) {
      if (!row[x]) {
        x += 1;
        continue;
      }
      const start = x;
      while (x < row.length && row[x]) x += 1;
      parts.push(`M${start + QUIET_ZONE} ${y + QUIET_ZONE}h${x - start}v1h${start - x}z`);
    }
  });
  return parts.join("");
}

// An <svg> element showing `text` as a QR code; `label` is what a screen reader hears.
export function qrSvg(text, label = `QR code of ${text}`) {
  const code = encode(String(text), { ecc: "M", border: 0 });
  const size = code.size + 2 * QUIET_ZONE;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("class", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.dataset.version = String(code.version);
  const paper = document.createElementNS(SVG, "rect");
  for (const [name, value] of [["width", size], ["height", size], ["fill", "#ffffff"]]) paper.setAttribute(name, String(value));
  const ink = document.createElementNS(SVG, "path");
  ink.setAttribute("d", pathOf(code.data));
  ink.setAttribute("fill", "#000000");
  svg.append(paper, ink);
  return svg;
}

// What a patient's QR code holds: their pseudonym, nothing else (no name, no key).
export function patientQrText(patientId) {
  return patientId;
}
