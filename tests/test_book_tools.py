"""The book's tooling: the browser check's page logic (on hand-written HTML) and the notebook executor
(conversion, stamps, error messages, skipping unchanged chapters) on tiny notebooks."""
import json
from pathlib import Path

import pytest

from tools import check_book, execute_notebooks

REPO = Path(__file__).resolve().parents[1]

ARTICLE = '<html><body><header><img src="../_images/fig.png"></header><main><article class="bd-article">{}</article></main></body></html>'


def page(body: str) -> str:
    return ARTICLE.format(body)


# ------------------------------------------------------------------------------------------- check_book
def test_figures_count_only_rendered_outputs_in_the_content():
    with_png = page('<div class="cell_output docutils container"><div class="output"><img src="a.png"></div></div>')
    with_svg = page('<figure><svg width="10"></svg><figcaption>x</figcaption></figure>')
    logo_only = page('<p>no figure here</p><img src="inline-icon.png">')
    count = lambda html: check_book.count_figures(check_book.page_content(check_book.parse_html(html)))  # noqa: E731
    assert count(with_png) == 1
    assert count(with_svg) == 1
    assert count(logo_only) == 0  # the header logo and a loose image are not figures


def test_output_errors_find_stderr_tracebacks_and_error_text():
    def errors(body):
        return check_book.output_errors(check_book.page_content(check_book.parse_html(page(body))))

    assert errors('<div class="cell_output"><div class="output stderr highlight-myst-ansi"><pre>UserWarning: x</pre></div></div>')
    assert errors('<div class="cell_output"><div class="output traceback highlight-ipythontb"><pre>boom</pre></div></div>')
    assert errors('<div class="cell_output"><pre>Traceback (most recent call last):\n  File "x"</pre></div>')
    assert "ValueError" in errors('<div class="cell_output"><pre>ValueError: bad</pre></div>')[0]
    assert errors('<div class="cell_output"><pre>Error: cannot open</pre></div>')
    # prose outputs that merely talk about errors are fine, and so is error text outside output areas
    assert errors('<div class="cell_output"><p>The standard error of MAP is one point; error bars show it.</p></div>') == []
    assert errors('<p>A KeyError is raised when ...</p>') == []


def test_parser_tolerates_unclosed_elements():
    root = check_book.parse_html('<div id="a"><p>one<p>two<br><img src="x.png"></div><span id="b">t</span>')
    assert check_book.element_ids(root) == {"a", "b"}
    assert [n.tag for n in root.iter() if n.tag == "img"] == ["img"]


@pytest.fixture()
def site(tmp_path):
    (tmp_path / "index.html").write_text('<html><body><h1 id="top">home</h1></body></html>')
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "ch.html").write_text('<html><body><section id="sec"></section><a name="old"></a></body></html>')
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "fig.png").write_bytes(b"png")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text("<html></html>")  # the page under test (its DOM is passed in)
    return tmp_path


def test_links_resolve_files_and_anchors(site):
    body = """
      <a href="../notebooks/ch.html">ok</a> <a href="../notebooks/ch.html#sec">ok anchor</a>
      <a href="../notebooks/ch.html#old">ok a-name</a> <a href="../index.html#top">ok</a> <a href="#here">ok own</a>
      <a href="https://example.org/x.html">external</a> <a href="mailto:a@b.c">mail</a> <a href="#">js toggle</a>
      <a href="//cdn.example.org/x.js">protocol-relative</a> <img src="../_images/fig.png"> <div id="here"></div>
      <a href="../notebooks/ch.html?x=1#sec">query ignored</a>
    """
    checker = check_book.LinkChecker(site)
    assert checker.broken("book/intro.html", check_book.parse_html(page(body))) == []


def test_broken_links_are_reported(site):
    body = """
      <a href="../notebooks/missing.html">no page</a> <a href="../notebooks/ch.html#nope">no anchor</a>
      <a href="#also-nope">no own anchor</a> <img src="../_images/missing.png"> <a href="../book/">dir without index</a>
    """
    problems = check_book.LinkChecker(site).broken("book/intro.html", check_book.parse_html(page(body)))
    assert len(problems) == 5, problems
    assert any("missing.html" in p for p in problems)
    assert any("no id 'nope'" in p for p in problems)
    assert any("also-nope" in p for p in problems)
    assert any("missing.png" in p for p in problems)
    assert any("book/" in p for p in problems)


def test_check_page_combines_the_three_checks(site):
    checker = check_book.LinkChecker(site)
    good = page('<div class="cell_output"><img src="../_images/fig.png"></div>')
    assert check_book.check_page("notebooks/ch.html", good, checker, expect_figure=True) == []
    problems = check_book.check_page("notebooks/ch.html", page("<p>text only</p>"), checker, expect_figure=True)
    assert problems == ["no rendered figure (img/svg) in the page content"]
    assert check_book.check_page("notebooks/ch.html", page("<p>text only</p>"), checker, expect_figure=False) == []


def test_unrendered_tex_and_network_scripts_fail_a_page(site):
    """Formulas MathJax did not typeset (e.g. loaded from a CDN without internet) fail the page, code does not."""
    checker = check_book.LinkChecker(site)
    raw = page('<p>a map of <span class="math notranslate nohighlight">\\(G \\times G\\)</span> cells</p>')
    assert check_book.check_page("notebooks/ch.html", raw, checker, expect_figure=False) == [
        "unrendered TeX in the text: a map of \\(G \\times G\\) cells"]
    display = page('<div class="math notranslate nohighlight">\\[\\sum_i x_i\\]</div>')
    assert check_book.check_page("notebooks/ch.html", display, checker, expect_figure=False)
    typeset = page('<p>a map of <span class="math"><mjx-container><mjx-math></mjx-math><mjx-assistive-mml>'
                   '<math><mi>G</mi></math></mjx-assistive-mml></mjx-container></span> cells; costs $5; '
                   '<code>print("$$")</code></p><pre>\\(x\\)</pre><script>var s = "\\(";</script>')
    assert check_book.check_page("notebooks/ch.html", typeset, checker, expect_figure=False) == []
    cdn = ('<html><head><script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
           '<script src="../_static/mathjax/tex-mml-chtml.js"></script></head><body><main></main></body></html>')
    assert check_book.check_page("notebooks/ch.html", cdn, checker, expect_figure=False) == [
        "script loaded from the network: https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"]
    # the browser resolves the book's own scripts against the check's local server: not the network
    local = '<html><head><script src="http://127.0.0.1:8000/_static/mathjax/tex-mml-chtml.js"></script></head></html>'
    assert check_book.check_page("notebooks/ch.html", local, checker, expect_figure=False) == []


def test_toc_pages_and_expected_figures():
    pages = check_book.toc_pages(REPO / "_toc.yml")
    assert pages[0] == "book/intro.html"
    chapters = [p for p in pages if p.startswith("notebooks/")]
    assert [Path(p).name[:2] for p in chapters] == [f"{n:02d}" for n in range(1, 13)]
    assert [check_book.expects_figure(p) for p in chapters] == [True] * 11 + [False]
    assert not check_book.expects_figure("book/intro.html")


# ------------------------------------------------------------------------------------ execute_notebooks
NOTEBOOK = '''# %% [markdown]
# # A tiny chapter

# %% tags=["parameters"]
profile = "cpu"
seed = 0

# %%
URL = "@REPOSITORY_URL@"
print(profile, seed, URL)

# %%
value = 1 / (seed - {bad})
'''


def write_notebook(folder: Path, name: str, bad: int = 99) -> Path:
    path = folder / f"{name}.py"
    path.write_text(NOTEBOOK.format(bad=bad))
    return path


def test_repository_url_is_read_from_the_book_config():
    url = execute_notebooks.repository_url()
    assert url.startswith("https://") and not url.endswith("/")


def test_convert_fills_the_url_and_keeps_the_parameters_tag(tmp_path):
    nb = execute_notebooks.convert(write_notebook(tmp_path, "01_x"), "https://example.org/repo")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert 'URL = "https://example.org/repo"' in code[1]
    assert "@REPOSITORY_URL@" not in "".join(code)
    assert "parameters" in nb.cells[1].metadata["tags"]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    bare = tmp_path / "02_y.py"
    bare.write_text("# %%\nx = 1\n")
    with pytest.raises(execute_notebooks.NotebookFailed, match="no cell tagged 'parameters'"):
        execute_notebooks.convert(bare, "https://example.org/repo")


def test_stamp_depends_on_source_parameters_and_library(tmp_path):
    src = write_notebook(tmp_path, "01_x")
    params = {"profile": "smoke", "seed": 0}
    stamp = execute_notebooks.notebook_stamp(src, params, "u", "h")
    assert stamp == execute_notebooks.notebook_stamp(src, dict(params), "u", "h")
    assert stamp != execute_notebooks.notebook_stamp(src, {**params, "profile": "cpu"}, "u", "h")
    assert stamp != execute_notebooks.notebook_stamp(src, params, "u", "other library")
    assert stamp != execute_notebooks.notebook_stamp(src, params, "other url", "h")
    src.write_text(src.read_text() + "\n# %%\nprint('more')\n")
    assert stamp != execute_notebooks.notebook_stamp(src, params, "u", "h")


def test_library_hash_sees_every_source_file(tmp_path):
    pkg = tmp_path / "asen"
    (pkg / "configs").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "configs" / "c.yaml").write_text("k: 1\n")
    before = execute_notebooks.asen_source_hash(pkg)
    (pkg / "configs" / "c.yaml").write_text("k: 2\n")
    assert execute_notebooks.asen_source_hash(pkg) != before
    (pkg / "configs" / "c.yaml").write_text("k: 1\n")
    assert execute_notebooks.asen_source_hash(pkg) == before
    (pkg / "notes.txt").write_text("not source")
    assert execute_notebooks.asen_source_hash(pkg) == before


def test_source_line_points_at_the_cell_marker(tmp_path):
    src = write_notebook(tmp_path, "01_x")
    lines = src.read_text().splitlines()
    for index in range(4):
        line = execute_notebooks.source_line(src, index)
        assert lines[line - 1].startswith("# %%")
    assert execute_notebooks.source_line(src, 3) == lines.index("value = 1 / (seed - 99)")  # the marker above it
    assert execute_notebooks.source_line(src, 9) is None


def test_execute_runs_skips_when_unchanged_and_reruns_on_new_parameters(tmp_path):
    src = write_notebook(tmp_path, "01_ok")
    out = tmp_path / "out"
    logs = []
    run = lambda params: execute_notebooks.run_all([src], out, params, cwd=tmp_path, log=logs.append,  # noqa: E731
                                                   url="https://example.org/repo")
    first = run({"profile": "smoke", "seed": 1})
    assert [o.status for o in first] == ["ran"]
    executed = json.loads((out / "01_ok.ipynb").read_text())
    outputs = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                      for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))
    assert "smoke 1 https://example.org/repo" in outputs  # parameters injected, URL filled in
    assert executed["metadata"]["asen_book"]["stamp"]
    # papermill's injected cell is kept but left out of the page; the chapter's own parameters cell is shown
    tags = [c["metadata"].get("tags", []) for c in executed["cells"]]
    assert [t for t in tags if "injected-parameters" in t] == [["injected-parameters", "remove-cell"]]
    assert all("remove-cell" not in t for t in tags if "injected-parameters" not in t)
    assert [o.status for o in run({"profile": "smoke", "seed": 1})] == ["skipped"]
    assert [o.status for o in run({"profile": "smoke", "seed": 2})] == ["ran"]
    assert any("01_ok" in line and "skipped" in line for line in logs)


def test_a_failing_cell_is_named_and_leaves_no_stale_output(tmp_path):
    src = write_notebook(tmp_path, "03_bad", bad=5)
    out = tmp_path / "out"
    out.mkdir()
    (out / "03_bad.ipynb").write_text("{}")  # a stale output from an earlier run
    logs = []
    outcomes = execute_notebooks.run_all([src], out, {"profile": "smoke", "seed": 5}, cwd=tmp_path, log=logs.append,
                                         url="https://example.org/repo")
    (outcome,) = outcomes
    assert outcome.status == "failed"
    line = src.read_text().splitlines().index("value = 1 / (seed - 5)")  # 1-based line of the cell's marker
    assert "03_bad.py: cell 3 (line %d)" % line in outcome.message
    assert "ZeroDivisionError" in outcome.message
    assert not (out / "03_bad.ipynb").exists()
    assert (out / "03_bad.failed.ipynb").exists()
    assert "FAILED" in "\n".join(logs)


def test_run_all_stops_at_the_first_failure_unless_keep_going(tmp_path):
    sources = [write_notebook(tmp_path, "01_bad", bad=0), write_notebook(tmp_path, "02_ok")]
    kw = dict(cwd=tmp_path, log=lambda _: None, url="https://example.org/repo")
    stopped = execute_notebooks.run_all(sources, tmp_path / "a", {"profile": "smoke", "seed": 0}, **kw)
    assert [o.status for o in stopped] == ["failed"]
    going = execute_notebooks.run_all(sources, tmp_path / "b", {"profile": "smoke", "seed": 0}, keep_going=True, **kw)
    assert [o.status for o in going] == ["failed", "ran"]


def test_cli_export_writes_unexecuted_notebooks(tmp_path):
    write_notebook(tmp_path, "01_x")
    code = execute_notebooks.main(["--notebooks", str(tmp_path), "--export", str(tmp_path / "colab")])
    assert code == 0
    nb = json.loads((tmp_path / "colab" / "01_x.ipynb").read_text())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    assert execute_notebooks.repository_url() in "".join("".join(c["source"]) for c in nb["cells"])
    install = [c for c in nb["cells"] if "colab-install" in c["metadata"].get("tags", [])]
    assert [nb["cells"].index(c) for c in install] == [1], "one install cell, right after the title"
    assert "".join(install[0]["source"]).endswith(f'git+{execute_notebooks.repository_url()}"')


def test_only_the_colab_export_installs_the_library(tmp_path):
    nb = execute_notebooks.convert(write_notebook(tmp_path, "01_x"), "https://example.org/repo")
    assert not any("pip install" in c.source for c in nb.cells)


def test_kernels_import_this_checkout_and_the_environment_is_restored(monkeypatch):
    """The kernels get the repository first on PYTHONPATH (a GPU machine's Python runs the checkout without
    installing it) and the known warnings silenced; both variables are as before afterwards, set or unset."""
    import os

    root = str(execute_notebooks.REPO_ROOT)
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    with execute_notebooks.kernel_environment():
        assert os.environ["PYTHONPATH"].split(os.pathsep) == [root, "/elsewhere"]
        assert os.environ["PYTHONWARNINGS"].startswith("ignore:")
    assert os.environ["PYTHONPATH"] == "/elsewhere" and "PYTHONWARNINGS" not in os.environ
    monkeypatch.delenv("PYTHONPATH")
    with execute_notebooks.kernel_environment():
        assert os.environ["PYTHONPATH"] == root
    assert "PYTHONPATH" not in os.environ
