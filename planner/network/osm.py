"""OpenStreetMap roads through osmnx: local files, or the GraphML cache of a download.

Every loader returns the raw road tables of ``docs/DESIGN.md`` ("Raw road tables"):

- ``nodes``: DataFrame with ``node_id`` (int64 OSM id), ``lon``, ``lat`` (WGS-84), only nodes used
  by an edge.
- ``edges``: GeoDataFrame (EPSG:4326), one row per drivable direction, with ``from_node``,
  ``to_node``, ``length_m``, ``road_class``, ``maxspeed_kmh``, ``name``, ``oneway``, ``hgv`` and a
  LineString drawn from ``from_node`` to ``to_node``.

Sources
-------
- A region (place name, shapely polygon or polygon file, ``(west, south, east, north)`` bbox) is
  downloaded once
  from the Overpass API through osmnx and saved as GraphML under ``cache_dir``, keyed by a hash of
  the query (:func:`planner.network.download.fetch`); later runs read that file and need no
  network. An offline machine fails within a few seconds with :class:`~planner.errors.NetworkError`.
- ``.osm`` / ``.osm.xml`` / ``.xml`` (optionally ``.bz2`` / ``.gz``) files go through
  :func:`osmnx.graph_from_xml` after a streaming pre-clean that keeps the drivable ways and drops
  references to nodes missing from the file (clipped extracts), splitting a way where they were.
- ``.osm.pbf`` files go through pyrosm; one-way rules are applied here (see
  :func:`load_osm`), then the graph is simplified with osmnx like the other sources.
- ``.graphml`` files saved by :func:`~planner.network.download.fetch` (or ``osmnx.save_graphml``) are read directly.

Attribute rules (all sources)
-----------------------------
- Simplification never merges ways whose :data:`SPEED_TAGS` differ (a node is kept where they
  change), so an edge's one speed is that of every OSM segment in it and its travel time is the
  per-segment sum, for ``.osm``, ``.osm.pbf`` and downloads alike.
- ``road_class``: the OSM ``highway`` value; an edge still carrying several values (a
  ``.graphml`` simplified elsewhere) keeps the most important one (order of :data:`HIGHWAY_ORDER`).
- ``maxspeed_kmh``: see :func:`parse_maxspeed`; several values on one way (``"60;80"``) are
  averaged.
- ``name``: the name (alphabetically first of several on a merged edge, for reproducibility);
  ``hgv``: ``"no"`` if any merged part says ``no``, else the alphabetically first value.
- ``oneway``: True when no reverse edge (``to_node`` -> ``from_node``) exists in the table.
- One-way rules: ``oneway=yes|true|1`` forward only, ``-1|reverse`` backward only, anything else
  two-way; without a ``oneway`` tag, ``highway=motorway`` and ``junction=roundabout|circular`` are
  one-way in the drawing direction (OSM implied one-way). Downloaded graphs get the motorway rule
  after the fact, which also removes the reverse of a motorway explicitly tagged ``oneway=no``
  (osmnx does not keep the tag value; such motorways are very rare).
"""
from __future__ import annotations

import bz2
import gzip
import logging
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner import settings as planner_settings
from planner.errors import InputError
from planner.network.download import (
    DOWNLOAD_BACKOFF_S,
    DOWNLOAD_RETRIES,
    EXTRA_WAY_TAGS,
    check_network_type,
    fetch,
    short_message,
)

log = logging.getLogger(__name__)

#: Columns of the raw edge table, in order (docs/DESIGN.md).
EDGE_COLUMNS = [
    "from_node",
    "to_node",
    "length_m",
    "road_class",
    "maxspeed_kmh",
    "name",
    "oneway",
    "hgv",
    "geometry",
]

#: Columns of the raw node table.
NODE_COLUMNS = ["node_id", "lon", "lat"]

#: OSM ``highway`` values from most to least important; a merged edge keeps the first one it
#: carries. Values not listed rank after all of these.
HIGHWAY_ORDER = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "busway",
    "track",
)

#: Implicit speed limits (km/h) for ``maxspeed`` values like ``CN:urban``. China (Road Traffic
#: Safety Law, art. 45; implementing regulations art. 78): urban roads 50 (30 without centre
#: line), other roads 70 (40 without centre line), expressways 120. Any other ``XX:zone`` value
#: falls back to :data:`IMPLICIT_ZONE_FALLBACK_KMH`.
IMPLICIT_MAXSPEED_KMH = {
    "cn:urban": 50.0,
    "cn:rural": 70.0,
    "cn:motorway": 120.0,
    "cn:expressway": 120.0,
    "cn:trunk": 100.0,
    "cn:living_street": 20.0,
    "cn:walk": 10.0,
}

#: Fallback (km/h) by zone for implicit values of countries without an entry in
#: :data:`IMPLICIT_MAXSPEED_KMH` (e.g. ``DE:urban`` -> 50).
IMPLICIT_ZONE_FALLBACK_KMH = {
    "urban": 50.0,
    "rural": 80.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 20.0,
    "walk": 7.0,
    "zone20": 20.0,
    "zone30": 30.0,
}

#: Way tags that set an edge's travel time (class, speed limit, truck access, direction):
#: :func:`osmnx.simplify_graph` keeps a node wherever one of them changes, so every simplified
#: edge carries one value of each and its time is the sum over its OSM segments.
SPEED_TAGS = ("highway", "maxspeed", "hgv", "oneway")

# oneway tag values (osmnx's, lower-cased)
_ONEWAY_FORWARD = {"yes", "true", "1"}
_ONEWAY_BACKWARD = {"-1", "reverse"}
_IMPLIED_ONEWAY_JUNCTIONS = {"roundabout", "circular"}

# Overpass-like way filters of osmnx (2.1) as regexes on tag values, for local XML files.
# A key absent from a way passes its "!~" test, as in Overpass.
_EXCLUDE = {
    "drive": {
        "area": "yes",
        "access": "private",
        "highway": (
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
            "footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|"
            "service|services|steps|track"
        ),
        "motor_vehicle": "no",
        "motorcar": "no",
        "service": "alley|driveway|emergency_access|parking|parking_aisle|private",
    },
    "drive_service": {
        "area": "yes",
        "access": "private",
        "highway": (
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
            "footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|"
            "services|steps|track"
        ),
        "motor_vehicle": "no",
        "motorcar": "no",
        "service": "emergency_access|parking|parking_aisle|private",
    },
    "all": {
        "area": "yes",
        "highway": "abandoned|construction|no|planned|platform|proposed|raceway|razed",
    },
}
_PYROSM_NETWORK = {"drive": "driving", "drive_service": "driving+service", "all": "all"}
_XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".xml.bz2", ".osm.gz", ".xml.gz")

#: Further attempts after a transient download fault (time-out, broken connection, truncated

# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def load_osm(
    place=None,
    polygon=None,
    bbox=None,
    path=None,
    cache_dir="data/raw",
    network_type="drive",
    timeout=planner_settings.DOWNLOAD_TIMEOUT_S,
    simplify=True,
    retain_all=True,
    *,
    overpass_url=None,
    nominatim_url=None,
    retries=DOWNLOAD_RETRIES,
    backoff_s=DOWNLOAD_BACKOFF_S,
):
    """Load OSM drivable roads as the raw road tables of docs/DESIGN.md.

    Give exactly one of ``place``, ``polygon``, ``bbox`` (downloaded once, then read from the
    cache) or ``path`` (a local file).

    Parameters
    ----------
    place : str or dict or list, optional
        Place name(s) geocoded by osmnx (Nominatim), e.g. ``"Daxing District, Beijing, China"``.
    polygon : shapely.Polygon or shapely.MultiPolygon or str or Path, optional
        Region in WGS-84 lon/lat, or a polygon file (GeoJSON, GeoPackage, ... in any CRS;
        its features are merged).
    bbox : tuple of float, optional
        ``(west, south, east, north)`` in degrees.
    path : str or Path, optional
        Local ``.osm``/``.osm.xml``/``.xml`` (optionally ``.bz2``/``.gz``), ``.osm.pbf`` or
        ``.graphml`` file.
    cache_dir : str or Path, default "data/raw"
        Folder for the GraphML cache of downloads and the osmnx HTTP cache.
    network_type : {"drive", "drive_service", "all"}, default "drive"
        osmnx network type (local files use the same way filters).
    timeout : float, default planner.settings.DOWNLOAD_TIMEOUT_S
        Overpass request timeout in seconds; reaching the server is tested first with at most
        ``min(timeout, 5)`` seconds.
    simplify : bool, default True
        Merge interstitial nodes with :func:`simplify_graph` (edges then run junction to
        junction, split where a speed-relevant tag changes; geometries keep every vertex).
    retain_all : bool, default True
        Keep every component; False keeps the largest weakly connected one (osmnx behaviour).
    overpass_url, nominatim_url, retries, backoff_s
        Servers and fault handling of the download (see :func:`~planner.network.download.fetch`).

    Returns
    -------
    nodes : pandas.DataFrame
        ``node_id`` (int64), ``lon``, ``lat``.
    edges : geopandas.GeoDataFrame
        One row per drivable direction; columns :data:`EDGE_COLUMNS`, EPSG:4326.

    Raises
    ------
    InputError
        Bad arguments, unreadable or empty file.
    NetworkError
        The Overpass API (or Nominatim) cannot be reached or fails.
    """
    check_network_type(network_type)
    given = [x is not None for x in (place, polygon, bbox, path)]
    if sum(given) != 1:
        raise InputError("give exactly one of place, polygon, bbox or path to load OSM roads")
    if path is not None:
        return _load_path(Path(path), network_type, simplify, retain_all)
    graphml = fetch(
        place=place,
        polygon=polygon,
        bbox=bbox,
        cache_dir=cache_dir,
        network_type=network_type,
        timeout=timeout,
        simplify=simplify,
        retain_all=retain_all,
        overpass_url=overpass_url,
        nominatim_url=nominatim_url,
        retries=retries,
        backoff_s=backoff_s,
    )
    G = _load_graphml(graphml)
    if simplify and not G.graph.get("simplified"):  # a cache written simplified stays as it is
        G = simplify_graph(G)
    return _raw_from_graph(G, imply_motorway_oneway=True)


def simplify_graph(G):
    """:func:`osmnx.simplify_graph` that keeps a node wherever a :data:`SPEED_TAGS` value changes.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        Unsimplified osmnx graph (one edge per OSM segment).

    Returns
    -------
    networkx.MultiDiGraph
        Edges run junction to junction, or to a node where class, maxspeed, hgv or oneway
        change; ``length`` is the sum of the segments' lengths.
    """
    import osmnx as ox

    return ox.simplify_graph(G, edge_attrs_differ=list(SPEED_TAGS))


def parse_maxspeed(values):
    """Parse OSM ``maxspeed`` values to km/h.

    Understands numbers (``"60"``, ``"60.5"``), units (``"60 mph"``, ``"30 knots"``,
    ``"50 km/h"``), implicit values (``"CN:urban"`` via :data:`IMPLICIT_MAXSPEED_KMH`, other
    ``XX:zone`` via :data:`IMPLICIT_ZONE_FALLBACK_KMH`), several values (``"60;80"``,
    ``"60|80"`` or a list from a merged edge: their mean). ``"none"``, ``"signals"``,
    ``"variable"``, ``"walk"`` without country and anything else unparseable give NaN.

    Parameters
    ----------
    values : array-like
        Strings, numbers, lists of those, or missing values.

    Returns
    -------
    numpy.ndarray
        float64 km/h, NaN where absent or unparseable.
    """
    s = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_list(),
                  dtype=object)
    if s.empty:
        return np.array([], dtype=float)
    s.index = pd.RangeIndex(len(s))
    text = _as_text(s.explode())
    text = text.str.split(r"[;|]").explode().str.strip().str.lower()
    match = text.str.extract(r"^(\d+(?:\.\d+)?)\s*(mph|knots|kn|km/h|kmh|kph)?$")
    number = pd.to_numeric(match[0], errors="coerce")
    factor = match[1].map({"mph": 1.609344, "knots": 1.852, "kn": 1.852}).fillna(1.0)
    kmh = number * factor
    implicit = text.map(IMPLICIT_MAXSPEED_KMH)
    zone = text.str.extract(r"^[a-z]{2}(?:-[a-z0-9]+)?:(\w+)$")[0]
    kmh = kmh.fillna(implicit).fillna(zone.map(IMPLICIT_ZONE_FALLBACK_KMH))
    out = kmh.groupby(level=0).mean()
    return out.reindex(s.index).to_numpy(dtype=float)



# --------------------------------------------------------------------------------------------
# local files
# --------------------------------------------------------------------------------------------
def _load_path(path, network_type, simplify, retain_all):
    if not path.exists():
        raise InputError("road file not found", path=path)
    name = path.name.lower()
    if name.endswith(".pbf"):
        return _load_pbf(path, network_type, simplify, retain_all)
    if name.endswith(".graphml"):
        G = _load_graphml(path)
        if simplify and not G.graph.get("simplified"):  # e.g. a download cache (kept per segment)
            G = simplify_graph(G)
        return _raw_from_graph(G, imply_motorway_oneway=True)
    if name.endswith(_XML_SUFFIXES):
        return _load_xml(path, network_type, simplify, retain_all)
    raise InputError(
        "unknown OSM file type; use .osm, .osm.xml, .osm.bz2, .osm.pbf or .graphml", path=path
    )


def _load_graphml(path):
    import osmnx as ox

    try:
        return ox.load_graphml(path)
    except Exception as err:  # noqa: BLE001
        raise InputError(f"cannot read GraphML ({short_message(err)})", path=path) from err


def _load_xml(path, network_type, simplify, retain_all):
    """Pre-clean an OSM XML file into a temporary file, then build the graph with osmnx."""
    import osmnx as ox

    with tempfile.TemporaryDirectory(prefix="planner-osm-") as tmp:
        clean = Path(tmp) / "clean.osm"
        n_ways = _clean_osm_xml(path, clean, network_type)
        if n_ways == 0:
            raise InputError(f"no {network_type} ways in the file", path=path)
        old = ox.settings.useful_tags_way
        ox.settings.useful_tags_way = sorted(set(old) | set(EXTRA_WAY_TAGS))
        try:
            G = ox.graph_from_xml(clean, bidirectional=False, simplify=False,
                                  retain_all=retain_all)
            if simplify:
                G = simplify_graph(G)
        except Exception as err:  # noqa: BLE001
            raise InputError(f"osmnx cannot build a graph ({short_message(err)})", path=path) from err
        finally:
            ox.settings.useful_tags_way = old
    return _raw_from_graph(G, imply_motorway_oneway=False)


def _open_xml(path):
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _parse_osm_xml(path, keys):
    """Stream an OSM XML file: node coordinates, and highway ways with the tags in ``keys``.

    Returns
    -------
    node_ids, lat, lon : numpy arrays
    way_ids : numpy int64 array
    way_len : numpy int64 array (number of node refs per way)
    refs : numpy int64 array (all refs, way after way)
    tags : DataFrame, one row per way, columns ``keys`` (None where absent)
    """
    node_ids, lats, lons = [], [], []
    way_ids, way_len, refs, tag_rows = [], [], [], []
    try:
        with _open_xml(path) as fh:
            root = None
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                if root is None:
                    root = elem
                if event == "start":
                    continue
                tag = elem.tag
                if tag == "node":
                    node_ids.append(elem.get("id"))
                    lats.append(elem.get("lat"))
                    lons.append(elem.get("lon"))
                    root.clear()  # drop finished elements: memory stays flat
                elif tag == "way":
                    kv = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                    if "highway" in kv:
                        nds = [nd.get("ref") for nd in elem.iter("nd")]
                        way_ids.append(elem.get("id"))
                        way_len.append(len(nds))
                        refs.extend(nds)
                        tag_rows.append({k: kv.get(k) for k in keys})
                    root.clear()
                elif tag == "relation":
                    root.clear()
    except (ET.ParseError, OSError, EOFError, ValueError) as err:
        raise InputError(f"cannot parse OSM XML ({short_message(err)})", path=path) from err
    try:
        out = (
            np.asarray(node_ids, dtype=np.int64),
            np.asarray(lats, dtype=float),
            np.asarray(lons, dtype=float),
            np.asarray(way_ids, dtype=np.int64),
            np.asarray(way_len, dtype=np.int64),
            np.asarray(refs, dtype=np.int64),
        )
    except (TypeError, ValueError) as err:
        raise InputError(f"OSM XML has a bad id or coordinate ({short_message(err)})", path=path) from err
    return (*out, pd.DataFrame(tag_rows, columns=list(keys), dtype=object))


def _way_filter_mask(tags, network_type):
    """Vectorised osmnx way filter: True for ways kept by ``network_type``."""
    keep = tags["highway"].notna().to_numpy().copy()
    for key, pattern in _EXCLUDE[network_type].items():
        col = tags[key] if key in tags else pd.Series(None, index=tags.index, dtype=object)
        hit = col.fillna("").astype(str).str.contains(pattern, regex=True)
        keep &= ~(col.notna() & hit).to_numpy()
    return keep


def _clean_osm_xml(src, dst, network_type):
    """Write the drivable ways of ``src`` and their nodes to ``dst`` as OSM XML.

    Node references missing from the file are dropped; a way is split where they were, and
    pieces with fewer than two nodes are dropped. Pieces after the first get negative ids. A
    motorway or roundabout without ``oneway`` tag gets ``oneway=yes`` (implied one-way).

    Returns
    -------
    int
        Number of ways written.
    """
    keys = sorted(set(EXTRA_WAY_TAGS) | set(_EXCLUDE["drive"]) | {"ref", "lanes", "bridge",
                                                                   "tunnel", "width"})
    node_ids, lat, lon, way_ids, way_len, refs, tags = _parse_osm_xml(src, keys)
    keep_way = _way_filter_mask(tags, network_type) if len(tags) else np.zeros(0, bool)
    way_of_ref = np.repeat(np.arange(len(way_ids)), way_len)
    valid = np.isin(refs, node_ids) & keep_way[way_of_ref]
    # pieces: runs of valid refs inside a way; a missing ref (or a new way) starts a new run
    breaks = np.cumsum(~valid)
    piece_key = way_of_ref.astype(np.int64) * (len(refs) + 1) + breaks
    piece_key = piece_key[valid]
    refs_v, way_v = refs[valid], way_of_ref[valid]
    piece = np.unique(piece_key, return_inverse=True)[1]
    counts = np.bincount(piece) if piece.size else np.zeros(0, np.int64)
    good = counts[piece] >= 2 if piece.size else np.zeros(0, bool)
    refs_v, way_v, piece = refs_v[good], way_v[good], piece[good]
    if refs_v.size == 0:
        dst.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6"></osm>\n')
        return 0
    piece = np.unique(piece, return_inverse=True)[1]
    n_pieces = int(piece.max()) + 1
    piece_way = np.zeros(n_pieces, np.int64)
    piece_way[piece] = way_v
    # rank of a piece inside its way: 0 for the first piece (keeps the OSM id)
    first_piece_of_way = np.full(len(way_ids), n_pieces, np.int64)
    np.minimum.at(first_piece_of_way, piece_way, np.arange(n_pieces))
    rank = np.arange(n_pieces) - first_piece_of_way[piece_way]
    piece_id = np.where(rank == 0, way_ids[piece_way], -(way_ids[piece_way] * 1000 + rank))

    # implied one-way (OSM): motorway, roundabout, circular without an explicit oneway tag
    tags = tags.copy()
    implied = tags["oneway"].isna() & (
        tags["highway"].eq("motorway") | tags["junction"].isin(list(_IMPLIED_ONEWAY_JUNCTIONS))
    )
    tags.loc[implied, "oneway"] = "yes"

    used = np.unique(refs_v)
    at = np.searchsorted(node_ids, used, sorter=np.argsort(node_ids))
    order = np.argsort(node_ids)
    node_pos = order[at]
    node_lines = (
        '<node id="' + pd.Series(used).astype(str) + '" lat="'
        + pd.Series(lat[node_pos]).round(8).astype(str) + '" lon="'
        + pd.Series(lon[node_pos]).round(8).astype(str) + '"/>'
    )
    # way text: open line, nd lines, tag lines, close line, ordered by (piece, section, position)
    open_lines = pd.DataFrame({"piece": np.arange(n_pieces), "section": 0, "pos": 0,
                               "text": '<way id="' + pd.Series(piece_id).astype(str) + '">'})
    nd_lines = pd.DataFrame({"piece": piece, "section": 1, "pos": np.arange(piece.size),
                             "text": '<nd ref="' + pd.Series(refs_v).astype(str) + '"/>'})
    long = tags.iloc[piece_way].reset_index(drop=True)
    long.index.name = "piece"
    long = long.stack().dropna().rename("v").reset_index().rename(columns={"level_1": "k"})
    tag_lines = pd.DataFrame({
        "piece": long["piece"].to_numpy(), "section": 2, "pos": np.arange(len(long)),
        "text": '<tag k="' + _xml_escape(long["k"]) + '" v="' + _xml_escape(long["v"]) + '"/>',
    })
    close_lines = pd.DataFrame({"piece": np.arange(n_pieces), "section": 3, "pos": 0,
                                "text": "</way>"})
    ways = pd.concat([open_lines, nd_lines, tag_lines, close_lines], ignore_index=True)
    ways = ways.sort_values(["piece", "section", "pos"], kind="stable")
    with open(dst, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<osm version="0.6" generator="planner">\n')
        fh.write("\n".join(node_lines.to_list()))
        fh.write("\n")
        fh.write("\n".join(ways["text"].to_list()))
        fh.write("\n</osm>\n")
    return n_pieces


def _xml_escape(series):
    s = series.astype(str)
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                 ("\n", "&#10;"), ("\t", "&#9;")):
        s = s.str.replace(a, b, regex=False)
    return s


def _load_pbf(path, network_type, simplify, retain_all):
    """Read an ``.osm.pbf`` with pyrosm, expand directions, optionally simplify with osmnx."""
    try:
        import pyrosm
    except ImportError as err:
        raise InputError("reading .osm.pbf needs pyrosm (pip install pyrosm)", path=path) from err
    try:
        result = pyrosm.OSM(str(path)).get_network(
            network_type=_PYROSM_NETWORK[network_type],
            nodes=True,
            extra_attributes=["hgv", "maxweight"],
        )
    except Exception as err:  # noqa: BLE001
        raise InputError(f"pyrosm cannot read the file ({short_message(err)})", path=path) from err
    if result is None or result[1] is None or len(result[1]) == 0:
        raise InputError(f"no {network_type} ways in the file", path=path)
    pnodes, pedges = result
    seg = _expand_directions(pedges)
    nodes = pd.DataFrame({
        "node_id": pnodes["id"].to_numpy(np.int64),
        "lon": pnodes["lon"].to_numpy(float),
        "lat": pnodes["lat"].to_numpy(float),
    }).drop_duplicates("node_id")
    # pyrosm rounds segment lengths to the millimetre; measure them as osmnx does for XML
    pos = pd.Index(nodes["node_id"].to_numpy())
    iu, iv = pos.get_indexer(seg["u"].to_numpy()), pos.get_indexer(seg["v"].to_numpy())
    if (iu >= 0).all() and (iv >= 0).all():
        import osmnx as ox

        lat, lon = nodes["lat"].to_numpy(), nodes["lon"].to_numpy()
        seg["length"] = ox.distance.great_circle(lat[iu], lon[iu], lat[iv], lon[iv])
    if not simplify and retain_all:
        return _raw_from_frames(nodes, seg)
    G = _graph_from_segments(nodes, seg)
    if not retain_all:
        import osmnx as ox

        G = ox.truncate.largest_component(G, strongly=False)
    if simplify:
        G = simplify_graph(G)
    return _raw_from_graph(G, imply_motorway_oneway=False)


def _expand_directions(pedges):
    """One row per drivable direction from pyrosm way segments (drawn in way order)."""
    e = pedges.reset_index(drop=True)
    get = lambda c: e[c] if c in e else pd.Series(None, index=e.index, dtype=object)  # noqa: E731
    ow = _as_text(get("oneway")).str.strip().str.lower()
    highway = get("highway")
    implied = ow.isna() & (
        highway.eq("motorway") | get("junction").isin(list(_IMPLIED_ONEWAY_JUNCTIONS))
    )
    forward_only = (ow.isin(list(_ONEWAY_FORWARD)) | implied).to_numpy()
    backward_only = ow.isin(list(_ONEWAY_BACKWARD)).to_numpy()
    base = pd.DataFrame({
        "u": e["u"].to_numpy(np.int64),
        "v": e["v"].to_numpy(np.int64),
        "osmid": e["id"].to_numpy(np.int64),
        "highway": highway.to_numpy(object),
        "maxspeed": get("maxspeed").to_numpy(object),
        "name": get("name").to_numpy(object),
        "hgv": get("hgv").to_numpy(object),
        "length": e["length"].to_numpy(float),
        "oneway": forward_only | backward_only,
    })
    geom = e.geometry.to_numpy()
    fwd = base[~backward_only].assign(reversed=False)
    fwd_geom = geom[~backward_only]
    bwd = base[~forward_only].rename(columns={"u": "v", "v": "u"}).assign(reversed=True)
    bwd_geom = shapely.reverse(geom[~forward_only])
    seg = pd.concat([fwd, bwd[fwd.columns]], ignore_index=True)
    return gpd.GeoDataFrame(seg, geometry=np.concatenate([fwd_geom, bwd_geom]), crs="EPSG:4326")


def _graph_from_segments(nodes, seg):
    """Build an osmnx-compatible MultiDiGraph from node and directed segment tables.

    Segments are straight, so they enter the graph without geometry (as in osmnx before
    simplification); :func:`osmnx.simplify_graph` rebuilds merged geometries from the nodes.
    """
    import osmnx as ox

    gn = gpd.GeoDataFrame(
        {"x": nodes["lon"].to_numpy(), "y": nodes["lat"].to_numpy()},
        index=pd.Index(nodes["node_id"].to_numpy(), name="osmid"),
        geometry=shapely.points(nodes["lon"].to_numpy(), nodes["lat"].to_numpy()),
        crs="EPSG:4326",
    )
    ge = pd.DataFrame(seg.drop(columns=seg.geometry.name))
    ge["key"] = ge.groupby(["u", "v"]).cumcount()
    ge = gpd.GeoDataFrame(ge.set_index(["u", "v", "key"]))
    return ox.graph_from_gdfs(gn, ge, graph_attrs={"crs": "EPSG:4326"})


# --------------------------------------------------------------------------------------------
# graph / frames -> raw tables
# --------------------------------------------------------------------------------------------
def _raw_from_graph(G, imply_motorway_oneway):
    """Convert an osmnx MultiDiGraph (EPSG:4326) into the raw node and edge tables."""
    import osmnx as ox

    if G.number_of_edges() == 0:
        raise InputError("the OSM data holds no drivable edges")
    # straight edges get their line in _raw_from_frames (vectorised, faster than osmnx)
    gn, ge = ox.graph_to_gdfs(G, nodes=True, edges=True, fill_edge_geometry=False)
    nodes = pd.DataFrame({
        "node_id": gn.index.to_numpy(np.int64),
        "lon": gn["x"].to_numpy(float),
        "lat": gn["y"].to_numpy(float),
    })
    ge = ge.reset_index()
    if imply_motorway_oneway:
        ge = _drop_implied_reverse(ge)
    return _raw_from_frames(nodes, ge)


def _drop_implied_reverse(ge):
    """Drop reverse copies that osmnx made of motorways/roundabouts lacking a oneway tag."""
    if "reversed" not in ge:
        return ge
    rev = _as_text(ge["reversed"].explode()).str.lower().isin(["true", "1"])
    rev = rev.groupby(level=0).any()
    cls = _first_class(ge["highway"]) if "highway" in ge else pd.Series(None, index=ge.index)
    junction = ge["junction"] if "junction" in ge else pd.Series(None, index=ge.index)
    junction = junction.explode().isin(list(_IMPLIED_ONEWAY_JUNCTIONS)).groupby(level=0).any()
    drop = rev.to_numpy(bool) & (cls.eq("motorway") | junction).to_numpy(bool)
    return ge.loc[~drop].reset_index(drop=True)


def _first_class(highway):
    """Most important ``highway`` value of each (possibly list-valued) entry."""
    rank = {h: i for i, h in enumerate(HIGHWAY_ORDER)}
    parts = _as_text(highway.reset_index(drop=True).explode()).str.strip()
    parts = parts.mask(parts.eq(""))
    r = parts.map(rank).astype(float).fillna(len(rank)).where(parts.notna(), np.inf)
    frame = pd.DataFrame({"value": parts, "rank": r})
    frame = frame.reset_index().sort_values(["index", "rank", "value"], kind="stable")
    best = frame.drop_duplicates("index").set_index("index")["value"]
    out = best.reindex(range(len(highway)))
    out.index = highway.index
    return out.astype(object).where(out.notna(), None)


def _as_text(series):
    """Values as a pandas string Series (missing -> <NA>), index kept."""
    return series.astype(object).astype("string")


def _first_value(series):
    """Smallest non-missing element of each (possibly list-valued) entry, as str or None.

    osmnx stores the differing values of a merged edge as an unordered list, so the
    alphabetically first value is taken to keep the result reproducible.
    """
    s = series.reset_index(drop=True).explode()
    s = _as_text(s).str.strip()
    s = s.mask(s.eq("")).dropna()
    # sort + drop_duplicates: groupby().min() on strings falls back to a Python loop
    frame = pd.DataFrame({"row": s.index.to_numpy(), "value": s.to_numpy(object)})
    frame = frame.sort_values(["row", "value"], kind="stable").drop_duplicates("row")
    first = pd.Series(frame["value"].to_numpy(object), index=frame["row"].to_numpy())
    out = first.reindex(range(len(series)))
    out.index = series.index
    return out.astype(object).where(out.notna(), None)


def _hgv_value(series):
    """``"no"`` if any part says no, else the alphabetically first value (str or None)."""
    s = series.reset_index(drop=True).explode()
    any_no = _as_text(s).str.strip().str.lower().eq("no").fillna(False).groupby(level=0).any()
    first = _first_value(series.reset_index(drop=True))
    out = first.where(~any_no.reindex(first.index, fill_value=False), "no")
    out.index = series.index
    return out.astype(object).where(out.notna(), None)


def _raw_from_frames(nodes, e):
    """Build the raw tables from a node table and an osmnx-like directed edge table.

    ``e`` needs ``u``, ``v``, ``length`` and geometry; ``highway``, ``maxspeed``, ``name``,
    ``hgv`` are optional and may hold lists (merged edges).
    """
    e = e.reset_index(drop=True)
    missing = lambda: pd.Series(None, index=e.index, dtype=object)  # noqa: E731
    u = e["u"].to_numpy(np.int64)
    v = e["v"].to_numpy(np.int64)
    nodes = nodes.drop_duplicates("node_id").reset_index(drop=True)
    used = np.isin(nodes["node_id"].to_numpy(np.int64), np.concatenate([u, v]))
    nodes = nodes.loc[used].reset_index(drop=True)
    pos = pd.Index(nodes["node_id"].to_numpy(np.int64))
    iu, iv = pos.get_indexer(u), pos.get_indexer(v)
    if (iu < 0).any() or (iv < 0).any():
        raise InputError("the OSM data has edges whose end nodes are missing")
    lon, lat = nodes["lon"].to_numpy(), nodes["lat"].to_numpy()

    geom = np.asarray(e.geometry.to_numpy(), dtype=object)
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    straight = shapely.linestrings(
        np.stack([np.c_[lon[iu], lat[iu]], np.c_[lon[iv], lat[iv]]], axis=1)
    )
    geom = np.where(empty, straight, geom)
    # draw every line from from_node to to_node
    start = shapely.get_point(geom, 0)
    d_from = shapely.distance(start, shapely.points(lon[iu], lat[iu]))
    d_to = shapely.distance(start, shapely.points(lon[iv], lat[iv]))
    flip = d_to < d_from
    geom = np.where(flip, shapely.reverse(geom), geom)

    length = pd.to_numeric(e["length"], errors="coerce").to_numpy(float) if "length" in e else None
    if length is None or np.isnan(length).any():
        geod = gpd.GeoSeries(geom, crs="EPSG:4326")
        est = geod.to_crs(geod.estimate_utm_crs()).length.to_numpy()
        length = est if length is None else np.where(np.isnan(length), est, length)

    edges = gpd.GeoDataFrame(
        {
            "from_node": u,
            "to_node": v,
            "length_m": length.astype(float),
            "road_class": _first_class(e["highway"] if "highway" in e else missing()),
            "maxspeed_kmh": parse_maxspeed(e["maxspeed"] if "maxspeed" in e else missing()),
            "name": _first_value(e["name"] if "name" in e else missing()),
            "oneway": _no_reverse(u, v),
            "hgv": _hgv_value(e["hgv"] if "hgv" in e else missing()),
        },
        index=e.index,
        geometry=geom,
        crs="EPSG:4326",
    )
    return nodes[NODE_COLUMNS], edges[EDGE_COLUMNS]


def _no_reverse(u, v):
    """True where no edge ``v -> u`` exists."""
    fwd = pd.MultiIndex.from_arrays([u, v])
    rev = pd.MultiIndex.from_arrays([v, u])
    return ~rev.isin(fwd)
