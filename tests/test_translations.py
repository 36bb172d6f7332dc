"""The translation guard: nothing of the project reaches a zh-Hans page or export in English.

Four checks, each catching a way English slips through:
- the catalogue: every msgid of locale/zh_Hans has a non-empty, non-fuzzy msgstr;
- the extraction: `makemessages` run on a copy of the sources adds no msgid the catalogue lacks
  (a string marked but never translated), and every gettext function is imported under a name
  `makemessages` knows (`_`, or its own name: an alias like `_lazy` is never extracted);
- the pages: every page reachable by every demo role, rendered in zh-Hans, shows no English word;
- the exports: every CSV/XLSX export in zh-Hans has headers and values in Chinese, codes by their labels.
"""

import ast
import csv
import io
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from shop.models import User

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
SOURCE_DIRS = ("aftersales", "api", "config", "interception", "settlement", "shop", "templates")
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}

# Latin words a Chinese page may show: names of formats and standards, units, and the demo's own
# identifiers (user names, shop codes). Words with a digit (tracking numbers, outlet codes) always pass.
ALLOWED_WORDS = {
    *("SKU", "ID", "CSV", "XLSX", "URL", "API", "HTTP", "HTTPS", "JSON", "HMAC", "SHA", "IM", "ERP"),
    *("GET", "POST"),
    *("PNG", "JPEG", "JPG", "WebP", "MB", "KB", "UTC", "GMT", "ISO", "OK", "Django", "Token", "Bearer"),
    *("merchant", "agent", "finance", "clerk", "global", "operator", "outlet", "yto", "jt", "demo", "shop", "pass"),
    # Parts of outlet codes (YTO-SH-001: checked as a whole, it has digits); a courier code alone is flagged.
    *("SH", "GZ", "YW", "HZ", "BJ", "SZ", "CD", "WH", "NJ"),
    *("DS", "DG", "AS", "SO", "ASDS", "ASDG", "AM", "PM", "px", "kg", "g", "L", "ml", "m", "cm"),
    *("English", "Kevin", "Lily"),  # the language switch names each language in itself; buyers' nicknames
}


# --- the catalogue -------------------------------------------------------------------------------


def _entries(po_text: str) -> list[dict]:
    """The entries of a .po file: msgid (with plural), msgstr(s), flags. Enough of the format for a check."""
    entries, current, field = [], None, None
    for raw in po_text.splitlines() + [""]:
        line = raw.strip()
        if not line:
            if current and (current["msgid"] or current["msgstr"]):
                entries.append(current)
            current, field = None, None
            continue
        current = current or {"msgid": "", "msgctxt": "", "msgstr": {}, "flags": set()}
        if line.startswith("#,"):
            current["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if field[0] == "msgstr":
                current["msgstr"][field[1]] = current["msgstr"].get(field[1], "") + value
            else:
                current[field[0]] += value
        else:
            keyword, _, value = line.partition(" ")
            value = ast.literal_eval(value)
            if keyword.startswith("msgstr"):
                field = ("msgstr", keyword)
                current["msgstr"][keyword] = value
            elif keyword in ("msgid", "msgctxt"):
                field = (keyword, None)
                current[keyword] = value
            else:  # msgid_plural
                field = ("msgid", None)
                current["msgid"] += "\x00" + value
    return [entry for entry in entries if entry["msgid"]]  # the header entry has an empty msgid


def _msgids(po_text: str) -> set[tuple[str, str]]:
    return {(entry["msgctxt"], entry["msgid"]) for entry in _entries(po_text)}


def test_every_msgid_of_the_chinese_catalogue_has_a_translation_that_is_not_fuzzy():
    entries = _entries(CATALOGUE.read_text(encoding="utf-8"))
    assert len(entries) > 1000  # the parser read the catalogue
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values()) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_makemessages_finds_no_string_that_the_chinese_catalogue_lacks(tmp_path):
    copy = tmp_path / "src"
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "manage.py", copy / "manage.py")
    (copy / "locale" / "zh_Hans" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(CATALOGUE, copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONPATH": str(copy)},
    )
    extracted = _entries((copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8"))
    missing = sorted(e["msgid"] for e in extracted if not all(e["msgstr"].values()) or "fuzzy" in e["flags"])
    assert missing == []


GETTEXT_FUNCTIONS = {"gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
GETTEXT_FUNCTIONS |= {"npgettext", "npgettext_lazy", "gettext_noop"}


def test_gettext_functions_are_imported_under_names_that_makemessages_extracts():
    aliased = []
    for name in SOURCE_DIRS:
        for path in (ROOT / name).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                    for alias in node.names:
                        if alias.name in GETTEXT_FUNCTIONS and alias.asname not in (None, "_"):
                            aliased.append(f"{path.relative_to(ROOT)}: {alias.name} as {alias.asname}")
    assert aliased == []


# --- the pages -----------------------------------------------------------------------------------


class _Page(HTMLParser):
    """The words a person reads on a page (text, titles, placeholders, labels), and its links."""

    SKIPPED = {"script", "style", "code", "pre", "textarea"}
    READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

    def __init__(self):
        super().__init__()
        self.texts, self.links, self._skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIPPED:
            self._skip += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for name in self.READ_ATTRIBUTES:
            if attrs.get(name):
                self.texts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.@:/+-]*")


def english_words(texts) -> list[str]:
    """Latin-letter words that are not identifiers (a digit, an @, a path) nor allowed names."""
    found = []
    for text in texts:
        for word in WORD.findall(text):
            word = word.rstrip(".:-/")
            if not word or any(ch.isdigit() for ch in word) or "@" in word or "/" in word:
                continue
            parts = [part for part in re.split(r"[-_.:+]", word) if part]
            if all(part in ALLOWED_WORDS for part in parts):
                continue
            found.append(word)
    return found


def _pattern(url: str) -> str:
    """A URL's shape: digits and ids folded, query keys kept, so the crawl visits each page kind twice."""
    parts = urlsplit(url)
    path = re.sub(r"/[A-Za-z]*\d[\w-]*", "/N", parts.path)
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    return path + "?" + "&".join(keys)


SKIPPED_PREFIXES = ("/static/", "/media/", "/accounts/logout", "/logout", "/api/", "/admin/logout", "/i18n/")
# The admin pages of other packages (the task queue, the login throttle, Django's groups and
# permissions) speak those packages' own catalogues; the guard holds the project's pages to account.
SKIPPED_PREFIXES += ("/admin/django_q/", "/admin/axes/", "/admin/auth/", "/admin/jsi18n/")
EXPORT_TYPES = ("text/csv", "application/vnd.openxmlformats")
# A cell of letters only (with spaces and punctuation) is English or a raw code; digits make it an identifier.
ENGLISH_CELL = re.compile(r"[A-Za-z][A-Za-z _.,()/'-]*")


def export_cells(response) -> list[str]:
    """Every cell of a CSV or XLSX export, header included, as text."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response["Content-Type"].startswith("text/csv"):
        return [cell for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for cell in row]
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return ["" if v is None else str(v) for row in sheet.iter_rows(values_only=True) for v in row]


def english_cells(cells) -> list[str]:
    """Cells that are only Latin letters (an English header, a raw code like `succeeded`), bar allowed words."""
    return sorted(
        {cell for cell in cells if ENGLISH_CELL.fullmatch(cell.strip()) and cell.strip() not in ALLOWED_WORDS}
    )


def crawl(client: Client, start: str, *, per_pattern: int = 2, limit: int = 400, words=None) -> dict[str, list[str]]:
    """GET every page reachable from `start` (each URL shape at most `per_pattern` times), in zh-Hans.

    Returns {url: English words found by `words(url, html, texts)` (default: `english_words`)}. A page
    answering 5xx is reported as such.
    """
    words = words or (lambda url, html, texts: english_words(texts))
    seen, shapes, queue, report = set(), {}, [start], {}
    crawl.exports = []
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        shape = _pattern(url)
        if shapes.get(shape, 0) >= per_pattern:
            continue
        seen.add(url)
        shapes[shape] = shapes.get(shape, 0) + 1
        response = client.get(url, **ZH)
        if response.status_code >= 500:
            report[url] = [f"HTTP {response.status_code}"]
            continue
        if response.status_code in (301, 302) and response["Location"].startswith("/"):
            queue.append(response["Location"])
            continue
        content_type = response.get("Content-Type", "")
        if response.status_code == 200 and content_type.startswith(EXPORT_TYPES):
            bad = english_cells(export_cells(response))
            if bad:
                report[url] = bad
            crawl.exports.append(url)
            continue
        if response.status_code != 200 or not content_type.startswith("text/html"):
            continue
        page = _Page()
        page.feed(response.content.decode())
        found = words(url, response.content.decode(), page.texts)
        if found:
            report[url] = sorted(set(found))
        for href in page.links:
            href = href.split("#")[0]
            if href.startswith("/") and not href.startswith(SKIPPED_PREFIXES) and href not in seen:
                queue.append(href)
    crawl.visited = sorted(seen)
    return report


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo seeded once for the module, rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        # Seeded as `make run` seeds it: in the site's language, so the history notes it writes are Chinese.
        with translation.override("zh-hans"):
            call_command("seed_demo", at=timezone.now(), stdout=StringIO())
        yield
        transaction.set_rollback(True)


# How many pages each role reaches at least: the crawl really walked the site.
MIN_PAGES = {"merchant": 100, "agent": 100, "global": 25, "outlet-yto": 10, "outlet-jt": 8}

# Exports (CSV/XLSX links) each role reaches: workbench, service orders, statements, differences.
MIN_EXPORTS = {"merchant": 5, "agent": 1, "global": 1, "outlet-yto": 1, "outlet-jt": 0}

ROLES = [
    ("merchant", "/"),
    ("agent", "/"),
    ("global", "/"),
    ("outlet-yto", "/"),
    ("outlet-jt", "/"),
]


@pytest.mark.parametrize(("username", "start"), ROLES)
def test_every_page_of_every_role_reads_in_chinese(demo, db, username, start):
    client = Client()
    client.force_login(User.objects.get(username=username))
    report = crawl(client, start)
    assert len(crawl.visited) >= MIN_PAGES[username], crawl.visited
    assert len(crawl.exports) >= MIN_EXPORTS[username], crawl.exports  # the exports were checked too
    first_seen = {}
    for url, words in report.items():
        for word in words:
            first_seen.setdefault(word, url)
    assert not first_seen, "English on the pages:\n" + "\n".join(f"{w}  ({u})" for w, u in sorted(first_seen.items()))


EAGER = {"gettext", "ngettext", "pgettext", "npgettext"}


def _import_time_calls(tree: ast.Module, eager_names: set[str]) -> list[int]:
    """Lines where an eager gettext runs when the module is imported (outside any function)."""
    lines, stack = [], list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in eager_names:
            lines.append(node.lineno)
        stack.extend(ast.iter_child_nodes(node))
    return sorted(lines)


def test_no_string_is_translated_once_at_import_time_in_whatever_language_was_active():
    eager = []
    for name in SOURCE_DIRS:
        for path in (ROOT / name).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {
                alias.asname or alias.name
                for node in tree.body
                if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation"
                for alias in node.names
                if alias.name in EAGER
            }
            eager += [f"{path.relative_to(ROOT)}:{line}" for line in _import_time_calls(tree, names)]
    assert eager == []


# The operators' admin: Django's own pages and other packages' models speak their own catalogues, so
# every admin page is checked for the fragments of ours that were seen in English, and the claim
# pages (the arbitration work) word for word.
KNOWN_ADMIN_FRAGMENTS = ("claim #", " on SO", "Filed by", "USER", "batch #")
FULLY_CHECKED_ADMIN = ("/admin/settlement/claim/", "/admin/settlement/claimlog/", "/admin/settlement/claimevidence/")


def _admin_words(url, html, texts):
    # The page's own content: the side bar lists every installed package's models.
    content = _Page()
    start = html.find('id="content"')
    content.feed(html[html.index(">", start) + 1 :] if start >= 0 else html)
    found = [fragment for fragment in KNOWN_ADMIN_FRAGMENTS if fragment in "\n".join(content.texts)]
    if url.startswith(FULLY_CHECKED_ADMIN):
        # "Search": the alt text of the search icon, written in English in Django's admin template.
        found += [word for word in english_words(content.texts) if word != "Search"]
    return found


def test_the_operators_admin_pages_show_none_of_our_english_fragments(demo, db):
    client = Client()
    client.force_login(User.objects.get(username="operator"))
    report = crawl(client, "/admin/", words=_admin_words, per_pattern=1, limit=600)
    assert len(crawl.visited) >= 100
    assert not report, report


def test_the_export_check_catches_english_headers_and_raw_codes_and_lets_identifiers_pass():
    cells = ["Order", "succeeded", "online", "SO00000001", "YTO-SH-001", "圆通", "3.00", "SKU", "", "Kevin"]
    assert english_cells(cells) == ["Order", "online", "succeeded"]


def test_the_reconciliation_differences_export_reads_in_chinese(demo, db):
    from settlement.models import Reconciliation

    client = Client()
    client.force_login(User.objects.get(username="merchant"))
    reconciliations = Reconciliation.objects.filter(statement__shop__code="demo-shop")
    assert reconciliations.exists()
    for reconciliation in reconciliations:
        response = client.get(reverse("settlement:reconciliation-csv", kwargs={"pk": reconciliation.pk}), **ZH)
        assert response.status_code == 200
        assert english_cells(export_cells(response)) == []


def test_the_bulk_rejection_and_refund_read_in_chinese(demo, db, django_capture_on_commit_callbacks):
    """Their confirmations (POSTs) and job pages are not reached by the crawl's links."""
    from aftersales.filters import QUICK_VIEWS

    client = Client()
    client.force_login(User.objects.get(username="merchant"))
    query = next(view for view in QUICK_VIEWS if view.key == "signed_refund_only").query
    preview = client.post(reverse("aftersales:bulk-reject-signed-preview"), {"all_filtered": "1", "query": query}, **ZH)
    assert preview.status_code == 200 and preview.context["ready"] and preview.context["skipped"]
    confirm = {"query": query, "send_card": "on", "ids": [str(a.pk) for a in preview.context["ready"]]}
    confirm.update({f"version_{a.pk}": str(a.shown_version) for a in preview.context["ready"]})
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(reverse("aftersales:bulk-reject-signed"), confirm, **ZH)
    job_page = client.get(started["Location"], **ZH)
    assert job_page.context["done"] == len(preview.context["ready"])
    refund = client.post(
        reverse("aftersales:bulk-refund-returned-preview"), {"all_filtered": "1", "query": query}, **ZH
    )
    assert refund.status_code == 200 and refund.context["ready"]
    confirm = {"query": query, "ids": [str(a.pk) for a in refund.context["ready"]]}
    confirm.update({f"version_{a.pk}": str(a.shown_version) for a in refund.context["ready"]})
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(reverse("aftersales:bulk-refund-returned"), confirm, **ZH)
    refund_job = client.get(started["Location"], **ZH)
    assert refund_job.context["done"] == len(refund.context["ready"])
    for response in (preview, job_page, refund, refund_job):
        page = _Page()
        page.feed(response.content.decode())
        assert english_words(page.texts) == []
