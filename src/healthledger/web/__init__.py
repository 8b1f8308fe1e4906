"""What the node serves to a browser: the portal, and vendored JavaScript and CSS.

Third-party files are pinned in `vendor.json` and copied from the npm registry by
`scripts/vendor-js`, each package with its licence and a SHA256SUMS file; nothing is
loaded from a CDN at run time, so every page works on a network with no internet.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
VENDOR_DIR = STATIC_DIR / "vendor"
VENDOR_MANIFEST = Path(__file__).parent / "vendor.json"
