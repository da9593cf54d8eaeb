"""Rendering: one number formatter and ``safe_text`` (``format``), one table model with
text, Markdown and HTML renderings (``tables``), figures that draw what a result holds
(``figures`` and its parts), and the report files (``report``)."""
