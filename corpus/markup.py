"""Markup stripping per source (`markup:` in the manifest): wiki, html, gettext.

Interface strings and wiki dumps carry syntax that is not language: templates, links,
tags, entities, message parameters ($1), printf formats (%s) and mnemonic underscores.
Text inside links and the first form of PLURAL/GENDER/GRAMMAR switches is kept.
"""
import html
import re

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TEMPLATE = re.compile(r"\{\{([^{}]*)\}\}")
_SWITCH = re.compile(r"^\s*#?(PLURAL|GENDER|GRAMMAR|FORMATNUM|UCFIRST|LCFIRST|BIDI|LC|UC)\s*:", re.I)
_INTERNAL_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]")
_EXTERNAL_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]+\s*([^\]]*)\]")
_EMPHASIS = re.compile(r"'{2,}")
_PARAM = re.compile(r"\$\d+")
_MAGIC = re.compile(r"__[A-Z]+__")
_PRINTF = re.compile(r"%(?:\d+\$)?[-+ 0#]*(?:\d+|\*)?(?:\.\d+)?(?:hh|h|ll|l|L|z|j|t|I64|I)?[sdiuoxXfFeEgGcpn%]")
_MNEMONIC = re.compile(r"(?<![\w])_(?=\w)")
_SPACES = re.compile(r"\s{2,}")


def _template(match) -> str:
    body = match.group(1)
    if _SWITCH.match(body):
        forms = body.split(":", 1)[1].split("|")
        # PLURAL, GENDER and GRAMMAR switch on their first field; keep the first form.
        selector = body.strip().lstrip("#").upper()
        return forms[1] if len(forms) > 1 and selector.startswith(("PLURAL", "GENDER", "GRAMMAR")) else forms[0]
    return ""


def strip_wiki(text: str) -> str:
    if not any(mark in text for mark in ("{{", "[", "''", "$", "__")):
        return text
    for _ in range(5):  # templates nest; strip innermost first
        stripped = _TEMPLATE.sub(_template, text)
        if stripped == text:
            break
        text = stripped
    text = _INTERNAL_LINK.sub(r"\1", text)
    text = _EXTERNAL_LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    text = _MAGIC.sub("", text)
    return _PARAM.sub("", text)


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    return html.unescape(_TAG.sub(" ", _COMMENT.sub(" ", text)))


def strip_gettext(text: str) -> str:
    if "%" not in text and "_" not in text:
        return text
    return _MNEMONIC.sub("", _PRINTF.sub("", text))


STRIPPERS = {"wiki": strip_wiki, "html": strip_html, "gettext": strip_gettext}
_ANY_MARK = re.compile(r"[{\['$_<&%]")   # every character some stripper above looks for


def strip_any_markup(text: str) -> str:
    """Every stripper in turn, for text of unknown markup (language ID's view of a line)."""
    if not _ANY_MARK.search(text):
        return text
    for strip in STRIPPERS.values():
        text = strip(text)
    return text


def strip_markup(text: str, kinds) -> str:
    for kind in kinds:
        text = STRIPPERS[kind](text)
    return _SPACES.sub(" ", text).strip() if kinds else text
