"""Which parts of a generated documentation page are chrome, told by structure, never by text.

Three signals, from the most general to the most specific:

- elements that are furniture by definition (``nav``, ``aside``, ``script``, ...);
- ARIA landmarks other than ``main`` (``navigation``, ``banner``, ``contentinfo``,
  ``complementary``, ``search``): accessible themes mark their sidebars and footers with them;
- the class names the common generators give their navigation, sidebars, breadcrumbs,
  previous/next links, "this page"/"edit this page" boxes, tables of contents and heading
  permalinks: Sphinx (basic/alabaster, Read the Docs, Furo, PyData), MkDocs Material, and
  Docusaurus (its stable ``theme-*`` class names, not its hashed CSS-module ones).

A class is matched as a whole token, so ``related`` drops Sphinx's ``div.related`` but not an
element whose class is ``related-work``.
"""

from __future__ import annotations

from collections.abc import Mapping

# Page furniture and non-content: dropped with everything inside them.
DROPPED_ELEMENTS = frozenset(
    [
        "script",
        "style",
        "nav",
        "aside",
        "footer",
        "noscript",
        "template",
        "head",
        "svg",
        "iframe",
        "form",
        "button",
    ]
)
# ARIA landmark roles that are not the page's main content.
CHROME_ROLES = frozenset(["navigation", "banner", "contentinfo", "complementary", "search"])
CHROME_CLASSES = frozenset(
    [
        # Sphinx basic/alabaster/classic: sidebars ("This Page", "Table of Contents"), the
        # "Navigation"/"Previous topic" bars, the footer, heading and caption permalinks.
        "sphinxsidebar",
        "sphinxsidebarwrapper",
        "related",
        "footer",
        "headerlink",
        "toctree-wrapper",
        # Read the Docs theme
        "wy-nav-side",
        "wy-breadcrumbs",
        "rst-footer-buttons",
        "rst-versions",
        # Furo
        "sidebar-drawer",
        "toc-drawer",
        "related-pages",
        "mobile-header",
        # PyData Sphinx theme
        "bd-sidebar-primary",
        "bd-sidebar-secondary",
        "bd-header-article",
        "prev-next-area",
        "bd-footer-article",
        # MkDocs Material
        "md-header",
        "md-tabs",
        "md-sidebar",
        "md-footer",
        "md-source-file",
        "md-content__button",
        "md-top",
        "md-dialog",
        "md-banner",
        # Docusaurus (stable ThemeClassNames)
        "theme-doc-breadcrumbs",
        "theme-doc-toc-mobile",
        "theme-doc-toc-desktop",
        "theme-doc-footer",
        "theme-doc-sidebar-container",
        "theme-edit-this-page",
        "theme-last-updated",
        "pagination-nav",
        "table-of-contents",
        "navbar",
        "hash-link",
    ]
)
# Classes of the link a generator puts in a heading to link to itself: its href is the anchor.
PERMALINK_CLASSES = frozenset(["headerlink", "hash-link", "anchor", "anchorjs-link"])
# Characters generators put in (or after) headings as permalink markers.
PERMALINK_MARKERS = ("¶", "🔗", "§", "#")


def classes(attrs: Mapping[str, str]) -> frozenset[str]:
    """The class tokens of an element."""
    return frozenset(attrs.get("class", "").split())


def is_chrome(tag: str, attrs: Mapping[str, str]) -> bool:
    """True when the element is navigation, a sidebar, a footer or other page furniture."""
    if tag in DROPPED_ELEMENTS:
        return True
    if attrs.get("role", "").strip() in CHROME_ROLES:
        return True
    return not CHROME_CLASSES.isdisjoint(classes(attrs))


def is_permalink(tag: str, attrs: Mapping[str, str]) -> bool:
    """True for a heading's link to itself (Sphinx ``¶``, MkDocs/Docusaurus ``#``)."""
    return tag == "a" and not PERMALINK_CLASSES.isdisjoint(classes(attrs))


def strip_permalink_marker(title: str) -> str:
    """Drop a trailing permalink marker a theme left in a heading's text (``Install ¶``).

    ``#`` only when set apart by a space, so "C#" keeps its sharp.
    """
    stripped = title.rstrip()
    for marker in PERMALINK_MARKERS:
        if marker == "#":
            if stripped.endswith(" #"):
                return stripped[:-2].rstrip()
        elif stripped.endswith(marker):
            return stripped[: -len(marker)].rstrip()
    return stripped
