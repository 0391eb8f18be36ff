"""What a piece of text leaves open for the text after it, by the Unicode bidirectional
algorithm's explicit rules (X1 to X8): embeddings, overrides and isolates not yet closed."""

from __future__ import annotations

EMBEDDINGS = "\u202a\u202b\u202d\u202e"  # LRE RLE LRO RLO
ISOLATES = "\u2066\u2067\u2068"  # LRI RLI FSI
POP_EMBEDDING, POP_ISOLATE = "\u202c", "\u2069"  # PDF PDI


def left_open(text: str) -> list[str]:
    """The controls still in force after ``text``, outermost first."""
    stack: list[str] = []
    for char in text:
        if char in EMBEDDINGS or char in ISOLATES:
            stack.append(char)
        elif char == POP_EMBEDDING and stack and stack[-1] in EMBEDDINGS:
            stack.pop()
        elif char == POP_ISOLATE and any(c in ISOLATES for c in stack):
            while stack.pop() not in ISOLATES:
                pass
    return stack
