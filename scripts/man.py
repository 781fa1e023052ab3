#!/usr/bin/env python3
"""Writes hrcallout(4) from its sources, so that the man page cannot drift from them:

- the ioctls, their numbers and argument structs, the record format: the UAPI header
  (include/uapi/linux/hrcallout.h), the one ABI source;
- what each ioctl returns and every errno it can give, read()/poll(): docs/errno.md;
- the module parameters: the README's parameter table (which `make check` compares with
  modinfo);
- the prose: docs/hrcallout.4.in, with @IOCTLS@, @STRUCTS@, @RECORD@, @ERRORS@, @READ@ and
  @PARAMETERS@ where the generated parts go.

Fails (exit 1) if the header and docs/errno.md do not name the same ioctls.
Usage: scripts/man.py OUT.4
"""
import datetime
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "include/uapi/linux/hrcallout.h")
ERRNO = os.path.join(ROOT, "docs/errno.md")
README = os.path.join(ROOT, "README.md")
TEMPLATE = os.path.join(ROOT, "docs/hrcallout.4.in")

# The few non-ASCII characters the sources use, as roff escapes.
GLYPHS = {"—": r"\(em", "–": r"\(en", "≤": r"\(<=", "≥": r"\(>=", "×": r"\(mu",
          "µ": r"\(mc", "→": r"\(->", "’": "'", "…": "...", "±": r"\(+-"}


def roff(text):
    """Markdown-ish text (backticks, **bold**) as one roff text line."""
    text = text.replace("\\", r"\e")
    for k, v in GLYPHS.items():
        text = text.replace(k, v)
    bad = [c for c in text if ord(c) > 127]
    if bad:
        sys.exit(f"man.py: no roff escape for {bad[0]!r} in: {text}")
    text = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    if text.startswith((".", "'")):
        text = r"\&" + text
    return text


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def table(lines, first):
    """The rows (as cell lists) of the markdown table whose header starts with `first`."""
    out, inside = [], False
    for line in lines:
        if line.startswith("| " + first):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            if line.startswith("|---"):
                continue
            out.append(cells(line))
    return out


def main():
    out = sys.argv[1]
    header = open(HEADER).read()
    errno_lines = open(ERRNO).read().splitlines()
    readme = open(README).read().splitlines()

    # Ioctl numbers: `HRC_IOC_X = _IOWR(HRC_IOC_MAGIC, 0x10, struct hrc_x),`
    numbers = {}
    for m in re.finditer(r"(HRC_IOC_\w+) = _IO(R|W|WR)\(HRC_IOC_MAGIC, (0x[0-9a-f]+), struct (\w+)\)",
                         header):
        numbers[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    rows = table(errno_lines, "ioctl |")
    documented = {}
    for r in rows:
        names = re.findall(r"`(HRC_IOC_\w+|_\w+)`", r[0])
        # "`HRC_IOC_CALLOUT_ACTIVE` / `_PENDING`": the suffix replaces the last word.
        prefix = names[0][: names[0].rfind("_")]
        for name in names:
            documented[prefix + name if name.startswith("_") else name] = r
    missing = sorted(set(numbers) - set(documented))
    extra = sorted(set(documented) - set(numbers))
    if missing or extra:
        sys.exit(f"man.py: header and docs/errno.md disagree: not in errno.md {missing}, "
                 f"not in the header {extra}")

    ioctls = []
    for name, (rw, nr, struct) in numbers.items():
        r = documented[name]
        direction = {"R": "out", "W": "in", "WR": "in and out"}[rw]
        ioctls += [".TP", f".B {name}", f"Number {nr}, argument \\fBstruct {struct}\\fR ({direction})."]
        ioctls += [".br", "Returns " + roff(r[1]) + ".", ".br",
                   "Errors: " + (roff(r[2]) if r[2] != "—" else "only the common ones") + "."]

    # Every struct an ioctl takes, and the record, with their comments, as the header has them.
    def struct_text(name):
        m = re.search(r"((?:/\*(?:[^*]|\*(?!/))*\*/\n)?(?:#define [^\n]*\n)*)struct " + name +
                      r" \{\n(.*?)\n\};", header, re.S)
        if not m:
            sys.exit(f"man.py: struct {name} not found in the header")
        body = "struct " + name + " {\n" + m.group(2) + "\n};"
        return [".PP", ".EX"] + [roff(l.replace("\t", "    ")) for l in body.splitlines()] + [".EE"]

    structs = []
    for s in sorted({v[2] for v in numbers.values()} - {"hrc_event"}):
        structs += struct_text(s)
    record = struct_text("hrc_event")
    kinds = re.search(r"enum hrc_event_kind \{\n(.*?)\n\};", header, re.S).group(1)
    record += [".PP", "Kinds (\\fBenum hrc_event_kind\\fR):", ".EX"]
    record += [roff(l.replace("\t", "    ")) for l in kinds.splitlines()] + [".EE"]
    flags = re.findall(r"#define (HRC_EVF_\w+) (\w+)\t/\* (.*?) \*/", header)
    record += [".PP", "Flags:"]
    for f, v, c in flags:
        record += [".TP", f".B {f}", f"{v}: " + roff(c)]

    errors = []
    for r in table(errno_lines, "errno |"):
        errors += [".TP", ".B " + r[0].strip("`"), roff(r[1])]

    # read() and poll(): the paragraph after the per-ioctl table.
    i = next(k for k, l in enumerate(errno_lines) if l.startswith("`read()`"))
    para = []
    while i < len(errno_lines) and errno_lines[i].strip():
        para.append(errno_lines[i])
        i += 1
    read = [roff(" ".join(para))]

    params = []
    for r in table(readme, "parameter |"):
        params += [".TP", ".B " + r[0].strip("`"), roff(f"{r[2]} (default {r[1]}, unit: {r[3]})")]
    if not params:
        sys.exit("man.py: no module parameter table in README.md")

    page = open(TEMPLATE).read()
    date = os.environ.get("HRC_MAN_DATE") or datetime.date.today().isoformat()
    for key, val in [("@DATE@", [date]), ("@IOCTLS@", ioctls), ("@STRUCTS@", structs),
                     ("@RECORD@", record), ("@ERRORS@", errors), ("@READ@", read),
                     ("@PARAMETERS@", params)]:
        page = page.replace(key, "\n".join(val))
    with open(out, "w") as f:
        f.write(page)


main()
