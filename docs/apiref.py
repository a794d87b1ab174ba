#!/usr/bin/env python3
"""The C API reference: one HTML page from include/polysock.h's doc
comments, grouped as README.md's "API overview" groups the functions, with
the README's conventions, error codes, event loop and threads sections.

    python3 docs/apiref.py --out target/apiref      (or: make docs)

Exits 1 after writing the page when anything is off, so that nothing is
left out silently: a function without a doc comment, a function no README
group names (it is shown under "Other"), a README name the header lacks,
an error code missing from the README's table, a header line it cannot
place.
"""

import argparse
import html
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_SECTIONS = [
    "API conventions",
    "Error codes",
    "Integrating with an event loop",
    "Threads",
]
warnings = []


def warn(msg):
    warnings.append(msg)
    print(f"apiref: warning: {msg}", file=sys.stderr)


# ---------------------------------------------------------------- header


class Item:
    def __init__(self, kind, name, text, doc, line):
        self.kind, self.name, self.text, self.doc, self.line = kind, name, text, doc, line
        self.fields = []  # (declaration, doc) of a struct


def doc_text(lines):
    """The text of a /** ... */ block, without the comment markers."""
    out = []
    for line in lines:
        line = line.strip()
        line = re.sub(r"^/\*\*", "", line)
        line = re.sub(r"\*/$", "", line)
        line = re.sub(r"^\* ?", "", line)
        out.append(line.rstrip())
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def parse_header(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    items, doc, i = [], None, 0

    def read_comment(start):
        end = start
        while "*/" not in lines[end]:
            end += 1
        return lines[start : end + 1], end + 1

    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if not s:
            i += 1
            continue
        if s.startswith("/**"):
            block, i = read_comment(i)
            doc = doc_text(block)
            continue
        if s.startswith("/*"):  # a plain comment: banner, notes
            _, i = read_comment(i)
            doc = None
            continue
        if s.startswith("//"):
            i += 1
            continue
        m = re.match(r"#define (POLYSOCK_\w+) (.+)$", s)
        if m:
            items.append(Item("macro", m.group(1), m.group(2), doc, i + 1))
            doc, i = None, i + 1
            continue
        if re.match(r"#(ifndef|define|endif|include|ifdef)\b", s):
            i += 1
            continue
        if s in ('extern "C" {', "}  // extern \"C\"", "}"):
            i += 1
            continue
        m = re.match(r"typedef struct (\w+) \{$", s)
        if m:
            item = Item("struct", m.group(1), None, doc, i + 1)
            i += 1
            field_doc = None
            while not lines[i].strip().startswith("}"):
                f = lines[i].strip()
                if f.startswith("/**"):
                    block, i = read_comment(i)
                    field_doc = doc_text(block)
                    continue
                if f:
                    item.fields.append((f, field_doc))
                    field_doc = None
                i += 1
            item.text = "\n".join(
                [f"typedef struct {item.name} {{"]
                + [f"  {f}" for f, _ in item.fields]
                + [lines[i].strip()]
            )
            items.append(item)
            doc, i = None, i + 1
            continue
        # A plain typedef, or a function pointer's: typedef R (*name)(args);
        m = re.match(r"typedef .* (\w+);$", s) or re.match(r"typedef .*\(\*(\w+)\)\(.*\);$", s)
        if m:
            items.append(Item("typedef", m.group(1), s, doc, i + 1))
            doc, i = None, i + 1
            continue
        # A function declaration, possibly over several lines.
        decl, j = s, i
        while not decl.endswith(";") and j + 1 < len(lines):
            j += 1
            decl += " " + lines[j].strip()
        m = re.search(r"\b(polysock_\w+)\s*\(", decl)
        if m and decl.endswith(");"):
            items.append(Item("function", m.group(1), decl, doc, i + 1))
            doc, i = None, j + 1
            continue
        warn(f"{os.path.basename(path)}:{i + 1}: cannot place: {s}")
        doc, i = None, i + 1
    return items


# ---------------------------------------------------------------- README


def readme_sections(path):
    """{title: [lines]} of README.md's ## sections."""
    sections, title = {}, None
    fence = False
    for line in open(path, encoding="utf-8").read().split("\n"):
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            title = line[3:].strip()
            sections[title] = []
        elif title is not None:
            sections[title].append(line)
    return sections


def readme_groups(lines, functions):
    """[(group, [function names])] from the API overview's bullets. A
    backticked word names a function with or without the polysock_
    prefix (`polysock_getservbyname`/`getservbyport`)."""
    bullets, groups, seen = [], [], {}
    for line in lines:
        if line.startswith("- "):
            bullets.append(line[2:])
        elif line.startswith("  ") and bullets:
            bullets[-1] += " " + line.strip()
    for bullet in bullets:
        m = re.match(r"\*\*(.+?)\*\*", bullet)
        if not m:
            continue
        name = m.group(1).rstrip(":").strip()
        members = []
        for word in re.findall(r"`([^`]+)`", bullet):
            full = word if word.startswith("polysock_") else "polysock_" + word
            if full in functions:
                if full in seen:
                    warn(f"README groups {full} twice ({seen[full]}, {name})")
                    continue
                seen[full] = name
                members.append(full)
            elif word.startswith("polysock_") and re.fullmatch(r"[a-z0-9_]+", word):
                warn(f"README's API overview names {word}, which polysock.h lacks")
        groups.append((name, members))
    return groups


# ---------------------------------------------------------------- HTML


class Linker:
    """Turns text into HTML: `code`, **bold**, [links](url), and links to
    every function, type and documented macro it names."""

    def __init__(self, targets):
        self.targets = targets
        names = sorted(targets, key=len, reverse=True)
        self.names_re = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None

    def names(self, escaped):
        if not self.names_re:
            return escaped
        return self.names_re.sub(lambda m: f'<a href="#{m.group(1)}">{m.group(1)}</a>', escaped)

    def inline(self, text):
        out, pos = [], 0
        for m in re.finditer(r"`([^`]+)`|\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)]+)\)", text):
            out.append(self.names(html.escape(text[pos : m.start()], quote=False)))
            if m.group(1) is not None:
                out.append(f"<code>{self.names(html.escape(m.group(1), quote=False))}</code>")
            elif m.group(2) is not None:
                out.append(f"<strong>{self.inline(m.group(2))}</strong>")
            else:
                out.append(f'<a href="{html.escape(m.group(4))}">{self.inline(m.group(3))}</a>')
            pos = m.end()
        out.append(self.names(html.escape(text[pos:], quote=False)))
        return "".join(out)

    def paragraphs(self, text):
        paras = [p for p in re.split(r"\n\s*\n", text or "") if p.strip()]
        return "\n".join(f"<p>{self.inline(' '.join(p.split()))}</p>" for p in paras)

    def code(self, text):
        return f"<pre><code>{self.names(html.escape(text, quote=False))}</code></pre>"

    def markdown(self, lines):
        """The small Markdown subset README.md uses: paragraphs, lists,
        tables, fenced and indented code."""
        out, i = [], 0
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
            elif line.startswith("```"):
                j = i + 1
                while j < len(lines) and not lines[j].startswith("```"):
                    j += 1
                out.append(self.code("\n".join(lines[i + 1 : j])))
                i = j + 1
            elif line.startswith("    "):
                j = i
                while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                    j += 1
                out.append(self.code("\n".join(l[4:] for l in lines[i:j]).rstrip()))
                i = j
            elif line.startswith("|"):
                j = i
                while j < len(lines) and lines[j].startswith("|"):
                    j += 1
                out.append(self.table(lines[i:j]))
                i = j
            elif re.match(r"- ", line):
                items = []
                while i < len(lines) and (lines[i].startswith("- ") or lines[i].startswith("  ")):
                    if lines[i].startswith("- "):
                        items.append(lines[i][2:])
                    else:
                        items[-1] += " " + lines[i].strip()
                    i += 1
                out.append("<ul>" + "".join(f"<li>{self.inline(t)}</li>" for t in items) + "</ul>")
            else:
                j = i
                while j < len(lines) and lines[j].strip() and not re.match(r"(- |\||```|    )", lines[j]):
                    j += 1
                out.append(f"<p>{self.inline(' '.join(l.strip() for l in lines[i:j]))}</p>")
                i = j
        return "\n".join(out)

    def table(self, rows):
        cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
        head, body = cells[0], [r for r in cells[2:]]
        align = ["right" if c.endswith(":") else "left" for c in cells[1]]
        h = "".join(f"<th>{self.inline(c)}</th>" for c in head)
        b = "".join(
            "<tr>" + "".join(f'<td style="text-align:{a}">{self.inline(c)}</td>' for c, a in zip(r, align)) + "</tr>"
            for r in body
        )
        return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def check_error_codes(items, error_lines):
    """Every polysock error code in the header is a row of the README's
    error table, with the same number."""
    macros = {it.name: it.text for it in items if it.kind == "macro"}
    base = int(macros.get("POLYSOCK_ERR_BASE", "20000"))
    rows = {}
    for line in error_lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            rows[cells[1]] = int(cells[0])
    for name, value in macros.items():
        if not re.fullmatch(r"POLYSOCK_E[A-Z_]+", name) or not value.isdigit() or int(value) <= base:
            continue
        short = name[len("POLYSOCK_") :]
        found = rows.get(name, rows.get(short))
        if found is None:
            warn(f"error code {name} ({value}) is not in README's error code table")
        elif found != int(value):
            warn(f"README's error code table gives {short} as {found}, polysock.h as {value}")


CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
pre { background: #f5f5f5; padding: .6em .8em; overflow-x: auto; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { margin-bottom: .2em; } h3 code { font-size: 1em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .2em .5em; vertical-align: top; }
nav ul { columns: 2; } .other { color: #a00; }
"""


def page(items, sections, version):
    functions = {it.name: it for it in items if it.kind == "function"}
    types = [it for it in items if it.kind in ("struct", "typedef")]
    documented = [it for it in items if it.kind == "macro" and it.doc]
    plain = [it for it in items if it.kind == "macro" and not it.doc]
    linker = Linker([*functions, *(t.name for t in types), *(m.name for m in documented)])

    for f in functions.values():
        if not f.doc:
            warn(f"{f.name} has no doc comment in polysock.h")
    groups = readme_groups(sections.get("API overview", []), functions)
    if not groups:
        warn("README.md has no API overview groups")
    grouped = {f for _, members in groups for f in members}
    other = [f for f in functions if f not in grouped]
    for f in other:
        warn(f"{f} is in no group of README's API overview (shown under Other)")
    if other:
        groups.append(("Other (not yet in README's API overview)", other))
    check_error_codes(items, sections.get("Error codes", []))

    toc, body = [], []

    def section(title, content, cls=""):
        ident = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        toc.append(f'<li><a href="#{ident}"{cls}>{html.escape(title)}</a></li>')
        body.append(f'<h2 id="{ident}"{cls}>{html.escape(title)}</h2>\n{content}')

    for title in README_SECTIONS:
        if title in sections:
            section(title, linker.markdown(sections[title]))
        else:
            warn(f"README.md has no '## {title}' section")
    for name, members in groups:
        parts = []
        for f in members:
            it = functions[f]
            parts.append(f'<h3 id="{f}"><code>{f}</code></h3>\n{linker.code(it.text)}\n{linker.paragraphs(it.doc)}')
        section(name, "\n".join(parts), ' class="other"' if name.startswith("Other") else "")
    parts = []
    for t in types:
        fields = ""
        if t.fields:
            rows = "".join(
                f"<tr><td><code>{html.escape(d)}</code></td><td>{linker.inline(' '.join((doc or '').split()))}</td></tr>"
                for d, doc in t.fields
            )
            fields = f"<table><tbody>{rows}</tbody></table>"
        parts.append(f'<h3 id="{t.name}"><code>{t.name}</code></h3>\n{linker.paragraphs(t.doc)}\n{fields}')
    section("Types", "\n".join(parts))
    rows = "".join(
        f'<tr id="{m.name}"><td><code>{m.name}</code></td><td><code>{html.escape(m.text)}</code></td><td>{linker.inline(" ".join(m.doc.split()))}</td></tr>'
        for m in documented
    )
    section("Macros", f"<table><thead><tr><th>name</th><th>value</th><th>meaning</th></tr></thead><tbody>{rows}</tbody></table>")
    rows = "".join(f"<tr><td><code>{m.name}</code></td><td><code>{html.escape(m.text)}</code></td></tr>" for m in plain)
    section(
        "Platform constants",
        "<p>The platform's socket constants and error code values (Linux's in this page), also available "
        "at run time through <a href=\"#polysock_constant_lookup\">polysock_constant_lookup</a>.</p>"
        f"<details><summary>{len(plain)} macros</summary><table><tbody>{rows}</tbody></table></details>",
    )
    title = f"polysock {html.escape(version)} C API reference"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body>\n<h1>{title}</h1>\n"
        "<p>Generated from <code>include/polysock.h</code> and <code>README.md</code> by "
        "<code>docs/apiref.py</code>.</p>\n"
        f"<nav><ul>{''.join(toc)}</ul></nav>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--header", default=os.path.join(ROOT, "include", "polysock.h"))
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    ap.add_argument("--out", required=True, help="directory for index.html")
    args = ap.parse_args()
    items = parse_header(args.header)
    macros = {it.name: it.text for it in items if it.kind == "macro"}
    version = macros.get("POLYSOCK_VERSION_STRING", '"?"').strip('"')
    text = page(items, readme_sections(args.readme), version)
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "index.html")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    n = sum(1 for it in items if it.kind == "function")
    print(f"apiref: {out}: {n} functions, {len(warnings)} warnings")
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main())
