"""Overpass- and Nominatim-compatible stand-in server for download tests, with injected faults.

It answers from an OSM XML file the way the real services answer osmnx:

- ``POST <root>/api/interpreter`` with a form field ``data`` holding osmnx's Overpass QL
  (``[out:json]...;(way["k"]["k"!~"re"]...(poly:'lat lon ...');>;);out;``): the ways that pass
  every tag filter (Overpass semantics: ``["k"]`` needs the key, ``["k"~"re"]`` needs a value
  matching the regex anywhere, ``["k"!~"re"]`` passes when the key is absent or does not match)
  and have a node inside the polygon, plus all their nodes, as Overpass JSON.
- ``GET <root>/nominatim/search?q=...``: one result with a polygon ``geojson`` for each known
  place name, ``[]`` otherwise.

The server binds 127.0.0.1 on a free port, answers at most ``max_requests`` requests, and
stops itself after ``max_seconds`` (or when the ``with`` block ends). ``faults`` lists, per
service (``"overpass"``, ``"nominatim"``), what the next requests get instead of a good answer:

``"hang"`` (no answer for ``hang_s``), ``"429"`` (with ``Retry-After: 1``), ``"504"``, ``"400"``,
``"truncate"`` (half the body of a declared ``Content-Length``, then close), ``"cut"`` (half the
body, no ``Content-Length``, then close), ``"reset"`` (half the body, then a TCP reset), and
``"remark"`` (half the elements with Overpass's ``runtime error`` remark, as Overpass does when
a query times out on the server).
"""
from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import shapely

_FILTER = re.compile(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]')
_POLY = re.compile(r"\(poly:['\"]([^'\"]+)['\"]\)")


def read_osm_xml(path):
    """Nodes ``{id: (lat, lon)}`` and ways ``[(id, [refs], {tags})]`` of an OSM XML file."""
    nodes, ways = {}, []
    for elem in ET.parse(path).getroot():
        if elem.tag == "node":
            nodes[int(elem.get("id"))] = (float(elem.get("lat")), float(elem.get("lon")))
        elif elem.tag == "way":
            refs = [int(nd.get("ref")) for nd in elem.iter("nd")]
            tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
            ways.append((int(elem.get("id")), refs, tags))
    return nodes, ways


def overpass_answer(nodes, ways, query):
    """Overpass JSON for one of osmnx's way queries (see the module docstring)."""
    if not query.startswith("[out:json]"):
        raise ValueError("only [out:json] queries are understood")
    poly_match = _POLY.search(query)
    head = query[query.index("(way") + 4: poly_match.start()]
    filters = _FILTER.findall(head)
    ll = [float(x) for x in poly_match.group(1).split()]
    poly = shapely.Polygon(list(zip(ll[1::2], ll[0::2])))  # "lat lon" pairs -> (x=lon, y=lat)
    keep, used = [], set()
    for wid, refs, tags in ways:
        ok = True
        for key, op, pattern in filters:
            value = tags.get(key)
            if op == "":
                ok = value is not None
            elif op == "~":
                ok = value is not None and re.search(pattern, value) is not None
            else:
                ok = value is None or re.search(pattern, value) is None
            if not ok:
                break
        if ok and any(poly.covers(shapely.Point(nodes[r][1], nodes[r][0])) for r in refs):
            keep.append({"type": "way", "id": wid, "nodes": refs, "tags": tags})
            used.update(refs)
    elements = [{"type": "node", "id": n, "lat": nodes[n][0], "lon": nodes[n][1]}
                for n in sorted(used)]
    return {"version": 0.6, "generator": "planner test stand-in",
            "osm3s": {"copyright": "© OpenStreetMap contributors (ODbL)"},
            "elements": elements + keep}


def nominatim_answer(places, query):
    """Nominatim ``search`` JSON: the polygon of a known place name, else no result."""
    poly = places.get(query)
    if poly is None:
        return []
    w, s, e, n = poly.bounds
    return [{
        "place_id": 1, "licence": "Data © OpenStreetMap contributors, ODbL 1.0",
        "osm_type": "relation", "osm_id": 1, "boundingbox": [str(s), str(n), str(w), str(e)],
        "lat": str(poly.centroid.y), "lon": str(poly.centroid.x), "display_name": query,
        "class": "boundary", "type": "administrative", "importance": 0.5,
        "geojson": shapely.geometry.mapping(poly),
    }]


class StandIn:
    """The stand-in server; use as a context manager (see the module docstring).

    Attributes
    ----------
    requests : list of (service, fault)
        Every request served, in order, with the fault it got (``"ok"`` for a good answer).
    """

    def __init__(self, osm_path, places=None, faults=None, *, max_requests=40,
                 max_seconds=90.0, hang_s=3.0):
        self.nodes, self.ways = read_osm_xml(osm_path)
        self.places = dict(places or {})
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.max_requests, self.max_seconds, self.hang_s = max_requests, max_seconds, hang_s
        self.requests = []
        self._lock = threading.Lock()
        self._server = None

    # ------------------------------------------------------------------ life cycle
    def __enter__(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                standin._serve(self, "overpass")

            def do_GET(self):
                standin._serve(self, "nominatim")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self._root = f"http://{host}:{port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._timer = threading.Timer(self.max_seconds, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Stop serving (idempotent; safe from any thread but the serving one)."""
        server, self._server = self._server, None
        if server is not None:
            self._timer.cancel()
            server.shutdown()
            server.server_close()

    @property
    def root(self):
        return self._root

    @property
    def overpass_url(self):
        return f"{self.root}/api"

    @property
    def nominatim_url(self):
        return f"{self.root}/nominatim/"

    def served(self, service):
        """Faults (or "ok") of the requests served for ``service``, in order."""
        return [f for s, f in self.requests if s == service]

    # ------------------------------------------------------------------ answers
    def _serve(self, h, service):
        with self._lock:
            if len(self.requests) >= self.max_requests:
                fault = "over budget"
            else:
                queue = self.faults.get(service, [])
                fault = queue.pop(0) if queue else "ok"
            self.requests.append((service, fault))
        if fault == "over budget":
            threading.Thread(target=self.stop, daemon=True).start()
            return
        if fault == "hang":
            time.sleep(self.hang_s)
            return
        if fault in ("429", "504", "400"):
            text = {"429": "Too Many Requests", "504": "Gateway Timeout",
                    "400": "Bad Request"}[fault]
            body = f"<html><body><p>{text}</p></body></html>".encode()
            h.send_response(int(fault), text)
            if fault == "429":
                h.send_header("Retry-After", "1")
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        if service == "overpass":
            length = int(h.headers.get("Content-Length", 0))
            query = parse_qs(h.rfile.read(length).decode())["data"][0]
            answer = overpass_answer(self.nodes, self.ways, query)
            if fault == "remark":
                half = answer["elements"][: len(answer["elements"]) // 2]
                answer = {**answer, "elements": half,
                          "remark": 'runtime error: Query timed out in "recurse" at line 1 '
                                    "after 25 seconds."}
        else:
            query = parse_qs(urlparse(h.path).query).get("q", [""])[0]
            answer = nominatim_answer(self.places, query)
        body = json.dumps(answer).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if fault != "cut":
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if fault in ("truncate", "cut", "reset"):
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            if fault == "reset":  # SO_LINGER 0: close sends RST instead of FIN
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                h.connection.close()
            h.close_connection = True
            return
        h.wfile.write(body)
