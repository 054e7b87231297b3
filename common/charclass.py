"""One regular-expression character class for a set of characters, as ranges."""


def char_class(chars) -> str:
    """A character class of `chars` (literal characters and ranges, valid for Python's re and
    regex and Hugging Face's Oniguruma alike); ranges let re test a class against a bitmap.
    An empty set gives a class that matches nothing."""
    points = sorted({ord(ch) for ch in chars})
    if not points:
        return "[^\\s\\S]"
    spans, start = [], None
    for i, cp in enumerate(points):
        start = cp if start is None else start
        if i + 1 == len(points) or points[i + 1] != cp + 1:
            spans.append((start, cp))
            start = None
    literal = lambda cp: "\\" + chr(cp) if chr(cp) in "\\]^-[" else chr(cp)  # noqa: E731
    return "[" + "".join(literal(a) if a == b else f"{literal(a)}-{literal(b)}" for a, b in spans) + "]"
