"""Draw pipeviz's icon: `python resources/make_icon.py` writes pipeviz.svg and renders it to
pipeviz-<size>.png (the sizes desktops ask for) next to this file.

The picture is the app in small: three pipeline stages (load, normalize, train) joined by
arrows, a batch on its way into Train, two more waiting in Load, and under them the orange
input-wait line falling once the pipeline feeds the model in time. The PNGs are committed
(an installed app must not need this script); re-run it after changing the drawing.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = (16, 24, 32, 48, 64, 128, 256)

SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <title>pipeviz</title>
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#34476a"/>
      <stop offset="1" stop-color="#1c2638"/>
    </linearGradient>
  </defs>
  <rect x="8" y="8" width="240" height="240" rx="44" fill="url(#bg)"/>
  <!-- stages: load, normalize, train -->
  <rect x="22" y="70" width="56" height="72" rx="12" fill="#ecf2fa" stroke="#9fb3d1" stroke-width="4"/>
  <rect x="100" y="70" width="56" height="72" rx="12" fill="#ecf2fa" stroke="#9fb3d1" stroke-width="4"/>
  <rect x="178" y="70" width="56" height="72" rx="12" fill="#5cc27e" stroke="#b9e8c8" stroke-width="4"/>
  <!-- arrows -->
  <g stroke="#c8d6ea" stroke-width="7" stroke-linecap="round" fill="none">
    <path d="M82 106 H96"/>
    <path d="M160 106 H174 M166 98 L174 106 L166 114"/>
  </g>
  <!-- batches: two waiting in Load, one in Normalize, one on its way into Train -->
  <g fill="#2f7fe0">
    <circle cx="40" cy="94" r="10"/>
    <circle cx="60" cy="118" r="10"/>
    <circle cx="128" cy="106" r="12"/>
    <circle cx="206" cy="106" r="13" fill="#ffffff"/>
  </g>
  <!-- the input wait falling -->
  <path d="M26 168 H96 L112 210 H230" fill="none" stroke="#f08a3c" stroke-width="10"
        stroke-linecap="round" stroke-linejoin="round"/>
</svg>
"""


def write_svg(folder: Path = HERE) -> Path:
    path = folder / "pipeviz.svg"
    path.write_text(SVG, encoding="utf-8")
    return path


def render_pngs(svg: Path, folder: Path = HERE, sizes=SIZES) -> list[Path]:
    """Each size rendered from the SVG with Qt's SVG renderer (antialiased, transparent)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    paths = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = folder / f"pipeviz-{size}.png"
        if not image.save(str(path)):
            raise SystemExit(f"cannot write {path}")
        paths.append(path)
    return paths


if __name__ == "__main__":
    svg = write_svg()
    for written in [svg, *render_pngs(svg)]:
        print(written)
