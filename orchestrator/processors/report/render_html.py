"""The report as one self-contained HTML page: inline CSS and SVG, no script,
no external URL, so it opens offline from a mail attachment or a shared drive.

Read top-down it answers, in order: how big is the dataset (rows, columns,
duplicates), which columns are empty or suspicious (the overview table with
a null bar per column), and then each column's shape (its figures, a
histogram of numbers, its most frequent values, the patterns of strings).
Approximate figures are marked with ``≈``.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;
color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:16px;margin:0 0 8px;font-family:ui-monospace,monospace}
.sub{color:#5b6475;margin:0 0 16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 16px;min-width:140px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e6e9ef;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.col{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:16px;margin:14px 0}
.grid{display:grid;grid-template-columns:minmax(240px,1fr) minmax(300px,1.4fr);
gap:18px}
.kv td:first-child{color:#5b6475;width:40%}
.tag{display:inline-block;font-size:12px;padding:1px 6px;border-radius:4px;
background:#e7ecf7;color:#2f4a8a}
.warn{background:#fde8e8;color:#9b1c1c}
code{font-family:ui-monospace,monospace}
"""

BAR = "#4c6fd1"


def render_html(fig: dict[str, Any]) -> str:
    cols = fig["columns"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(fig['title'])}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{escape(fig['title'])}</h1>",
        f'<p class="sub">Dataset profile by jobctl: {len(cols)} columns, '
        f"{fig['rows']:,} rows, merged from {fig['chunks']} chunk(s). "
        "≈ marks an estimate from a sketch.</p>",
        _cards(fig),
        "<h2>Columns</h2>",
        _overview(cols, fig["rows"]),
    ]
    parts += [_column(c, fig["rows"]) for c in cols]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _cards(fig: dict[str, Any]) -> str:
    cards = [("Rows", f"{fig['rows']:,}"), ("Columns", str(fig["column_count"]))]
    nulls = sum(c["nulls"] for c in fig["columns"])
    cells = fig["rows"] * max(1, fig["column_count"])
    cards.append(("Null cells", f"{nulls:,} ({_pct(nulls / cells if cells else 0)})"))
    dups = fig.get("duplicates")
    if dups is not None:
        mark = "" if dups["exact"] else "≈ "
        key = ", ".join(dups["key"])
        cards.append((f"Duplicate rows by {key}", f"{mark}{dups['duplicate_rows']:,}"))
        if dups.get("repeated_keys") is not None:
            cards.append(("Keys that repeat", f"{dups['repeated_keys']:,}"))
    body = "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)
    return f'<div class="cards">{body}</div>'


def _overview(cols: list[dict[str, Any]], rows: int) -> str:
    head = (
        "<tr><th>Column</th><th>Type</th><th>Nulls</th><th></th><th>Distinct</th>"
        "<th>Min</th><th>Max</th><th>Mean</th></tr>"
    )
    body = []
    for c in cols:
        body.append(
            "<tr>"
            f'<td><a href="#col-{_anchor(c["name"])}"><code>{escape(c["name"])}</code></a></td>'
            f"<td>{escape(c['type'])}</td>"
            f'<td class="n">{_pct(c["null_fraction"])}</td>'
            f"<td>{_null_bar(c['null_fraction'])}</td>"
            f'<td class="n">{_distinct(c)}</td>'
            f"<td>{_short(c.get('min'))}</td><td>{_short(c.get('max'))}</td>"
            f'<td class="n">{_num(c.get("mean"))}</td>'
            "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _column(c: dict[str, Any], rows: int) -> str:
    facts: list[tuple[str, str]] = [
        ("type", escape(c["type"])),
        ("values", f"{c['rows'] - c['nulls']:,}"),
        ("nulls", f"{c['nulls']:,} ({_pct(c['null_fraction'])})"),
        ("distinct", _distinct(c)),
        ("min", _short(c.get("min"), 60)),
        ("max", _short(c.get("max"), 60)),
    ]
    if c["kind"] == "number":
        facts.append(("mean", _num(c.get("mean"))))
        mark = "" if c.get("quantiles_exact") else "≈ "
        for name, value in (c.get("quantiles") or {}).items():
            facts.append((name, mark + _num(value)))
    if "length" in c:
        length = c["length"]
        facts.append(
            (
                "length min / mean / max",
                f"{length['min']} / {_num(length['mean'])} / {length['max']}",
            )
        )
    kv = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in facts)
    charts = []
    if c.get("histogram"):
        mark = "" if c.get("quantiles_exact") else " (≈ from a sketch)"
        charts.append(f"<h4>Histogram{mark}</h4>{_histogram(c['histogram'])}")
    if c.get("top_values"):
        charts.append(f"<h4>Most frequent values</h4>{_bars(c['top_values'], rows)}")
    elif c["rows"] > c["nulls"]:
        charts.append(
            '<h4>Most frequent values</h4><p class="sub">No value repeats often enough to '
            "stand out from the sketch's error (too many distinct values).</p>"
        )
    if c.get("patterns"):
        charts.append(
            f"<h4>Patterns (A letter, a lower case, 9 digit)</h4>{_bars(c['patterns'], rows)}"
        )
    warn = ' <span class="tag warn">all null</span>' if c["nulls"] == c["rows"] and rows else ""
    unique = (
        ' <span class="tag">unique</span>'
        if c["distinct_exact"] and c["distinct"] == c["rows"] - c["nulls"] and c["distinct"] > 1
        else ""
    )
    return (
        f'<section class="col" id="col-{_anchor(c["name"])}">'
        f'<h3>{escape(c["name"])} <span class="tag">{escape(c["kind"])}</span>{unique}{warn}</h3>'
        f'<div class="grid"><table class="kv">{kv}</table><div>{"".join(charts)}</div></div>'
        "</section>"
    )


def _histogram(bins: list[list[Any]]) -> str:
    width, height, pad = 460, 150, 22
    peak = max((b[2] for b in bins), default=0) or 1
    step = (width - 2 * pad) / len(bins)
    rects = []
    for i, (low, high, n) in enumerate(bins):
        h = (height - 2 * pad) * n / peak
        x = pad + i * step
        y = height - pad - h
        rects.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
            f'fill="{BAR}"><title>{escape(_num(low))} to {escape(_num(high))}: {n:,}</title></rect>'
        )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#889"/>'
        f'<text x="{pad}" y="{height - 6}" font-size="11">{escape(_num(bins[0][0]))}</text>'
        f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">'
        f"{escape(_num(bins[-1][1]))}</text>"
        f'<text x="{pad}" y="14" font-size="11">{peak:,} rows</text>'
    )
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{"".join(rects)}{axis}</svg>'
    )


def _bars(items: list[list[Any]], rows: int) -> str:
    width, row_h, label_w = 460, 20, 170
    peak = max((i[1] for i in items), default=0) or 1
    height = row_h * len(items) + 4
    out = []
    for i, (value, n, exact) in enumerate(items):
        y = i * row_h + 2
        w = (width - label_w - 90) * n / peak
        mark = "" if exact else "≈"
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{escape(_short(value, 24, html=False))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 6}" '
            f'fill="{BAR}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="12">{mark}{n:,} '
            f"({_pct(n / rows if rows else 0)})</text>"
        )
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{"".join(out)}</svg>'
    )


def _null_bar(fraction: float) -> str:
    w = 80
    fill = "#d64545" if fraction > 0.5 else "#e8a33d" if fraction > 0 else "#3f9c5a"
    return (
        f'<svg width="{w}" height="10" role="img">'
        f'<rect width="{w}" height="10" fill="#e6e9ef"/>'
        f'<rect width="{w * fraction:.1f}" height="10" fill="{fill}"/></svg>'
    )


def _distinct(c: dict[str, Any]) -> str:
    return ("" if c["distinct_exact"] else "≈ ") + f"{c['distinct']:,}"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%" if x else "0%"


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return (
            f"{v:,.4g}"
            if abs(v) >= 1e6 or (v and abs(v) < 1e-3)
            else f"{v:,.3f}".rstrip("0").rstrip(".")
        )
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _short(v: Any, n: int = 28, html: bool = True) -> str:
    text = _num(v) if isinstance(v, bool | int | float) else ("" if v is None else str(v))
    if len(text) > n:
        text = text[: n - 1] + "…"
    return escape(text) if html else text


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)
