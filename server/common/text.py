"""Which characters text from outside may hold: API fields and imported files alike.

Control characters have no place in a name, a code or a note: NUL is refused by PostgreSQL,
most C0 controls cannot be written to an Excel file, and escape sequences rewrite a terminal
that shows a log. Lone surrogates cannot be encoded as UTF-8 at all, and XML (so an Excel
file) cannot hold them nor the noncharacters U+FFFE and U+FFFF. The bidirectional
overrides and isolates make text display in another order than it is stored, so a name or a
reason could read differently on screen than in the database ("Trojan Source"); Chinese
text never needs them. The left-to-right and right-to-left marks (U+200E, U+200F) stay
allowed: they only nudge mixed-direction text and reorder nothing.
"""
from __future__ import annotations

import re

_ALWAYS_REFUSED = ("\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 but tab, LF and CR; DEL; C1
                   "\u2028\u2029"                     # line and paragraph separators
                   "\u202a-\u202e\u2066-\u2069"       # bidirectional embeddings, overrides, isolates
                   "\ud800-\udfff\ufffe\uffff")       # lone surrogates, noncharacters
_IN_A_LINE = re.compile(f"[\t\n\r{_ALWAYS_REFUSED}]")
LINE_CHARACTER = f"[^\t\n\r{_ALWAYS_REFUSED}]"  # a regular-expression class: what a line of text may hold
# Free text may break lines as any client does, CRLF included, and hold tabs.
_IN_FREE_TEXT = re.compile(f"[{_ALWAYS_REFUSED}]")

CONTROL_IN_LINE = "不能包含控制字符或换行"
CONTROL_IN_FREE_TEXT = "除换行和制表符外不能包含控制字符"


def control_character_problem(text: str, *, free_text: bool = False) -> str | None:
    """The Chinese message for a `text` holding characters it may not, else None.

    A line of text (a name, a code, a number) holds no control character at all; free text
    (notes, reasons, evidence, descriptions) may also hold tabs and line breaks.
    """
    if free_text:
        return CONTROL_IN_FREE_TEXT if _IN_FREE_TEXT.search(text) else None
    return CONTROL_IN_LINE if _IN_A_LINE.search(text) else None


def without_control_characters(text: str) -> str:
    """`text` less every character free text may not hold: stored text made safe to write into a file."""
    return _IN_FREE_TEXT.sub("", text)
