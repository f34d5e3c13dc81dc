"""Open an HTML page in headless Chromium (Debian's `chromium` package) and report what a reader would see.

The page is copied with a small script added that, once everything has loaded, lists the images that
failed to load and measures every table against the page; Chromium's `--dump-dom` prints the result.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

CHECK = """<script>window.addEventListener('load', () => {
  const width = document.documentElement.clientWidth;
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src);
  const tables = [...document.querySelectorAll('table')].map(t => Math.ceil(t.getBoundingClientRect().width));
  const out = document.createElement('pre'); out.id = 'bclib-check';
  out.textContent = JSON.stringify({width, images: document.images.length, broken, tables});
  document.body.appendChild(out);
});</script>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def check_page(page: Path, tmp: Path, width: int = 1280) -> dict:
    """{'width': page width in CSS px, 'images': n, 'broken': [alt of images that did not load],
    'tables': [rendered width of each table]} for ``page`` opened alone (copied into ``tmp``)."""
    alone = tmp / "alone" / page.name
    alone.parent.mkdir(parents=True, exist_ok=True)
    alone.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},2000",
                          "--virtual-time-budget=10000", "--dump-dom", alone.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"<pre id=\"bclib-check\">(.*?)</pre>", dom, re.S)
    if not found:
        raise AssertionError(f"Chromium did not run the page's check script on {page}")
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
