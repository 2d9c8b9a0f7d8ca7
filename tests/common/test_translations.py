"""The Simplified Chinese catalog is complete, well-formed and up to date with the source.

(a) every message has a non-empty, non-fuzzy translation whose placeholders match the msgid's;
(b) every msgid that `pybabel extract` finds in the source (babel.cfg) is in the catalog.

Fix failures with:
    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k _n:1,2 -k ngettext:1,2 -o /tmp/messages.pot .
    .venv/bin/pybabel update -i /tmp/messages.pot -d app/translations -l zh_Hans_CN --no-fuzzy-matching
then translate the new entries and run `.venv/bin/pybabel compile -d app/translations -f`.
"""
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO_PATH = ROOT / "app" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS = ["_l", "lazy_gettext", "_n:1,2", "ngettext:1,2"]

# %(name)s, %(n)d, %(h).1f, %s, %d ... (not the literal %%); and {name} / {0} for JS-side formatting.
PERCENT_RE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
BRACE_RE = re.compile(r"\{[A-Za-z0-9_]*\}")


def _placeholders(text: str) -> Counter:
    text = text.replace("%%", "")
    return Counter(PERCENT_RE.findall(text)) + Counter(BRACE_RE.findall(text))


def _literal_percent_ok(msgid: str, msgstr: str) -> bool:
    """A literal '%' must be written '%%' on both sides when the msgid uses python-format."""
    return msgid.count("%%") == msgstr.count("%%")


def _rel(path: str) -> str:
    return path[len(str(ROOT)) + 1:] if path.startswith(str(ROOT)) else path


@pytest.fixture(scope="module")
def catalog():
    with PO_PATH.open("rb") as fh:
        return read_po(fh)


def _messages(catalog):
    return [m for m in catalog if m.id]


def test_catalog_has_messages(catalog):
    assert len(_messages(catalog)) > 100


def test_every_message_is_translated(catalog):
    problems = []
    for m in _messages(catalog):
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy:
            problems.append(f"fuzzy: {m.id!r}")
        if not strings or not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {m.id!r}")
    assert not problems, f"{len(problems)} catalog problems:\n" + "\n".join(problems)


def test_placeholders_match(catalog):
    problems = []
    for m in _messages(catalog):
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        # zh has one plural form: its msgstr[0] must carry the placeholders of the plural msgid.
        expected = _placeholders(ids[-1])
        for s in strings:
            if not s:
                continue
            got = _placeholders(s)
            if got != expected:
                problems.append(f"{m.id!r}: expected {sorted(expected.elements())}, got {sorted(got.elements())} in {s!r}")
            if m.python_format and not _literal_percent_ok(ids[-1], s):
                problems.append(f"{m.id!r}: literal % must stay %% in {s!r}")
    # Babel's own checks (python-format compatibility, plural count), as `pybabel compile` runs them.
    for message, errors in catalog.check():
        problems.extend(f"{message.id!r}: {e}" for e in errors)
    assert not problems, f"{len(problems)} placeholder problems:\n" + "\n".join(problems)


def test_catalog_is_up_to_date_with_source(catalog, tmp_path):
    pot = tmp_path / "messages.pot"
    args = ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg")]
    for k in KEYWORDS:
        args += ["-k", k]
    args += ["-o", str(pot), str(ROOT)]
    CommandLineInterface().run(args)
    with pot.open("rb") as fh:
        extracted = read_po(fh)
    known = {m.id for m in _messages(catalog)}
    missing = sorted(
        (f"{m.id!r}  ({', '.join(f'{_rel(p)}:{n}' for p, n in m.locations[:2])})" for m in extracted if m.id and m.id not in known),
    )
    assert len(_messages(extracted)) > 100, "extraction found too few messages: check babel.cfg"
    assert not missing, (
        f"{len(missing)} source strings are not in the catalog (run pybabel extract/update and translate them):\n"
        + "\n".join(missing)
    )
