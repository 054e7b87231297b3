"""Markup stripping on real message syntax (MediaWiki, HTML, gettext)."""
from corpus.markup import strip_markup


def test_wiki_links_templates_emphasis_parameters():
    text = "Voir [[Special:Preferences|vos préférences]] et '''{{PLURAL:$1|une page|$1 pages}}''' sur [https://x.org le site]"
    assert strip_markup(text, ["wiki"]) == "Voir vos préférences et une page sur le site"


def test_wiki_nested_templates_and_magic_words():
    assert strip_markup("{{GENDER:$2|{{PLURAL:$1|a|b}}|c}} __NOTOC__ ok", ["wiki"]) == "a ok"


def test_html_tags_comments_and_entities():
    text = '需要<var>vars</var>、<code>rcid</code><!-- hidden -->或&nbsp;&lt;logid&gt;'
    assert strip_markup(text, ["html"]) == "需要 vars 、 rcid 或\u00a0<logid>"


def test_gettext_formats_and_mnemonics():
    text = "_Open %s (%d of %2$s) at 100%%"
    assert strip_markup(text, ["gettext"]) == "Open ( of ) at 100"


def test_no_markup_leaves_text_untouched():
    text = "  {{x}} <b> %s  "
    assert strip_markup(text, []) == text


def test_text_without_any_mark_character_is_left_to_itself():
    # strip_any_markup skips lines without one of these characters: every stripper must too.
    from corpus.markup import _ANY_MARK, STRIPPERS
    text = "".join(chr(cp) for cp in range(0x3000) if not _ANY_MARK.match(chr(cp)))
    for strip in STRIPPERS.values():
        assert strip(text) == text
    for ch in "{['$_<&%":
        assert _ANY_MARK.match(ch)
