"""The report as JSON (every figure, for scripts) and Markdown (for a README or a ticket)."""

from __future__ import annotations

import json
from typing import Any


def render_json(fig: dict[str, Any]) -> str:
    return json.dumps(fig, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(fig: dict[str, Any]) -> str:
    lines = [
        f"# {fig['title']}",
        "",
        f"{fig['rows']:,} rows, {fig['column_count']} columns, merged from {fig['chunks']} "
        "chunk(s). ≈ marks an estimate from a sketch.",
        "",
    ]
    dups = fig.get("duplicates")
    if dups is not None:
        mark = "" if dups["exact"] else "≈ "
        line = f"Duplicate rows by {', '.join(dups['key'])}: {mark}{dups['duplicate_rows']:,}"
        if dups.get("repeated_keys") is not None:
            line += f" ({dups['repeated_keys']:,} keys repeat)"
        lines += [line, ""]
    lines += [
        "| column | type | nulls | distinct | min | max | mean | p50 |",
        "|---|---|---:|---:|---|---|---:|---:|",
    ]
    for c in fig["columns"]:
        distinct = ("" if c["distinct_exact"] else "≈ ") + f"{c['distinct']:,}"
        median = (c.get("quantiles") or {}).get("p50")
        lines.append(
            f"| {_cell(c['name'])} | {c['type']} | {c['nulls']:,} ({c['null_fraction']:.1%}) "
            f"| {distinct} | {_cell(c.get('min'))} | {_cell(c.get('max'))} "
            f"| {_cell(c.get('mean'))} | {_cell(median)} |"
        )
    lines.append("")
    for c in fig["columns"]:
        if not c.get("top_values"):
            continue
        top = ", ".join(
            f"`{_cell(v, 30)}` ({'' if exact else '≈'}{n:,})" for v, n, exact in c["top_values"][:5]
        )
        lines.append(f"- **{_cell(c['name'])}** most frequent: {top}")
        if c.get("patterns"):
            shapes = ", ".join(f"`{_cell(p, 30)}` ({n:,})" for p, n, _ in c["patterns"][:3])
            lines.append(f"  patterns: {shapes}")
    return "\n".join(lines) + "\n"


def _cell(v: Any, n: int = 40) -> str:
    if v is None:
        return ""
    text = f"{v:.6g}" if isinstance(v, float) else str(v)
    text = text.replace("|", "\\|").replace("\n", " ").replace("`", "'")
    return text if len(text) <= n else text[: n - 1] + "…"
