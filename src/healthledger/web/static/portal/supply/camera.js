// Read a pack's 2D code from the camera with the browser's BarcodeDetector (Shape
// Detection API), where the browser has one: GS1 DataMatrix on packs, QR for Digital Links.
const FORMATS = ["data_matrix", "qr_code"];
const EVERY_MS = 200;

// Start the camera in `video`; call `found(rawValue)` once with the first code read,
// then stop. Returns {stop()}; throws if there is no detector or no camera.
export async function startCamera(video, found) {
  if (!("BarcodeDetector" in window)) throw new Error("this browser has no barcode detector");
  const supported = await window.BarcodeDetector.getSupportedFormats();
  const detector = new window.BarcodeDetector({ formats: FORMATS.filter((f) => supported.includes(f)) });
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
    // Leaving the page turns the camera off.
    if (!running) return;
    if (page && page.hidden) {
      stop();
      return;
    }
    try {
      const codes = await detector.detect(video);
      if (codes.length && running) {
        stop();
        found(codes[0].rawValue);
        return;
      }
    } catch {
      // A frame the detector could not read: try the next one.
    }
    setTimeout(look, EVERY_MS);
  };
  look();
  return { stop };
}
