"""The patient's QR code: drawn by hl/qr.js in Chromium, rasterised there, and decoded
here by zxing-cpp, an independent decoder: what a clinician's scanner would read."""

from __future__ import annotations

import json
from typing import Any

import pytest
import zxingcpp
from playwright.sync_api import Page

from web.conftest import Portal, sign_in_as

SCALE = 6  # pixels per module

RASTERISE = """async ([text, scale]) => {
  const { qrSvg } = await import("/static/portal/hl/qr.js");
  const svg = text === null ? document.querySelector("#patient-qr svg") : qrSvg(text);
  const source = new XMLSerializer().serializeToString(svg);
  const image = new Image();
  image.src = URL.createObjectURL(new Blob([source], { type: "image/svg+xml" }));
  await image.decode();
  const size = svg.viewBox.baseVal.width * scale;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0, size, size);
  const rgba = context.getImageData(0, 0, size, size).data;
  const gray = [];
  for (let i = 0; i < rgba.length; i += 4) gray.push(rgba[i]);
  const label = svg.getAttribute("aria-label");
  return { size, gray, version: Number(svg.dataset.version), label };
}"""


def decode(drawn: dict[str, Any]) -> zxingcpp.Barcode:
    size = drawn["size"]
    pixels = memoryview(bytes(drawn["gray"])).cast("B", (size, size))
    found = zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, found
    return found[0]


def test_the_patient_page_shows_a_qr_code_of_the_pseudonym(page: Page, portal: Portal) -> None:
    people = json.loads((portal.directory / "demo-users.json").read_text())
    jasmine = next(p for p in people if p["name"] == "Jasmine Yilmaz")
    sign_in_as(page, portal, "Jasmine Yilmaz")
    filled = page.evaluate(
        """async () => {
          const { fillPatientQr } = await import("/static/portal/hl/patient-qr.js");
          const { session } = await import("/static/portal/hl/session.js");
          let box = document.getElementById("patient-qr");
          if (!box) {  // until the patient page's template holds it
            box = document.createElement("div");
            box.id = "patient-qr";
            document.querySelector("section[data-page=patient]").append(box);
          }
          return fillPatientQr(document, session());
        }"""
    )
    assert filled is True
    caption = page.inner_text("#patient-qr")
    assert jasmine["patient_id"] in caption
    drawn = page.evaluate(RASTERISE, [None, SCALE])
    assert jasmine["patient_id"] in drawn["label"]
    barcode = decode(drawn)
    assert barcode.text == jasmine["patient_id"]
    assert barcode.ec_level == "M"
    assert 1 <= drawn["version"] <= 5


@pytest.mark.parametrize(
    "text",
    ["pat_00000000000000000000000000000000", "HealthLedger ✓ ünïcode", "x" * 100],
)
def test_any_text_round_trips_through_a_drawn_qr_code(
    page: Page, portal: Portal, text: str
) -> None:
    page.goto(portal.url + "/")
    page.wait_for_selector("#sign-in")
    barcode = decode(page.evaluate(RASTERISE, [text, SCALE]))
    assert barcode.text == text
