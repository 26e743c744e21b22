"""Screenshots of the store themes at phone (390 px) and desktop (1280 px) width, with real content.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        python docs/screenshots/make_screenshots.py [--previews]

Builds a scratch database (``mall_screenshots``, dropped afterwards), opens a demo store, decorates
it through the same services the merchant centre uses — banner images drawn with Pillow, a real
WebM video recorded by Chromium from a canvas, rich text, a notice, an image with link, product grid
and coupon strip (empty states until the catalog and marketing exist) — publishes it in each theme
and photographs ``/shop/<slug>/`` with headless Chromium (``/usr/bin/chromium``). With
``--previews`` it also writes each theme's ``static/preview.png`` (the picture in the theme chooser).
Without DATABASE_URL / REDIS_URL the embedded PostgreSQL and Redis are used.
"""

from __future__ import annotations

import argparse
import base64
import contextvars
import io
import logging
import math
import os
import sys
import tempfile
import threading
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mall import create_app  # noqa: E402
from mall.embedded import create_database, drop_database, sqlalchemy_url, start_postgres, start_redis  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
MAX_HEIGHT = 2600
THEMES = ("default", "classic", "magazine", "compact")
SLUG = "hillside-tea"

RECORD_VIDEO_JS = """
async () => {
  const canvas = document.createElement('canvas'); canvas.width = 960; canvas.height = 540;
  document.body.appendChild(canvas);
  const g = canvas.getContext('2d');
  const recorder = new MediaRecorder(canvas.captureStream(25), {mimeType: 'video/webm;codecs=vp8'});
  const chunks = []; recorder.ondataavailable = e => chunks.push(e.data);
  const stopped = new Promise(r => recorder.onstop = r);
  recorder.start();
  const t0 = performance.now();
  await new Promise(done => {
    (function frame() {
      const t = (performance.now() - t0) / 1000;
      const sky = g.createLinearGradient(0, 0, 0, 540);
      sky.addColorStop(0, '#f6d7a7'); sky.addColorStop(1, '#a7c4a0'); g.fillStyle = sky; g.fillRect(0, 0, 960, 540);
      for (let i = 0; i < 5; i++) {
        g.fillStyle = `hsl(${110 + i * 8}, 35%, ${48 - i * 6}%)`; g.beginPath(); g.moveTo(0, 540);
        for (let x = 0; x <= 960; x += 20) g.lineTo(x, 300 + i * 45 + Math.sin(x / 90 + t * (0.6 + i * 0.2) + i) * 18);
        g.lineTo(960, 540); g.fill();
      }
      g.fillStyle = 'rgba(255,255,255,.92)'; g.font = 'bold 54px serif'; g.fillText('Spring harvest, 2026', 60, 120);
      if (t < 4) requestAnimationFrame(frame); else done();
    })();
  });
  recorder.stop(); await stopped;
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let s = ''; for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(s);
}
"""


def _font(size: int, serif: bool = False):
    for name in ("DejaVuSerif-Bold.ttf" if serif else "DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def banner_image(title: str, subtitle: str, colors: tuple[str, str], size=(1500, 500)) -> bytes:
    """A poster-like banner: vertical gradient, hills, a centred headline (survives centre crops)."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    top, bottom = ImageColor.getrgb(colors[0]), ImageColor.getrgb(colors[1])
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(top[i] * (1 - t) + bottom[i] * t) for i in range(3)))
    for i, shade in enumerate((70, 50, 30)):
        offset = height * (0.55 + i * 0.12)
        points = [(x, offset + 40 * math.sin(x / (160 + i * 40) + i)) for x in range(0, width + 20, 20)]
        draw.polygon([(0, height), *points, (width, height)], fill=(shade, 90 + i * 20, 60 + i * 10))
    for text, font, y in (
        (title, _font(int(height * 0.15), serif=True), 0.16),
        (subtitle, _font(int(height * 0.06)), 0.38),
    ):
        if text:
            draw.text((width / 2, height * y), text, fill="white", font=font, anchor="ma")
    return _png(image)


def workshop_image(size=(1200, 800)) -> bytes:
    """Tea cups on a table, drawn with simple shapes."""
    width, height = size
    image = Image.new("RGB", size, (236, 226, 208))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, int(height * 0.62), width, height], fill=(150, 105, 70))
    for i, x in enumerate(range(180, width, 300)):
        color = [(196, 90, 60), (80, 120, 90), (60, 90, 140), (210, 170, 80)][i % 4]
        draw.ellipse([x - 110, int(height * 0.48), x + 110, int(height * 0.78)], fill=color)
        draw.ellipse([x - 95, int(height * 0.47), x + 95, int(height * 0.56)], fill=(120, 160, 90))
        draw.ellipse([x - 140, int(height * 0.74), x + 140, int(height * 0.82)], fill=(240, 236, 228))
    draw.text((60, 60), "From our tasting room", fill=(90, 60, 40), font=_font(64, serif=True))
    return _png(image)


def logo_image() -> bytes:
    image = Image.new("RGB", (256, 256), (46, 94, 62))
    draw = ImageDraw.Draw(image)
    draw.ellipse([40, 40, 216, 216], outline="white", width=10)
    draw.text((86, 62), "H", fill="white", font=_font(120, serif=True))
    return _png(image)


def services_urls(workdir: Path) -> tuple[str, str, str, str | None]:
    url = os.environ.get("DATABASE_URL")
    server = sqlalchemy_url(url) if url else start_postgres(str(workdir / "pg"), dbname="postgres")
    database = create_database(server, "mall_screenshots", replace=True)
    redis_url = os.environ.get("REDIS_URL") or start_redis(str(workdir / "redis"))
    return server, database, redis_url, url


def build_store(app, video: bytes):
    """The demo store and its decoration materials (uploads happen once, keys are reused per theme)."""
    from mall.decoration.modules import Upload
    from mall.extensions import db
    from mall.identity import services as accounts
    from mall.merchants import services as stores
    from mall.merchants.models import StoreProfile
    from mall.storage.services import store_upload
    from mall.tenancy import tenant

    owner = accounts.register_user("hillside_owner", "screenshots123", email="owner@hillside.example")
    merchant = stores.create_merchant("Hillside Tea Co.", SLUG, owner)
    with tenant(merchant.id):
        logo = store_upload(logo_image(), "logo.png", purpose="store-logo", merchant_id=merchant.id)
        db.session.add(
            StoreProfile(
                logo_file_id=logo.id,
                service_phone="400-820-1234",
                service_hours="9:00–21:00 daily",
                intro="Small-batch green and oolong teas from family gardens in the hills.",
            )
        )
    db.session.commit()
    uploads = {
        "slides": [
            Upload(
                banner_image("Spring harvest", "First-flush green teas, picked this week", ("#d9a05b", "#6f9a62")),
                "a.png",
            ),
            Upload(banner_image("Oolong season", "Roasted slowly over charcoal", ("#8c5a3c", "#3f5f4a")), "b.png"),
            Upload(banner_image("Gift boxes", "Wrapped by hand, shipped in two days", ("#6b7fa8", "#2f4a5c")), "c.png"),
        ],
        # The magazine theme crops its full-bleed hero and overlays the captions: pictures without text.
        "plain_slides": [
            Upload(banner_image("", "", colors), f"plain-{i}.png")
            for i, colors in enumerate((("#d9a05b", "#6f9a62"), ("#8c5a3c", "#3f5f4a"), ("#6b7fa8", "#2f4a5c")))
        ],
        "workshop": Upload(workshop_image(), "workshop.png"),
        "poster": Upload(banner_image("The harvest", "A film", ("#a7c4a0", "#3f5f4a"), (960, 540)), "poster.png"),
        "video": Upload(video, "harvest.webm"),
    }
    return owner, merchant, uploads


STORY = (
    "<h2>Our story</h2><p>We started with three rows of tea bushes behind our grandmother's house. Today forty "
    "families pick for us, by hand, from April to October.</p><ul><li>Picked and rolled the same day</li>"
    "<li>Every batch tasted before it ships</li><li>Plastic-free packaging</li></ul>"
    '<p>Questions about brewing? <a href="/shop/hillside-tea/">Read our guide</a>.</p>'
)


def decorate(owner, merchant, uploads, theme: str) -> None:
    """Replace the draft with this theme's arrangement and publish it."""
    from mall.decoration import services
    from mall.extensions import db
    from mall.tenancy import tenant

    hero = {"magazine": "hero"}.get(theme)
    slide_uploads = uploads["plain_slides" if theme == "magazine" else "slides"]
    side = {"classic": "sidebar"}.get(theme)
    first = {"slides-new-alt": "Spring harvest: first-flush green teas", "slides-new-link": f"/shop/{SLUG}/"}
    with tenant(merchant.id):
        services.set_theme(owner, theme)
        for module in list(services.current_draft().modules):
            services.remove_module(owner, module["id"])
        banner = services.add_module(
            owner, "banner", {"aspect": "wide", **first}, {"slides-new-image": slide_uploads[0]}, slot=hero
        )
        for i, upload in enumerate(slide_uploads[1:], start=1):
            alt = ["Oolong season: roasted over charcoal", "Gift boxes, wrapped by hand"][i - 1]
            form = {f"slides-{n}-alt": s["alt"] for n, s in enumerate(banner["config"]["slides"])}
            form |= {f"slides-{n}-link": s["link"] for n, s in enumerate(banner["config"]["slides"])}
            banner = services.update_module(
                owner, banner["id"], {**form, "aspect": "wide", "slides-new-alt": alt}, {"slides-new-image": upload}
            )
        notice = "Free shipping on orders over ¥99 until Sunday. New oolong arrives on Friday."
        services.add_module(owner, "notice", {"text": notice, "style": "promo"}, {}, slot=side)
        services.add_module(owner, "product_grid", {"title": "New arrivals", "source": "newest", "limit": "8"}, {})
        services.add_module(owner, "rich_text", {"html": STORY}, {})
        services.add_module(
            owner,
            "image",
            {"alt": "Tea cups on the tasting table", "caption": "Visit our tasting room", "link": f"/shop/{SLUG}/"},
            {"image": uploads["workshop"]},
            slot=side,
        )
        services.add_module(
            owner, "video", {"title": "The spring harvest"}, {"video": uploads["video"], "poster": uploads["poster"]}
        )
        services.add_module(owner, "coupon_strip", {"title": "Store coupons"}, {}, slot=side)
        if theme == "magazine":
            services.update_theme_settings(owner, {"hero_height": "medium", "show_contact": "1"})
        services.publish(owner)
    db.session.commit()


def record_video(browser) -> bytes:
    page = browser.new_page()
    page.goto("about:blank")
    data = base64.b64decode(page.evaluate(RECORD_VIDEO_JS))
    page.close()
    return data


def shoot(browser, base_url: str, out: Path, theme: str, previews: bool) -> list[Path]:
    written = []
    for name, (width, height) in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
        page = context.new_page()
        page.goto(f"{base_url}/shop/{SLUG}/", wait_until="networkidle")
        page.evaluate("document.fonts.ready")
        if previews and name == "desktop":
            shot = Image.open(io.BytesIO(page.screenshot()))
            target = ROOT / "themes" / theme / "static" / "preview.png"
            shot.convert("RGB").resize((640, 400), Image.LANCZOS).save(target, optimize=True)
            written.append(target)
        # A viewport as tall as the page (capped), so sticky and fixed bars sit where a visitor sees them.
        full = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": width, "height": max(height, min(full, MAX_HEIGHT))})
        page.wait_for_timeout(300)
        path = out / f"{theme}-{name}.png"
        page.screenshot(path=str(path))
        written.append(path)
        context.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--previews", action="store_true", help="also write themes/<theme>/static/preview.png")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from mall.extensions import db
    from mall.tenancy.migrations import upgrade_platform

    workdir = Path(tempfile.mkdtemp(prefix="mall-screenshots-"))
    server_url, database_url, redis_url, _ = services_urls(workdir)
    config = {
        "TESTING": True,
        "SECRET_KEY": "screenshots",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STORAGE_URL": f"file://{workdir / 'media'}",
        "MAIL_URL": None,
        "MALL_EMBEDDED_WORKER": False,
        "SESSION_COOKIE_SECURE": False,
    }
    app = contextvars.Context().run(create_app, config)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    upgrade_platform(app.config["SQLALCHEMY_DATABASE_URI"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                with app.app_context():  # (each publish drops this store's cached renderings)
                    owner, merchant, uploads = build_store(app, record_video(browser))
                    for theme in THEMES:
                        decorate(owner, merchant, uploads, theme)
                        for path in shoot(browser, base_url, out, theme, args.previews):
                            print(path)
            finally:
                browser.close()
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
        drop_database(server_url, "mall_screenshots")


if __name__ == "__main__":
    main()
