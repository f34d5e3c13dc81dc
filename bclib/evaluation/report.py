"""report.md and report.html: sections of text, tables and figures as notebook 05 assembles them.

Every table says how its rows were chosen (``Report.table(..., rows=...)``); figures are embedded in the HTML page
as data URIs, so that it shows them when opened on its own. The numbers come from :mod:`.tables`, the choices
from :mod:`.selection`."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from ..io import write_text_atomic
from ..provenance import stamp, stamp_line


def _anchor(heading: str) -> str:
    """The id of a section heading, as GitHub's Markdown renderer makes it (lower case, spaces to hyphens)."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.strip().replace(" ", "-")


def _flat(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Tables as shown in the report: row keys as columns, two-level headers joined ('TP this run'),
    columns with no value at all left out (a standard deviation over one seed), whole numbers as integers."""
    # Row keys become columns; a plain row number (0, 1, 2, ...) says nothing and is dropped, also when a table
    # read back from its file (index_col=0) holds it as a plain Index (pandas does so for a single row).
    row_numbers = frame.index.name is None and frame.index.equals(pd.RangeIndex(len(frame)))
    named_index = not row_numbers
    shown = frame.reset_index() if named_index else frame.reset_index(drop=True)
    if isinstance(shown.columns, pd.MultiIndex):
        shown.columns = [" ".join(str(p) for p in col if str(p)).strip() for col in shown.columns]
    # Headers for a reader: 'balanced_accuracy_low' -> 'balanced accuracy low'.
    shown.columns = [str(c).replace("_", " ") for c in shown.columns]
    shown = shown.loc[:, [not shown[c].isna().all() for c in shown.columns]] if len(shown) else shown
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_float_dtype(values) and values.dropna().apply(float.is_integer).all():
            # Blank where there is no value (the Average row has no counts): Markdown would print "<NA>".
            shown[column] = values.astype("Int64").astype(object).where(values.notna(), "")
        elif pd.api.types.is_float_dtype(values) and values.isna().any():
            # Blank, not "nan", where a row has no value (the class mean has no precision); the column becomes
            # text, so the others are rounded here (a table's number format applies to float columns only).
            shown[column] = values.round(digits).astype(object).where(values.notna(), "")
    return shown


def _embedded_png(png: Path) -> str:
    """The figure as a data URI, so that report.html shows it when opened on its own."""
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


@dataclass
class Report:
    """Sections of text, tables and figures, written as Markdown and as a self-contained HTML page."""

    title: str
    provenance: str
    sections: list = field(default_factory=list)
    conclusions: list = field(default_factory=list)
    _stamp: dict = field(default_factory=dict, repr=False)  # set by write(): date, commit, processor, threads

    def conclude(self, lines: list[str]) -> None:
        """The report's last section: what the tables above say, one finding per line."""
        self.conclusions = [line for line in lines if line and line.strip()]

    def _headings(self) -> list[str]:
        return [caption for kind, caption, _ in self.sections if kind == "text" and caption] + (
            ["Conclusion"] if self.conclusions else [])

    def text(self, heading: Optional[str], body: str = "") -> None:
        self.sections.append(("text", heading, body))

    def table(self, caption: str, frame: pd.DataFrame, csv_name: Optional[str] = None, *, rows: str,
              digits: int = 3, provenance: Optional[str] = None) -> None:
        """Add a table; ``rows`` says how its rows were chosen (e.g. "mean ± sd over 3 seeds"), shown beside it;
        numbers are shown with ``digits`` decimals. ``provenance``: this table's own data and weights, where
        they differ from the report's (a table comparing pretrained with random weights, say)."""
        if not rows or not rows.strip():
            raise ValueError(f"table {caption!r}: say how its rows were chosen (rows=...)")
        self.sections.append(("table", caption, (frame, csv_name, rows.strip(), digits, provenance or self.provenance)))

    def figure(self, caption: str, png: Path) -> None:
        self.sections.append(("figure", caption, Path(png)))

    def _markdown(self, out_dir: Path) -> str:
        lines = [f"# {self.title}", "", f"> {stamp_line(self._stamp)}", "", "**Contents**", ""]
        lines += [f"{i}. [{h}](#{_anchor(h)})" for i, h in enumerate(self._headings(), 1)] + [""]
        for kind, caption, body in self.sections:
            if kind == "text":
                lines += ([f"## {caption}", ""] if caption else []) + ([body, ""] if body else [])
            elif kind == "table":
                frame, csv_name, rows, digits, provenance = body
                lines += [f"**{caption}**" + (f" (`tables/{csv_name}.csv`)" if csv_name else "")
                          + f" - our side: {provenance}", "", f"*Rows: {rows}*", "",
                          _flat(frame, digits).to_markdown(floatfmt=f".{digits}f", index=False), ""]
            else:
                lines += [f"![{caption}]({body.relative_to(out_dir).as_posix()})", "", f"*{caption}*", ""]
        if self.conclusions:
            lines += ["## Conclusion", ""] + [f"* {line}" for line in self.conclusions] + [""]
        return "\n".join(lines)

    def _html(self, out_dir: Path) -> str:
        stamped = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in self._stamp.items())
        contents = "".join(f"<li><a href='#{_anchor(h)}'>{html.escape(h)}</a></li>" for h in self._headings())
        parts = [f"<h1>{html.escape(self.title)}</h1>", f"<dl class='prov'>{stamped}</dl>",
                 f"<nav><b>Contents</b><ol>{contents}</ol></nav>"]
        for kind, caption, body in self.sections:
            if kind == "text":
                if caption:
                    parts.append(f"<h2 id='{_anchor(caption)}'>{html.escape(caption)}</h2>")
                parts += [f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip()]
            elif kind == "table":
                frame, _, rows, digits, provenance = body
                shown = _flat(frame, digits).to_html(float_format=lambda v: f"{v:.{digits}f}", na_rep="", index=False)
                parts += [f"<p><b>{html.escape(caption)}</b> <span class='prov'>our side: "
                          f"{html.escape(provenance)}</span><br><i>Rows: {html.escape(rows)}</i></p>",
                          f"<div class='wide'>{shown}</div>"]
            else:
                parts.append(f"<figure><img src='{_embedded_png(body)}' alt='{html.escape(caption, quote=True)}' "
                             f"style='max-width:100%'><figcaption>{html.escape(caption)}</figcaption></figure>")
        if self.conclusions:
            parts += [f"<h2 id='{_anchor('Conclusion')}'>Conclusion</h2>",
                      "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in self.conclusions) + "</ul>"]
        style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
                 "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}.prov{color:#a00000}"
                 ".wide{overflow-x:auto;max-width:100%}dl.prov{display:grid;grid-template-columns:max-content auto;"
                 "gap:0 12px;font-size:13px}dl.prov dd{margin:0}")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.html`` into ``out_dir`` (each written, then renamed), headed by the
        data and weights, the date, the commit, the processor and TensorFlow's version and threads."""
        out_dir = Path(out_dir)
        self._stamp = stamp(self.provenance)
        return (write_text_atomic(out_dir / "report.md", self._markdown(out_dir)),
                write_text_atomic(out_dir / "report.html", self._html(out_dir)))
