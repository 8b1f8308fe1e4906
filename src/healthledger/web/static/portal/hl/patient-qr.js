// The patient's own QR code: their pseudonym, for a clinician to scan from this screen.
// Fills #patient-qr (left by the patient page's template) when the element is there.
import { patientQrText, qrSvg } from "./qr.js";
import { el, replace } from "./ui.js";

export function fillPatientQr(root, session) {
  const box = (root ?? document).querySelector("#patient-qr");
  if (!box) return false;
  if (!session || session.kind !== "patient") {
    replace(box);
    return false;
  }
  const id = session.patientId;
  replace(
    box,
    qrSvg(patientQrText(id), `QR code of your pseudonym ${id}`),
    el("p", { class: "qr-caption" }, "Show this to a clinician to share your pseudonym: ", el("code", {}, id)),
  );
  return true;
}
