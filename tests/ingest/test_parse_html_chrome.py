"""Generator chrome is dropped by structure; anchors are the page's own ids; no permalink marks.

The pages are trimmed copies of what Sphinx (basic theme), MkDocs Material and Docusaurus emit.
"""

from __future__ import annotations

from ingestq.ingest.parsing.model import Document
from ingestq.ingest.parsing.parse import ParseOptions, parse_text

SPHINX = """<!DOCTYPE html><html><head><title>Installing &#8212; Widgets 1.0</title></head><body>
<div class="related" role="navigation" aria-label="Related">
  <h3>Navigation</h3><ul><li><a href="genindex.html">index</a></li>
  <li class="right"><a href="usage.html">next</a> |</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
  <section id="installing">
  <span id="install-label"></span><h1>Installing<a class="headerlink" href="#installing"
    title="Link to this heading">¶</a></h1>
  <p>Run the wombat installer.</p>
  <section id="from-source"><h2>From source<a class="headerlink" href="#from-source">¶</a></h2>
  <p>Build the wombat wheel yourself.</p>
  <div class="toctree-wrapper compound"><ul><li><a href="a.html">Chapter A</a></li></ul></div>
  </section>
  <section id="module-widgets.core"><h2>Core module</h2><p>Core wombat types.</p></section>
  </section>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="Main">
  <div class="sphinxsidebarwrapper"><h3><a href="index.html">Table of Contents</a></h3>
  <h4>Previous topic</h4><p><a href="intro.html">Intro</a></p>
  <div role="note" aria-label="source link"><h3>This Page</h3>
  <ul class="this-page-menu"><li><a href="_sources/install.rst.txt">Show Source</a></li></ul>
  </div></div></div>
<div class="clearer"></div></div>
<div class="footer">&#169;Copyright 2026.</div>
</body></html>"""

MKDOCS_MATERIAL = """<!doctype html><html><head><title>Setup - Gadgets</title></head><body>
<header class="md-header" data-md-component="header"><nav class="md-header__inner">
  <div class="md-header__title">Gadgets</div></nav></header>
<div class="md-container"><main class="md-main"><div class="md-main__inner md-grid">
<div class="md-sidebar md-sidebar--primary" data-md-component="sidebar">
  <div class="md-sidebar__scrollwrap"><label class="md-nav__title">Gadgets</label>
  <ul class="md-nav__list"><li>Home</li><li>Setup</li></ul></div></div>
<div class="md-sidebar md-sidebar--secondary"><div class="md-sidebar__scrollwrap">
  <label class="md-nav__title">Table of contents</label><ul><li>Requirements</li></ul>
</div></div>
<div class="md-content" data-md-component="content"><article class="md-content__inner md-typeset">
  <a href="https://github.com/x/edit/setup.md" title="Edit this page"
     class="md-content__button md-icon">Edit this page</a>
  <h1 id="setup">Setup</h1><p>Gadgets need a platypus driver.</p>
  <h2 id="requirements">Requirements<a class="headerlink" href="#requirements"
     title="Permanent link">&para;</a></h2><p>Python and a platypus.</p>
  <aside class="md-source-file">Last update: 2026-01-01</aside>
</article></div></div></main>
<footer class="md-footer"><nav class="md-footer__inner" aria-label="Footer">
  <a class="md-footer__link md-footer__link--prev" href="../intro/">Previous Intro</a>
  <a class="md-footer__link md-footer__link--next" href="../usage/">Next Usage</a></nav>
</footer></div></body></html>"""

DOCUSAURUS = """<!doctype html><html><head><title>Configure | Doohickey</title></head><body>
<div id="__docusaurus"><nav class="navbar navbar--fixed-top"><a class="navbar__brand">Doohickey</a>
</nav><div class="main-wrapper"><div class="docsWrapper_hBAB"><div class="docRoot_UBD9">
<aside class="theme-doc-sidebar-container"><ul class="menu__list"><li>Intro</li></ul></aside>
<main class="docMainContainer_TBSr"><div class="container"><div class="row">
<div class="col docItemCol_VOVn"><div class="docItemContainer_Djhp"><article>
  <nav class="theme-doc-breadcrumbs" aria-label="Breadcrumbs"><ul><li>Docs</li>
  <li>Configure</li></ul></nav>
  <div class="theme-doc-markdown markdown"><header><h1>Configure</h1></header>
  <p>Doohickey reads a narwhal file.</p>
  <h2 class="anchor anchorWithStickyNavbar_LWe7" id="options">Options<a href="#options"
     class="hash-link" aria-label="Direct link to Options" title="Direct link">&#8203;</a></h2>
  <p>Each narwhal option is a key.</p></div>
  <footer class="theme-doc-footer docusaurus-mt-lg"><div class="theme-edit-this-page">
  Edit this page</div><span class="theme-last-updated">Last updated on Jan 1</span></footer>
</article><nav class="pagination-nav docusaurus-mt-lg" aria-label="Docs pages">
  <a class="pagination-nav__link--prev">Previous Install</a></nav></div></div>
<div class="col col--3"><div class="tableOfContents_bqdL thin-scrollbar theme-doc-toc-desktop">
  <ul class="table-of-contents"><li>Options</li></ul></div></div>
</div></div></main></div></div></div>
<footer class="footer footer--dark">Copyright Doohickey</footer></div></body></html>"""

CHROME_WORDS = ("Navigation", "Previous", "Next", "Table of Contents", "Table of contents",
                "This Page", "Show Source", "Copyright", "Edit this page", "Last update",
                "Home", "Intro", "Chapter A", "Breadcrumbs", "Docs")


def parse(html: str) -> Document:
    return parse_text(html, source_path="/site/page.html", fmt="html", checksum="x",
                      options=ParseOptions())


def indexed_text(document: Document) -> str:
    return "\n".join(chunk.text for chunk in document.chunks)


def assert_no_chrome(document: Document) -> None:
    text = indexed_text(document) + " ".join(s.title for s in document.sections)
    leaked = [word for word in CHROME_WORDS if word in text]
    assert not leaked, f"chrome indexed: {leaked}\n{text}"
    assert "¶" not in text and "\u200b" not in text


def test_sphinx_sidebars_related_bar_toctree_and_footer_are_dropped():
    document = parse(SPHINX)
    assert_no_chrome(document)
    assert [s.title for s in document.sections] == ["Installing", "From source", "Core module"]
    assert "wombat wheel" in indexed_text(document)


def test_sphinx_anchors_are_the_section_ids_not_slugs_and_titles_lose_the_pilcrow():
    anchors = [s.anchor for s in parse(SPHINX).sections]
    assert anchors == ["installing", "from-source", "module-widgets.core"]


def test_mkdocs_material_header_sidebars_edit_button_and_footer_are_dropped():
    document = parse(MKDOCS_MATERIAL)
    assert_no_chrome(document)
    assert [(s.title, s.anchor) for s in document.sections] == [
        ("Setup", "setup"), ("Requirements", "requirements")]
    assert "platypus driver" in indexed_text(document)


def test_docusaurus_navbar_breadcrumbs_toc_pagination_and_doc_footer_are_dropped():
    document = parse(DOCUSAURUS)
    assert_no_chrome(document)
    # the h1 sits in the article's <header>: that one is content, not the site banner
    assert [(s.title, s.anchor) for s in document.sections] == [
        ("Configure", "configure"), ("Options", "options")]
    assert "narwhal option" in indexed_text(document)


def test_a_heading_without_an_id_takes_its_permalink_fragment():
    html = ('<main><h2>Setup<a class="headerlink" href="#custom-setup">#</a></h2>'
            "<p>text</p></main>")
    assert [(s.title, s.anchor) for s in parse(html).sections] == [("Setup", "custom-setup")]


def test_an_id_on_a_wrapper_that_does_not_open_with_the_heading_is_not_its_anchor():
    html = '<main><div id="wrapper"><p>lead</p><h2>Later heading</h2><p>text</p></div></main>'
    assert parse(html).sections[-1].anchor == "later-heading"


def test_a_sharp_that_belongs_to_the_title_is_kept():
    assert parse("<main><h2>C#</h2><p>t</p></main>").sections[0].title == "C#"
