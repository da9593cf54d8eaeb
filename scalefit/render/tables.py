"""One table model, rendered as text, Markdown and HTML, and a Document of tables and text.

A ``Table`` holds strings only (cells already formatted with ``render.format``); every
rendering passes each cell and line through ``safe_text``, so values from the data never
reach a terminal, a Markdown file or a web page as control characters or markup, and
shortens them (a cell to ``CELL`` characters, a line of text to ``LINE``), so a huge label
from the data cannot make a table a megabyte wide.
``str(table) == table.to_text()``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .format import safe_text

CELL, LINE = 120, 1000  # characters of a table cell, of a line of text, at most


def _md_escape(text: str, limit: int = LINE) -> str:
    text = safe_text(text, limit)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


_CODE = re.compile(r"`([^`]+)`")


def _html_line(text: str, limit: int = LINE) -> str:
    """One line of prose as HTML: escaped, with Markdown `code` spans as <code>."""
    return _CODE.sub(r"<code>\1</code>", html.escape(safe_text(text, limit)))


class Rendered:
    """Printing and notebook display of anything with to_text / to_markdown / to_html."""

    def __str__(self) -> str:
        return self.to_text()

    def __contains__(self, text: str) -> bool:
        return text in self.to_text()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


@dataclass(frozen=True)
class Table(Rendered):
    """A titled table. ``title``: the line above it; ``notes``: lines below it;
    ``align``: 'l' or 'r' per column (default left); ``min_widths``: per column;
    ``sep``/``indent``: of the text rendering."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str | None = None
    notes: tuple[str, ...] = ()
    align: tuple[str, ...] = ()
    min_widths: tuple[int, ...] = ()
    sep: str = "  "
    indent: str = "  "

    def __post_init__(self):
        object.__setattr__(self, "header", tuple(str(h) for h in self.header))
        object.__setattr__(self, "rows", tuple(tuple(str(c) for c in r) for r in self.rows))
        object.__setattr__(self, "notes", tuple(self.notes))

    def lines(self) -> list[str]:
        """The text rendering, line by line."""
        header = [safe_text(h, CELL) for h in self.header]
        rows = [[safe_text(c, CELL) for c in r] for r in self.rows]
        widths = [max(len(x) for x in col) for col in zip(header, *rows)]
        widths = [max(w, self.min_widths[i] if i < len(self.min_widths) else 0)
                  for i, w in enumerate(widths)]

        def line(cells):
            parts = [c.rjust(w) if i < len(self.align) and self.align[i] == "r" else c.ljust(w)
                     for i, (c, w) in enumerate(zip(cells, widths))]
            return (self.indent + self.sep.join(parts)).rstrip()

        out = [safe_text(self.title, LINE)] if self.title is not None else []
        out += [line(header)] + [line(r) for r in rows]
        return out + [safe_text(n, LINE) for n in self.notes]

    def to_text(self) -> str:
        return "\n".join(self.lines())

    def to_markdown(self) -> str:
        out = [_md_escape(self.title), ""] if self.title else []
        out += ["| " + " | ".join(_md_escape(h, CELL) for h in self.header) + " |",
                "|" + "---|" * len(self.header)]
        out += ["| " + " | ".join(_md_escape(c, CELL) for c in r) + " |" for r in self.rows]
        if self.notes:
            out += [""] + [f"- {_md_escape(n.strip())}" for n in self.notes]
        return "\n".join(out)

    def to_html(self) -> str:
        esc = lambda x, n=LINE: html.escape(safe_text(x, n))  # noqa: E731
        head = "".join(f"<th>{esc(h, CELL)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{esc(c, CELL)}</td>" for c in r) + "</tr>"
                       for r in self.rows)
        out = f"<p>{esc(self.title)}</p>" if self.title else ""
        out += f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        if self.notes:
            out += "<ul>" + "".join(f"<li>{esc(n.strip())}</li>" for n in self.notes) + "</ul>"
        return out


@dataclass(frozen=True)
class Text:
    """Lines of text; ``pre``: keep their layout (Markdown code block, HTML ``<pre>``)."""

    lines: tuple[str, ...]
    pre: bool = False

    def __post_init__(self):
        object.__setattr__(self, "lines", tuple(self.lines))

    def to_text(self) -> str:
        return "\n".join(safe_text(x, LINE) for x in self.lines)

    def to_markdown(self) -> str:
        if self.pre:
            return "```\n" + self.to_text() + "\n```"
        return "\n".join(_md_escape(x.strip()) for x in self.lines)

    def to_html(self) -> str:
        if self.pre:
            return f"<pre>{html.escape(self.to_text())}</pre>"
        return "".join(f"<p>{_html_line(x.strip())}</p>" for x in self.lines if x.strip())


@dataclass(frozen=True)
class Bullets:
    """A list: ``- item`` lines in text and Markdown, ``<ul>`` in HTML."""

    items: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "items", tuple(self.items))

    def to_text(self) -> str:
        return "\n".join(safe_text(f"- {x.strip()}", LINE) for x in self.items)

    def to_markdown(self) -> str:
        return "\n".join(f"- {_md_escape(x.strip())}" for x in self.items)

    def to_html(self) -> str:
        return "<ul>" + "".join(f"<li>{_html_line(x.strip())}</li>" for x in self.items) + "</ul>"


@dataclass(frozen=True)
class Heading:
    """A section heading (``level`` 1-3); in text, a line of its own."""

    text: str
    level: int = 2

    def to_text(self) -> str:
        return safe_text(self.text, LINE)

    def to_markdown(self) -> str:
        return "#" * self.level + " " + _md_escape(self.text)

    def to_html(self) -> str:
        return f"<h{self.level}>{html.escape(safe_text(self.text, LINE))}</h{self.level}>"


@dataclass(frozen=True)
class Document(Rendered):
    """Tables, text and headings in order; printed as text, rendered as Markdown or HTML."""

    blocks: tuple = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))

    def to_text(self) -> str:
        return "\n".join(b.to_text() for b in self.blocks)

    def to_markdown(self) -> str:
        return "\n\n".join(m for m in (b.to_markdown() for b in self.blocks) if m.strip())

    def to_html(self) -> str:
        return "\n".join(b.to_html() for b in self.blocks)

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    def __add__(self, other: Document) -> Document:
        return Document(self.blocks + other.blocks)

