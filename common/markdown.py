"""Markdown tables and the self-contained HTML page every report of the pipeline is made of.

`table` formats each column by its own type (counts with thousands separators, measures with
four decimals): pandas' `to_markdown` hands tabulate the rows as one float array, so a count
beside a share printed as 5.56887e+06.
"""
import math

import pandas as pd

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def _cell(value, decimals: int) -> str:
    if hasattr(value, "item"):   # numpy scalars as Python numbers
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{decimals}f}"
    return str(value).replace("|", "\\|")


def table(frame: pd.DataFrame, decimals: int = 4, index: bool = True) -> str:
    """A DataFrame as a markdown table: the index as the first column(s), column levels joined by
    spaces ("ingest lines_in"), numbers right-aligned, NaN as –."""
    if index:
        frame = frame.reset_index()
    headers = [" ".join(map(str, c)).strip() if isinstance(c, tuple) else str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, decimals) for v in row) + " |")
    return "\n".join(lines)


def markdown_page(title: str, sections: list, figures) -> str:
    """A markdown report of `sections`, (markdown, [png bytes]) pairs, each plot written to the
    directory `figures` and shown after its section's first heading."""
    figures.mkdir(exist_ok=True)
    parts = [f"# {title}\n"]
    for number, (markdown, images) in enumerate(sections, 1):
        heading, _, rest = markdown.partition("\n")
        links = []
        for index, png in enumerate(images, 1):
            (figures / f"{number:02d}-{index}.png").write_bytes(png)
            links.append(f"![{heading.strip('# ')}]({figures.name}/{number:02d}-{index}.png)\n")
        parts.append(heading + "\n" + "".join(links) + rest)
    return "\n".join(parts)


def html_page(title: str, sections: list) -> str:
    """A self-contained HTML report (plots embedded, opens offline): `sections` are
    (markdown, [png bytes]) pairs, each plot shown after its section's first heading."""
    import base64
    import html

    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark").enable("table").render
    body = [f"<h1>{html.escape(title)}</h1>"]
    for markdown, images in sections:
        heading, _, rest = markdown.partition("\n")
        body.append(render(heading))
        body += [f'<img alt="{html.escape(heading.strip("# "))}" src="data:image/png;base64,'
                 f'{base64.b64encode(png).decode()}">' for png in images]
        body.append(render(rest))
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}img{max-width:100%}"
             "table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;"
             "text-align:right}th{background:#f3f3f3}h2{border-bottom:1px solid #ddd;margin-top:2em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
