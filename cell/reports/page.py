"""The report as one self-contained HTML page: text, tables and the charts embedded as base64 PNG.

Nothing is loaded from elsewhere (no links, scripts, fonts or style sheets),
so the file can be mailed or opened without a network; the PNGs are also
written beside it. Every section has a stable ``id`` and the numbers in
tables carry ``data-`` attributes, so a check can read them back.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from cell.reports.plots import Figure

CSS = """
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #1a1a1a; line-height: 1.5; font-size: 17px; }
h1 { font-size: 1.7em; margin-bottom: 0.1em; }
h3 { font-size: 1.1em; margin-bottom: 0.3em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; }
.sub { color: #444; margin-top: 0; }
.banner { background: #fff3cd; border: 2px solid #E69F00; padding: 0.6em 1em; font-weight: bold; }
.privacy, .foot { color: #555; font-size: 0.9em; }
.keys { display: flex; flex-wrap: wrap; gap: 0.8em; padding: 0; list-style: none; }
.keys li { border: 1px solid #ccc; border-radius: 6px; padding: 0.5em 0.8em; flex: 1 1 180px; }
.keys b { display: block; font-size: 1.6em; color: #0072B2; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f2f6fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
ol.suggestions li { margin-bottom: 0.8em; padding-left: 0.3em; }
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


class Page:
    def __init__(self, title: str, lang: str = "en"):
        self.title = title
        self.lang = lang
        self.parts: list[str] = []
        self._open = False

    def h1(self, text: str, sub: str = "") -> None:
        self.parts.append(f"<h1>{esc(text)}</h1>")
        if sub:
            self.parts.append(f'<p class="sub">{esc(sub)}</p>')

    def section(self, sid: str, title: str) -> None:
        self.close()
        self._open = True
        self.parts.append(f'<section id="{esc(sid)}">')
        self.parts.append(f"<h2>{esc(title)}</h2>")

    def close(self) -> None:
        if self._open:
            self.parts.append("</section>")
            self._open = False

    def h3(self, text: str) -> None:
        self.parts.append(f"<h3>{esc(text)}</h3>")

    def p(self, text: str, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f"<p{c}>{esc(text)}</p>")

    def keys(self, items: list[tuple[str, str, str]]) -> None:
        """Key figures: (key, value, label)."""
        lis = "".join(f'<li data-key="{esc(k)}"><b>{esc(v)}</b>{esc(label)}</li>' for k, v, label in items)
        self.parts.append(f'<ul class="keys">{lis}</ul>')

    def figure(self, fig: Figure, out: Path, caption: str = "") -> None:
        data = base64.b64encode((out / fig.name).read_bytes()).decode("ascii")
        cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure data-file="{esc(fig.name)}"><img src="data:image/png;base64,{data}" '
                          f'alt="{esc(fig.title)}">{cap}</figure>')

    def table(self, tid: str, head: list[str], rows: list[tuple[dict, list]]) -> None:
        """rows: (tr data attributes, cells); a cell is text, or (text, column key) for a number."""
        out = [f'<table id="{esc(tid)}"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
        for attrs, cells in rows:
            a = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in attrs.items())
            tds = []
            for c in cells:
                if isinstance(c, tuple):
                    tds.append(f'<td class="n" data-col="{esc(c[1])}">{esc(c[0])}</td>')
                else:
                    tds.append(f"<td>{esc(c)}</td>")
            out.append(f"<tr{a}>" + "".join(tds) + "</tr>")
        out.append("</tbody></table>")
        self.parts.append("".join(out))

    def suggestions(self, items) -> None:
        lis = []
        for s in items:
            ev = esc(json.dumps(s.evidence, sort_keys=True))
            subject = f' data-subject="{esc(s.subject)}"' if s.subject else ""
            lis.append(f'<li data-rule="{esc(s.rule)}"{subject} data-evidence="{ev}">{esc(s.text)}</li>')
        self.parts.append('<ol class="suggestions">' + "".join(lis) + "</ol>")

    def raw_note(self, text: str) -> None:
        self.parts.append(f'<p class="foot">{esc(text)}</p>')

    def render(self) -> str:
        self.close()
        body = self.parts
        return ("<!DOCTYPE html>\n"
                f'<html lang="{esc(self.lang)}"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(self.title)}</title><style>{CSS}</style></head>\n<body>\n"
                + "\n".join(body) + "\n</body></html>\n")
