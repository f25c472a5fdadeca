"""A small scatter/line plot drawn with PIL (no plotting dependency): the content–style
trade-off, one point per method variant, variants of the same method entry joined by a line."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = (high - low) or 1.0
    step = 10 ** math.floor(math.log10(span / count))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= count:
            step *= factor
            break
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int((high - start) / step) + 2) if low <= start + i * step <= high]


def tradeoff_plot(series: dict[str, list[tuple[float, float, str]]], x_label: str, y_label: str,
                  title: str, size: tuple[int, int] = (760, 520)) -> Image.Image:
    """series: legend name → [(x, y, point label)] → RGB image.  Points of a series are joined
    in order of x (e.g. α from 0.25 to 1 moves along the trade-off curve)."""
    width, height = size
    left, right, top, bottom = 70, 200, 40, 50
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    points = [(x, y) for values in series.values() for x, y, _ in values if math.isfinite(x) and math.isfinite(y)]
    if not points:
        draw.text((left, height // 2), "no finite points", fill="black", font=font)
        return image
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    pad_x, pad_y = (max(xs) - min(xs)) * 0.08 or 0.05, (max(ys) - min(ys)) * 0.08 or 0.05
    x0, x1, y0, y1 = min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x0) / (x1 - x0) * (width - left - right),
                height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom))

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for tick in _ticks(x0, x1):
        px, _ = to_px(tick, y0)
        draw.line([px, height - bottom, px, height - bottom + 4], fill="black")
        draw.text((px - 12, height - bottom + 6), f"{tick:.3g}", fill="black", font=font)
    for tick in _ticks(y0, y1):
        _, py = to_px(x0, tick)
        draw.line([left - 4, py, left, py], fill="black")
        draw.text((left - 50, py - 6), f"{tick:.3g}", fill="black", font=font)
    draw.text((left + (width - left - right) // 2 - 60, height - 22), x_label, fill="black", font=font)
    draw.text((8, top - 24), y_label, fill="black", font=font)
    draw.text((left, 8), title, fill="black", font=font)
    for index, (name, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        finite = sorted((v for v in values if math.isfinite(v[0]) and math.isfinite(v[1])), key=lambda v: v[0])
        pixels = [to_px(x, y) for x, y, _ in finite]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2)
        for (px, py), (_, _, label) in zip(pixels, finite):
            draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=colour)
            if label:
                draw.text((px + 6, py - 12), label, fill=colour, font=font)
        legend_y = top + 16 * index
        draw.rectangle([width - right + 12, legend_y + 3, width - right + 22, legend_y + 13], fill=colour)
        draw.text((width - right + 28, legend_y + 2), name[:28], fill="black", font=font)
    return image
