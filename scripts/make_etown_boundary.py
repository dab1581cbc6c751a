"""Build the APPROXIMATE 亦庄新城 (Beijing E-Town new town) boundary of the demo scenario.

No official outline of the 225 km² 亦庄新城 planning area was found (shared/reference/
parameters.md §11, row "225 km² outer boundary": NOT FOUND; "Bounding coordinates": NOT FOUND).
The 2019 plan lists its components by place (§11 row "Components (2019 plan)"): the current BDA,
the 综合配套服务区 of 旧宫镇, 瀛海地区 and 亦庄地区, the 台湖 headquarters and 光机电 bases,
马驹桥镇区, the logistics and 金桥 bases. This script approximates the new town as the union
of the OpenStreetMap township / sub-district polygons (Geofabrik ``adminareas_a``,
admin_level 8) that hold those components:

    旧宫镇, 瀛海镇, 亦庄镇, 荣华街道, 博兴街道 (BDA), 台湖镇, 马驹桥镇

closed by 50 m (slivers between neighbours) and simplified at 150 m. The union is ~272 km²,
about 20 % more than the official 225 km² (§11 row 1): whole townships are taken where the plan
takes only their built-up parts (the outer farmland of 台湖 and 马驹桥), and the 长子营 / 青云店
/ 采育 industrial parks (separate enclaves in the south) are left out. Use it as a study-area
outline for the demo only; replace it with the planning bureau's boundary when available.

Run:  PLANNER_DATA_DIR=../shared/data python scripts/make_etown_boundary.py
Writes scenarios/data/etown_boundary_approx.geojson (© OpenStreetMap contributors, ODbL 1.0).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import geopandas as gpd
import shapely

ROOT = Path(__file__).resolve().parents[1]
POIS = Path("beijing-pois") / "geofabrik_beijing_free_20260607_bbox.gpkg"
#: OSM admin_level-8 units holding the 2019 plan's components (parameters.md §11)
UNITS = ["旧宫镇", "瀛海镇", "亦庄镇", "荣华街道", "博兴街道", "台湖镇", "马驹桥镇"]
METRIC_CRS = 32650
CLOSE_M = 50.0
SIMPLIFY_M = 150.0


def etown_outline(admin: gpd.GeoDataFrame) -> shapely.Polygon:
    """Union of the :data:`UNITS` polygons of ``admin`` (WGS-84), closed and simplified.

    Parameters
    ----------
    admin : GeoDataFrame
        Geofabrik ``adminareas_a`` layer (``name``, ``fclass``).

    Returns
    -------
    shapely.Polygon
        The outline in WGS-84, coordinates rounded to 5 decimals (~1 m).
    """
    sel = admin[admin.name.isin(UNITS) & (admin.fclass == "admin_level8")]
    missing = sorted(set(UNITS) - set(sel.name))
    if missing:
        raise SystemExit(f"admin units not found in the layer: {', '.join(missing)}")
    u = sel.to_crs(METRIC_CRS).union_all().buffer(CLOSE_M).buffer(-CLOSE_M)
    u = shapely.simplify(u, SIMPLIFY_M)
    out = gpd.GeoSeries([u], crs=METRIC_CRS).to_crs(4326).iloc[0]
    return shapely.set_precision(out, 1e-5)


def main() -> int:
    data = Path(os.environ.get("PLANNER_DATA_DIR", ROOT / "data" / "raw"))
    if not (data / POIS).exists():
        print(f"POI layer not found: {data / POIS} (set PLANNER_DATA_DIR)", file=sys.stderr)
        return 2
    poly = etown_outline(gpd.read_file(data / POIS, layer="adminareas_a"))
    area = gpd.GeoSeries([poly], crs=4326).to_crs(METRIC_CRS).area.iloc[0] / 1e6
    fc = {
        "type": "FeatureCollection",
        "name": "etown_boundary_approx",
        "features": [{
            "type": "Feature",
            "properties": {
                "name": "亦庄新城 Beijing E-Town new town (APPROXIMATE outline)",
                "approximate": True,
                "area_km2": round(float(area), 1),
                "official_area_km2": 225,
                "method": "union of OSM admin_level-8 units " + ", ".join(UNITS)
                          + f"; closed {CLOSE_M:g} m, simplified {SIMPLIFY_M:g} m",
                "source": "shared/reference/parameters.md §11; OSM via Geofabrik 2026-06-07; "
                          "see scenarios/data/SOURCE.md",
                "attribution": "© OpenStreetMap contributors (ODbL)",
            },
            "geometry": shapely.geometry.mapping(poly),
        }],
    }
    out = ROOT / "scenarios" / "data" / "etown_boundary_approx.geojson"
    out.write_text(json.dumps(fc, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out} ({area:.1f} km², {len(shapely.get_coordinates(poly))} vertices)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
