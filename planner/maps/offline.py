"""Saving maps: self-contained (air-gapped) HTML and PNG export with headless Chromium.

Offline HTML
------------
folium writes ``<script src="https://cdn...">`` / ``<link href="https://cdn...">`` tags for
Leaflet, its CSS and every plugin a map uses (full screen, measure, DualMap's Leaflet.Sync...).
:func:`save_map` with ``offline=True`` replaces each of them by the file's text, taken from
the PyPI package ``folium-offline`` (module ``offlinefolium``), which ships the exact files
behind the URLs folium emits (its images already inlined as ``data:`` URIs). Install the
release matching folium, e.g. ``pip install folium==0.20.0 folium-offline==0.20.0.2``. A URL
that cannot be embedded raises :class:`PlannerError` instead of writing a file that silently
needs the Internet. The Font Awesome / Glyphicons / awesome-markers assets (~0.9 MB) that
folium always links are left out when nothing on the map uses them.

Tile basemaps still need the tile server when the file is opened: for air-gapped use draw
maps with ``basemap="none"`` and the road network as background.

PNG export
----------
:func:`export_png` renders an HTML file with headless Chromium (Debian:
``apt-get install -y chromium``; Chinese labels need a CJK font such as
``fonts-wqy-microhei`` or ``fonts-noto-cjk``). ``$PLANNER_CHROMIUM`` overrides the binary.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from planner._io import atomic_path
from planner.errors import PlannerError

__all__ = ["save_map", "to_html", "embed_assets", "external_references", "export_png",
           "find_chromium", "offline_view", "CHROMIUM_FLAGS"]

#: Where Debian's ``chromium`` package puts the browser.
DEFAULT_CHROMIUM = "/usr/bin/chromium"

#: Flags used for every headless Chromium run (plus ``--user-data-dir=<tmpdir>``).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--force-device-scale-factor=1",
)

_SCRIPT_SRC = re.compile(
    r"""<script\b[^>]*?\bsrc\s*=\s*["']?((?:https?:)?//[^"'\s>]+)["']?[^>]*>\s*</script\s*>""",
    re.IGNORECASE,
)
_LINK_HREF = re.compile(
    r"""<link\b[^>]*?\bhref\s*=\s*["']?((?:https?:)?//[^"'\s>]+)["']?[^>]*?/?>""",
    re.IGNORECASE,
)
_ANY_EXTERNAL = (
    re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^"'\s>]+""", re.I),
    re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^"'\s>]+""", re.I),
    re.compile(r"""@import\s+(?:url\()?\s*["']?(?:https?:)?//[^"'\s)]+""", re.I),
    re.compile(r"""url\(\s*["']?(?:https?:)?//[^"'\s)]+""", re.I),
)
_SOURCE_MAP = re.compile(r"(/[/*]\s*[#@]\s*sourceMappingURL=[^\s*]+(\s*\*/)?)")

# folium's always-linked icon-font assets, dropped offline when the map does not use them
_ICON_ASSETS = ("Leaflet.awesome-markers", "leaflet.awesome.rotate", "fontawesome-free",
                "bootstrap-glyphicons")
#: Font Awesome class names ("fa-home", "fa fa-…", "fas …"); the character before must be a
#: quote or white space (checked in :func:`_uses_icons`)
_FA_CLASS = re.compile(r"fa(?:-[a-z]|[srb]?\s)")


def _uses_icons(html: str, start: int = 0) -> bool:
    """Whether the page body (``html`` from ``start``) uses the icon fonts (AwesomeMarkers,
    glyphicons, Font Awesome).

    Case-sensitive, as CSS class names are; literal searches only, so a 40 MB map page takes
    about 0.1 s (a case-insensitive alternation took 3 s). Searches from ``start`` without
    copying the page.
    """
    if html.find("AwesomeMarkers", start) >= 0 or html.find("glyphicon", start) >= 0:
        return True
    return any(m.start() > start and html[m.start() - 1] in "\"' \t\n\r\f\v"
               for m in _FA_CLASS.finditer(html, start))


@functools.lru_cache(maxsize=1)
def _asset_table() -> dict:
    try:
        from offlinefolium.elements import _res  # URL -> file text
    except ImportError:  # pragma: no cover - depends on the environment
        raise PlannerError(
            "offline maps need the PyPI package folium-offline matching folium "
            "(pip install folium-offline==0.20.0.2), or save with offline=False"
        ) from None
    return dict(_res)


def _asset_text(url: str) -> str:
    table = _asset_table()
    key = "https:" + url if url.startswith("//") else url
    text = table.get(key)
    if text is None and key.startswith("http:"):
        text = table.get("https:" + key[5:])
    if text is None:
        import folium

        raise PlannerError(
            f"cannot embed {url} for offline use: folium-offline has no copy of it (folium "
            f"{folium.__version__}); install the folium-offline release matching folium, "
            "remove the plugin, or save with offline=False"
        )
    return text


def _inline_script(text: str) -> str:
    text = _SOURCE_MAP.sub("", text)
    text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.I).replace("<!--", "<\\!--")
    return f"<script>{text}</script>"


def _inline_style(text: str) -> str:
    text = _SOURCE_MAP.sub("", text)
    text = re.sub(r"</(style)", r"<\\/\1", text, flags=re.I)
    return f"<style>{text}</style>"


def external_references(html: str) -> list[str]:
    """Every ``http(s)://`` script/stylesheet/CSS-import/``url()`` reference left in ``html``.

    Tile URLs inside the map script and ordinary ``<a href>`` links are not references that
    load a resource at open time and are not reported.
    """
    found = []
    for rx in _ANY_EXTERNAL:
        found.extend(m.group(0) for m in rx.finditer(html))
    return found


def _embed_pieces(pieces: list[str]) -> list[str]:
    """``pieces`` of a page with their external script/stylesheet tags replaced by the inlined files.

    The first piece holds the page head (where folium links its assets); a piece without an
    asset tag is kept as it is, never copied.

    Raises
    ------
    PlannerError
        When a referenced asset is not available, or references remain afterwards.
    """
    head_end = pieces[0].find("</head>")
    uses_icons = _uses_icons(pieces[0], max(head_end, 0)) or any(_uses_icons(p) for p in pieces[1:])

    def drop(url: str) -> bool:
        return not uses_icons and any(k in url for k in _ICON_ASSETS)

    def script(match):
        url = match.group(1)
        return "" if drop(url) else _inline_script(_asset_text(url))

    def link(match):
        tag, url = match.group(0), match.group(1)
        if not re.search(r"""rel\s*=\s*["']?stylesheet""", tag, re.I):
            return tag  # e.g. an icon link: reported below if it loads from the web
        return "" if drop(url) else _inline_style(_asset_text(url))

    # functions as replacements: the inlined text is never read as a regex template
    out = [_LINK_HREF.sub(link, _SCRIPT_SRC.sub(script, p)) if _SCRIPT_SRC.search(p) or _LINK_HREF.search(p)
           else p for p in pieces]
    left = [ref for p in out for ref in external_references(p)]
    if left:
        raise PlannerError(
            "the map still references web resources after embedding: "
            + ", ".join(sorted(set(left)))[:500]
        )
    return out


def embed_assets(html: str) -> str:
    """Replace external script/stylesheet tags of ``html`` by the inlined files.

    Raises
    ------
    PlannerError
        When a referenced asset is not available, or references remain afterwards.
    """
    return _embed_pieces([html])[0]


#: Stands for the page's script while the rest of the page is rendered (see :func:`_page_pieces`).
_SCRIPT_MARK = "\x00planner-script\x00"


class _ScriptMark:
    """Renders as :data:`_SCRIPT_MARK` in place of the figure's script element."""

    def render(self, **kwargs) -> str:
        return _SCRIPT_MARK


def _page_pieces(m, offline: bool) -> list[str]:
    """The page of map ``m`` as pieces whose concatenation is the page: the page up to its script,
    then each map element's script, then the page's end.

    The figure is rendered as branca renders it, except that the script (on a map of thousands
    of markers, tens of megabytes of GeoJSON held by the layers) is never joined into one string.
    """
    root = m.get_root()
    for child in root._children.values():
        child.render()
    script, root.script = root.script, _ScriptMark()
    try:
        page = root._template.render(this=root, kwargs={})
    finally:
        root.script = script
    before, after = page.split(_SCRIPT_MARK)
    pieces = [before]
    for child in script._children.values():  # as branca's Element template joins them
        pieces += ["\n    ", child.render()]
    pieces.append(after)
    return _embed_pieces(pieces) if offline else pieces


def to_html(m, offline: bool = True) -> str:
    """Render a folium map (``Map``, ``DualMap``, ``Figure``...) to an HTML string."""
    return "".join(_page_pieces(m, offline))


def save_map(m, path, offline: bool = True) -> Path:
    """Write map ``m`` to ``path`` as HTML, atomically.

    The file is written to a temporary file in the same directory and moved over ``path``
    with :func:`os.replace`, so a reader never sees half a file and a failure leaves any
    previous file untouched.

    Parameters
    ----------
    m : folium.Map or folium.plugins.DualMap
        The map (anything with ``get_root()``).
    path : str or Path
        Output ``.html`` path; missing parent directories are created.
    offline : bool, default True
        Embed Leaflet, its CSS and every plugin asset so the file opens without network
        (no ``http(s)`` script or stylesheet reference remains). Tiles still need the tile
        server: use ``basemap="none"`` with roads for fully air-gapped maps.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    PlannerError
        When an asset cannot be embedded (see :func:`embed_assets`).
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for piece in _page_pieces(m, offline):  # a page of tens of megabytes is never one string
            f.write(piece)
    return path


class _OfflineView:
    """Notebook display of a map with every asset embedded (see :func:`offline_view`)."""

    def __init__(self, html: str, height: int):
        self.html = html
        self.height = int(height)

    def _repr_html_(self) -> str:
        import html as html_mod

        return (f'<iframe srcdoc="{html_mod.escape(self.html, quote=True)}" '
                f'style="width:100%;height:{self.height}px;border:none;" '
                'sandbox="allow-scripts allow-popups"></iframe>')


def offline_view(m, height: int = 600) -> _OfflineView:
    """Show ``m`` in Jupyter without Internet access (folium's own display loads the CDN).

    Returns an object whose HTML representation is an ``<iframe srcdoc>`` holding the map
    with Leaflet and plugins embedded, as :func:`save_map` writes it.
    """
    return _OfflineView(to_html(m, offline=True), height)


def find_chromium(chromium=None) -> str:
    """Path of the headless Chromium binary.

    Order: the ``chromium`` argument, ``$PLANNER_CHROMIUM``, then ``chromium``,
    ``chromium-browser``, ``google-chrome`` on ``PATH``, then :data:`DEFAULT_CHROMIUM`.

    Raises
    ------
    PlannerError
        When none is found, naming the Debian package to install.
    """
    def usable(path) -> bool:
        return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)

    for explicit, what in ((chromium, "Chromium binary"),
                           (os.environ.get("PLANNER_CHROMIUM"), "PLANNER_CHROMIUM")):
        if explicit:
            if not usable(explicit):
                raise PlannerError(f"{what} {explicit!r} not found or not executable")
            return str(explicit)
    candidates = [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    candidates.append(DEFAULT_CHROMIUM)
    for c in candidates:
        if usable(c):
            return str(c)
    raise PlannerError(
        "headless Chromium is needed for PNG export but was not found: install it "
        "(Debian/Ubuntu: apt-get install -y chromium) or set PLANNER_CHROMIUM to its path"
    )


def export_png(html_path, png_path, width: int = 1400, height: int = 900, *,
               chromium: str | None = None, wait_ms: int = 8000,
               timeout_s: float = 120.0) -> Path:
    """Render an HTML map to a PNG screenshot with headless Chromium.

    Parameters
    ----------
    html_path : str or Path
        The map file (e.g. written by :func:`save_map`).
    png_path : str or Path
        Output PNG; written atomically (:func:`planner._io.atomic_path`).
    width, height : int
        Viewport size in pixels.
    chromium : str, optional
        Browser binary (default: see :func:`find_chromium`).
    wait_ms : int
        Virtual-time budget given to the page before the shot, so scripts run, vectors
        draw and (when reachable) tiles load.
    timeout_s : float
        Wall-clock limit of the browser run.

    Returns
    -------
    pathlib.Path
        The PNG path.

    Raises
    ------
    PlannerError
        Chromium missing, the HTML file missing, a failed or timed-out run.
    """
    html_path = Path(html_path)
    png_path = Path(png_path)
    if not html_path.is_file():
        raise PlannerError(f"{html_path}: no such HTML file to export")
    if int(width) < 50 or int(height) < 50:
        raise PlannerError("PNG width and height must be at least 50 pixels")
    binary = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="planner-chromium-") as profile, atomic_path(png_path) as tmp:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--window-size={int(width)},{int(height)}",
               f"--virtual-time-budget={int(wait_ms)}",
               f"--screenshot={tmp}", html_path.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise PlannerError(f"Chromium did not finish the PNG export within {timeout_s:g} s "
                               f"({html_path})") from None
        except OSError as exc:
            raise PlannerError(f"could not run Chromium ({binary}): {exc}") from None
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PlannerError(f"Chromium failed to export {html_path} to PNG "
                               f"(exit {proc.returncode}): {' | '.join(tail)}")
    return png_path
