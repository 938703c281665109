"""Browser check of the built book: open every page in headless Chromium and fail on what a reader would see.

For every page of ``_toc.yml`` (the intro and the chapters), the HTML folder is served on localhost and the page
is opened with headless Chromium (``--dump-dom``: the DOM after the page's scripts ran). A page FAILS when

* it is a chapter listed in :data:`EXPECTED_FIGURES` and shows no rendered figure (an ``img`` or ``svg`` in a
  cell output or a ``figure`` of the page content);
* an output shows an error: a stderr stream, a traceback, or error text (``Traceback (most recent call last)``,
  ``SomethingError``, ``Error:``) in an output area;
* an internal link is broken: an ``href`` (or ``img src``) to a local file that does not exist, or to an anchor
  that the target page does not define.

Prints one line per page (OK/FAIL and the reasons) and exits with status 1 when any page fails. Chromium is
installed with ``apt-get install -y chromium`` when it is missing (Debian's package; no browser download).

Usage::

    python tools/check_book.py _build/html
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import unquote, urljoin, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
# Chapters (by number) that must show at least one figure: every chapter but the real-data one (12), which may
# run without data. This is the one place the list is kept.
EXPECTED_FIGURES: frozenset[str] = frozenset(f"{n:02d}" for n in range(1, 12))
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*Error\b|\bError:")
EXTERNAL_SCHEMES = ("http", "https", "mailto", "javascript", "data", "tel", "ftp")
VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--virtual-time-budget=3000")


# ---------------------------------------------------------------------------------------------- parsing
@dataclass
class Node:
    """A minimal DOM element."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list["Node | str"] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self) -> Iterator["Node"]:
        """This element and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs) -> None:
        node = Node(tag, {k: (v or "") for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.stack[-1].children.append(Node(tag, {k: (v or "") for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):  # close up to the matching open element, if any
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(text: str) -> Node:
    """Parse an HTML document into a :class:`Node` tree (tolerant of unclosed elements)."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def page_content(root: Node) -> Node:
    """The page's main content: the theme's ``article``, else ``main``, else the ``role="main"`` element."""
    for pick in (lambda n: n.tag == "article" and "bd-article" in n.classes,
                 lambda n: n.tag == "main",
                 lambda n: n.attrs.get("role") == "main"):
        found = next((n for n in root.iter() if pick(n)), None)
        if found is not None:
            return found
    return root


def count_figures(content: Node) -> int:
    """Rendered figures: ``img``/``svg`` elements inside cell outputs or ``figure`` elements of the content."""
    count = 0
    for holder in content.iter():
        if "cell_output" in holder.classes or holder.tag == "figure":
            count += sum(1 for n in holder.iter() if n.tag in ("img", "svg") and n is not holder)
    return count


def output_errors(content: Node) -> list[str]:
    """Errors shown in output areas: stderr streams, tracebacks, error text."""
    problems = []
    for node in content.iter():
        cls = node.classes
        if "stderr" in cls:
            problems.append(f"stderr output: {_snippet(node.text())}")
        elif "traceback" in cls or ("output" in cls and "error" in cls):
            problems.append(f"error output: {_snippet(node.text())}")
        elif "cell_output" in cls:
            match = ERROR_TEXT.search(node.text())
            if match:
                problems.append(f"error text in an output: {_snippet(node.text(), match.start())}")
    return list(dict.fromkeys(problems))


TEX_DELIMITERS = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{")
HIDDEN_TEXT_TAGS = frozenset({"script", "style", "pre", "code", "textarea", "template", "noscript"})


def visible_text(node: Node) -> str:
    """The text a reader sees: without scripts, styles, code blocks and MathJax's assistive MathML copies."""
    if node.tag in HIDDEN_TEXT_TAGS or node.tag == "mjx-assistive-mml":
        return ""
    return "".join(c if isinstance(c, str) else visible_text(c) for c in node.children)


def unrendered_math(content: Node) -> list[str]:
    """TeX that MathJax did not typeset: a delimiter such as ``\\(`` or ``$$`` left in the visible text (the
    page's MathJax did not load, e.g. from a CDN without internet, or failed on the formula)."""
    text = visible_text(content)
    match = TEX_DELIMITERS.search(text)
    return [f"unrendered TeX in the text: {_snippet(text, match.start())}"] if match else []


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def network_scripts(root: Node) -> list[str]:
    """Scripts the page loads from another site (the book must read offline; the check's own local server, where
    the browser resolves relative addresses, is not another site)."""
    problems = []
    for n in root.iter():
        url = urlsplit(n.attrs.get("src", "")) if n.tag == "script" else None
        if url is not None and url.scheme in ("http", "https") and url.hostname not in LOCAL_HOSTS:
            problems.append(f"script loaded from the network: {n.attrs['src']}")
    return problems


def _snippet(text: str, at: int = 0, width: int = 100) -> str:
    text = " ".join(text[max(0, at - 20):].split())
    return text[:width] + ("..." if len(text) > width else "")


def element_ids(root: Node) -> set[str]:
    """Anchor targets of a page: ``id`` attributes and ``a name`` attributes."""
    ids = {n.attrs["id"] for n in root.iter() if "id" in n.attrs}
    return ids | {n.attrs["name"] for n in root.iter() if n.tag == "a" and "name" in n.attrs}


def local_links(root: Node) -> list[str]:
    """``a href`` and ``img src`` values that point into the site (not external schemes)."""
    out = []
    for n in root.iter():
        url = n.attrs.get("href") if n.tag == "a" else n.attrs.get("src") if n.tag == "img" else None
        if url is None or not url.strip():
            continue
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme.lower() in EXTERNAL_SCHEMES or url.startswith("//") or url == "#":
            continue
        out.append(url)
    return out


class LinkChecker:
    """Resolve a page's local links against the HTML folder (files, and anchors in the target pages)."""

    def __init__(self, html_dir: Path) -> None:
        self.html_dir = Path(html_dir).resolve()
        self._ids: dict[Path, set[str]] = {}

    def ids_of(self, path: Path) -> set[str]:
        if path not in self._ids:
            self._ids[path] = element_ids(parse_html(path.read_text(errors="replace")))
        return self._ids[path]

    def broken(self, page: str, root: Node) -> list[str]:
        """Broken local links of ``page`` (its path relative to the HTML folder) whose DOM is ``root``."""
        base = f"http://site/{page}"
        own_ids = element_ids(root)
        problems = []
        for url in dict.fromkeys(local_links(root)):
            parts = urlsplit(urljoin(base, url))
            if parts.netloc != "site":
                continue
            rel = unquote(parts.path).lstrip("/")
            target = (self.html_dir / rel).resolve()
            if rel == "" or rel.endswith("/") or target.is_dir():
                target = target / "index.html"
            if self.html_dir not in target.parents and target != self.html_dir:
                problems.append(f"link outside the site: {url}")
                continue
            if not target.is_file():
                problems.append(f"broken link: {url} (no file {target.relative_to(self.html_dir)})")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                ids = own_ids | self.ids_of(target) if rel == page else self.ids_of(target)
                if fragment not in ids:
                    problems.append(f"broken anchor: {url} (no id '{fragment}' in {rel})")
        return problems


def check_page(page: str, dom: str, links: LinkChecker, expect_figure: bool) -> list[str]:
    """Every problem of one rendered page (empty: the page is OK)."""
    root = parse_html(dom)
    content = page_content(root)
    problems = []
    if expect_figure and count_figures(content) == 0:
        problems.append("no rendered figure (img/svg) in the page content")
    problems += output_errors(content)
    problems += unrendered_math(content)
    problems += network_scripts(root)
    problems += links.broken(page, root)
    return problems


# ------------------------------------------------------------------------------------------------ pages
def toc_pages(toc: Path = REPO_ROOT / "_toc.yml") -> list[str]:
    """HTML paths of the book's pages in order: the root, then every chapter file of ``_toc.yml``."""
    import yaml

    data = yaml.safe_load(Path(toc).read_text())
    files = [data["root"]]

    def walk(entries) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in data.get("parts", []):
        walk(part.get("chapters"))
    walk(data.get("chapters"))
    return [f"{Path(f).with_suffix('')}.html" for f in files]


def expects_figure(page: str) -> bool:
    name = Path(page).name
    return page.startswith("notebooks/") and name[:2] in EXPECTED_FIGURES


# ---------------------------------------------------------------------------------------------- browser
def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def ensure_chromium() -> str:
    """Chromium's path, installing Debian's ``chromium`` package with apt-get when it is missing."""
    path = find_chromium()
    if path:
        return path
    apt = shutil.which("apt-get")
    if apt is None:
        raise SystemExit("chromium is not installed and apt-get is not available: install Chromium and retry")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing chromium (apt-get install -y chromium) ...", flush=True)
    for cmd in (sudo + [apt, "update", "-q"], sudo + [apt, "install", "-y", "-q", "--no-install-recommends", "chromium"]):
        result = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}")
    path = find_chromium()
    if path is None:
        raise SystemExit("apt-get installed chromium but no chromium executable was found")
    return path


def dump_dom(chromium: str, url: str, timeout: float = 90.0) -> str:
    """The DOM of ``url`` after load, from headless Chromium with a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="check-book-chromium-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if result.returncode != 0 or "<html" not in result.stdout.lower():
        raise RuntimeError(f"chromium exit status {result.returncode}: {result.stderr.strip()[-500:]}")
    return result.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def serve(html_dir: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``html_dir`` on a free localhost port in a daemon thread. Returns (server, base URL)."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("html_dir", type=Path, nargs="?", default=REPO_ROOT / "_build" / "html",
                   help="the built book (default _build/html)")
    p.add_argument("--toc", type=Path, default=REPO_ROOT / "_toc.yml", help="the table of contents listing the pages")
    args = p.parse_args(argv)
    html_dir = args.html_dir.resolve()
    if not (html_dir / "index.html").is_file():
        print(f"{html_dir}: no index.html (build the book first: make book-smoke)", file=sys.stderr)
        return 2
    chromium = ensure_chromium()
    version = subprocess.run([chromium, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    print(f"browser: {version.stdout.strip() or chromium}")
    server, base = serve(html_dir)
    links = LinkChecker(html_dir)
    failures = 0
    try:
        for page in toc_pages(args.toc):
            if not (html_dir / page).is_file():
                problems = [f"page missing from the build ({page})"]
            else:
                try:
                    dom = dump_dom(chromium, base + page)
                    problems = check_page(page, dom, links, expects_figure(page))
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    problems = [f"could not render: {exc}"]
            failures += bool(problems)
            figures = " (figure expected)" if expects_figure(page) else ""
            print(f"{'FAIL' if problems else 'OK  '}  {page}{figures}")
            for problem in problems:
                print(f"        - {problem}")
    finally:
        server.shutdown()
    print(f"{failures} page(s) failed" if failures else "all pages OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
