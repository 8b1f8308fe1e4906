// Read a 2D code from the camera with the browser's BarcodeDetector (Shape Detection API),
// where the browser has one: a patient's QR code on the clinician's page, a pack's GS1
// DataMatrix or Digital Link QR on the pharmacist's. Elsewhere the person types or pastes.
const EVERY_MS = 200;

// The formats of `wanted` this browser's camera reader knows; [] when it has none.
export async function cameraFormats(wanted) {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices?.getUserMedia) return [];
  const supported = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
  return wanted.filter((format) => supported.includes(format));
}

// Show the camera in `video` and look for a code of `formats`. The first code `accept`
// turns into a value (not null) stops the camera and is passed to `found`; codes it
// refuses (a stray barcode in view) are ignored. Leaving the page stops the camera too.
// Returns { stop() }; throws if there is no reader or no camera (the error names why).
export async function startCamera(video, found, { formats, accept = (text) => text }) {
  const usable = await cameraFormats(formats);
  if (!usable.length) throw new Error("this browser cannot read these codes from the camera");
  const detector = new window.BarcodeDetector({ formats: usable });
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  let running = true;
  const stop = () => {
    running = false;
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    video.hidden = true;
  };
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const page = video.closest("section[data-page]");
  const look = async () => {
    if (!running) return;
    if (page && page.hidden) return stop();
    const codes = await detector.detect(video).catch(() => []); // an unreadable frame: try the next
    const value = codes.map((code) => accept(code.rawValue)).find((v) => v !== null && v !== undefined);
    if (value !== undefined && running) {
      stop();
      found(value);
      return undefined;
    }
    setTimeout(look, EVERY_MS);
    return undefined;
  };
  look();
  return { stop };
}

// Why the camera could not start, in the person's words.
export function cameraProblem(error) {
  if (error && error.name === "NotAllowedError") return "permission to use the camera was not given";
  if (error && error.name === "NotFoundError") return "this device has no camera";
  return error instanceof Error ? error.message : String(error);
}
