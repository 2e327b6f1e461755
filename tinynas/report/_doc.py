"""A small document model rendered two ways: HTML that reads offline and Markdown beside it.

Reports are built once as a list of blocks, so the HTML and the Markdown always say the same
thing; only the layout differs.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_NUMERIC = re.compile(r"^[-+]?[\d.,]+\s*(%|[kKMG]?B|ms|s|x|×)?$")


@dataclass(frozen=True)
class Heading:
    """A section title (level 2) or sub-title (level 3)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Plain text; ``muted`` marks a side remark."""

    text: str
    muted: bool = False


@dataclass(frozen=True)
class Table:
    """Rows of already formatted cells; numeric-looking cells are right-aligned in HTML."""

    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A PNG image, written beside the report (or embedded in self-contained HTML)."""

    name: str
    png: bytes
    caption: str


@dataclass(frozen=True)
class Step:
    """One stage of the pipeline strip with its figures, one per line."""

    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Pipeline:
    """The Dataset -> ... -> Deployment strip."""

    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Cards:
    """Key figures shown large at the top: (label, value, note)."""

    items: tuple[tuple[str, str, str], ...]


Block = Heading | Paragraph | Table | Figure | Pipeline | Cards


@dataclass
class Document:
    """A titled list of blocks."""

    title: str
    subtitle: str = ""
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        """Append blocks in order."""
        self.blocks.extend(blocks)

    @property
    def figures(self) -> list[Figure]:
        """The document's images, in order."""
        return [b for b in self.blocks if isinstance(b, Figure)]


def _image_src(fig: Figure, image_dir: str, embed: bool) -> str:
    if embed:
        return "data:image/png;base64," + base64.b64encode(fig.png).decode()
    return f"{image_dir}{fig.name}"


def to_markdown(doc: Document, image_dir: str = "") -> str:
    """Render as GitHub-flavoured Markdown; images are linked as ``image_dir + name``."""
    out = [f"# {doc.title}", ""]
    if doc.subtitle:
        out += [f"_{doc.subtitle}_", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [f"_{block.text}_" if block.muted else block.text, ""]
        elif isinstance(block, Table):
            out += _markdown_table(block)
        elif isinstance(block, Figure):
            out += [f"![{block.caption}]({image_dir}{block.name})", "", f"_{block.caption}_", ""]
        elif isinstance(block, Pipeline):
            out += [" → ".join(f"**{s.title}**" for s in block.steps), ""]
            out += _markdown_table(Table(("stage", "this study"),
                                         [(s.title, "; ".join(s.lines)) for s in block.steps]))
        elif isinstance(block, Cards):
            out += _markdown_table(Table(tuple(i[0] for i in block.items),
                                         [tuple(f"{v} ({note})" if note else v
                                                for _, v, note in block.items)]))
    return "\n".join(out).rstrip() + "\n"


def _markdown_table(table: Table) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in table.header) + " |",
             "|" + "|".join("---:" if _right(table, i) else "---"
                            for i in range(len(table.header))) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    if table.caption:
        lines += ["", f"_{table.caption}_"]
    return lines + [""]


def _right(table: Table, column: int) -> bool:
    """A column is right-aligned when every non-empty cell in it looks like a number."""
    cells = [r[column] for r in table.rows if r[column] not in ("", "-", "—")]
    return bool(cells) and all(_NUMERIC.match(c.replace(" / ", "")) for c in cells)


def to_html(doc: Document, image_dir: str = "", embed: bool = False) -> str:
    """Render as one HTML page with its style inline (no network needed to read it).

    Args:
        doc: The document.
        image_dir: Prefix of image paths when images are files beside the page.
        embed: Put images inside the page as data URLs (a self-contained file).
    """
    esc = html.escape
    body: list[str] = [f"<header><h1>{esc(doc.title)}</h1>"]
    if doc.subtitle:
        body.append(f"<p class='subtitle'>{esc(doc.subtitle)}</p>")
    body.append("</header><main>")
    for block in doc.blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            cls = " class='muted'" if block.muted else ""
            body.append(f"<p{cls}>{esc(block.text)}</p>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Figure):
            body.append(f"<figure><img src='{esc(_image_src(block, image_dir, embed))}' "
                        f"alt='{esc(block.caption)}'><figcaption>{esc(block.caption)}"
                        f"</figcaption></figure>")
        elif isinstance(block, Pipeline):
            steps = []
            for s in block.steps:
                items = "".join(f"<li>{esc(line)}</li>" for line in s.lines)
                steps.append(f"<div class='step'><h4>{esc(s.title)}</h4><ul>{items}</ul></div>")
            body.append("<div class='pipeline'>" + "<div class='arrow'>&#10142;</div>".join(steps)
                        + "</div>")
        elif isinstance(block, Cards):
            cards = "".join(f"<div class='card'><div class='label'>{esc(label)}</div>"
                            f"<div class='value'>{esc(value)}</div>"
                            f"<div class='note'>{esc(note)}</div></div>"
                            for label, value, note in block.items)
            body.append(f"<div class='cards'>{cards}</div>")
    body.append("</main>")
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(doc.title)}</title><style>{_CSS}</style></head>\n<body>"
            + "\n".join(body) + "</body></html>\n")


def _html_table(table: Table) -> str:
    esc = html.escape
    right = [_right(table, i) for i in range(len(table.header))]

    def row(cells: Sequence[str], tag: str) -> str:
        return "<tr>" + "".join(
            f"<{tag}{' class=num' if right[i] else ''}>{esc(c)}</{tag}>"
            for i, c in enumerate(cells)) + "</tr>"

    caption = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
    head = f"<thead>{row(table.header, 'th')}</thead>" if any(table.header) else ""
    rows = "".join(row(r, "td") for r in table.rows)
    return f"<div class='table'><table>{caption}{head}<tbody>{rows}</tbody></table></div>"


_CSS = """
:root { --ink:#1f2933; --muted:#6b7785; --line:#e3e8ee; --accent:#2563eb; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:linear-gradient(120deg,#1e3a8a,#2563eb); color:#fff; padding:28px 40px; }
header h1 { margin:0; font-size:26px; font-weight:600; }
.subtitle { margin:6px 0 0; opacity:.85; }
main { max-width:1180px; margin:0 auto; padding:8px 40px 48px; }
h2 { margin:36px 0 12px; font-size:20px; border-bottom:2px solid var(--line); padding-bottom:6px; }
h3 { margin:24px 0 8px; font-size:16px; }
p.muted { color:var(--muted); font-size:13px; }
.cards { display:flex; flex-wrap:wrap; gap:14px; margin-top:24px; }
.card { flex:1 1 150px; background:#fff; border:1px solid var(--line); border-radius:10px;
  padding:14px 16px; box-shadow:0 1px 2px rgba(0,0,0,.04); }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:24px; font-weight:600; margin-top:2px; }
.card .note { color:var(--muted); font-size:12px; }
.pipeline { display:flex; align-items:stretch; gap:4px; overflow-x:auto; padding:4px 0; }
.step { flex:1 1 0; min-width:150px; background:#fff; border:1px solid var(--line);
  border-top:4px solid var(--accent); border-radius:8px; padding:10px 12px; }
.step h4 { margin:0 0 6px; font-size:14px; color:var(--accent); }
.step ul { margin:0; padding-left:16px; font-size:12.5px; }
.step li { margin:2px 0; }
.arrow { align-self:center; color:#94a3b8; font-size:22px; }
.table { overflow-x:auto; }
table { border-collapse:collapse; background:#fff; border:1px solid var(--line); margin:8px 0;
  font-size:13.5px; min-width:50%; }
caption { caption-side:bottom; text-align:left; color:var(--muted); font-size:12.5px;
  padding-top:4px; }
th, td { padding:6px 12px; border-bottom:1px solid var(--line); text-align:left; }
th { background:#eef2f7; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tbody tr:nth-child(even) { background:#fafbfc; }
figure { margin:12px 0 20px; background:#fff; border:1px solid var(--line); border-radius:10px;
  padding:12px; }
figure img { max-width:100%; display:block; margin:0 auto; }
figcaption { color:var(--muted); font-size:13px; margin-top:6px; text-align:center; }
"""
