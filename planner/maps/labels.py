"""User-visible words of the maps and exported tables, in English and Chinese.

Every label, legend title and table header the planner shows comes from :data:`LABELS`
through :func:`label`, so a map or a spreadsheet is either all English or all Chinese.
:func:`column_headers` renames the columns of a result table for export.

Examples
--------
>>> label("hydrogen_station", "zh")
'加氢站'
>>> label("h2", "en")  # technology codes are keys too
'Hydrogen station'
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from planner.errors import PlannerError
from planner.vocab import MATCH_STATUSES, SOLVER_STATUSES

__all__ = ["LANGUAGES", "LABELS", "COLUMN_KEYS", "check_language", "label", "profile_label",
           "technology_label", "status_label", "column_headers", "speed_note"]

#: Supported languages.
LANGUAGES: tuple[str, ...] = ("en", "zh")

#: Station-size columns (``siting/station_sizes.csv``) -> (English, Chinese); the column name is the key.
SIZE_LABELS: dict[str, tuple[str, str]] = {
    "existing": ("Existing", "已建"),
    "kind": ("Demand kind", "需求类型"),
    "daily_sessions": ("Sessions per day", "日充电次数"),
    "peak_arrivals_per_h": ("Peak arrivals per hour", "高峰小时到达数"),
    "mean_session_min": ("Mean session (min)", "平均充电时长（分钟）"),
    "plugs": ("Plugs", "充电枪数"),
    "charger_kw": ("Charger kW", "单枪功率（kW）"),
    "p_wait": ("P(wait > 5 min)", "等待超5分钟概率"),
    "transformer_kva": ("Transformer kVA", "变压器容量（kVA）"),
    "h2_kg_day": ("H2 kg/day", "日加氢量（kg）"),
    "h2_class_kg_day": ("H2 class kg/day", "加氢站规模（kg/d）"),
    "h2_storage_kg": ("H2 storage kg", "储氢量（kg）"),
    "h2_dispensers": ("H2 dispensers", "加氢机数"),
    "h2_grade": ("H2 station grade", "加氢站等级"),
    "pv_kwp": ("PV kWp", "光伏容量（kWp）"),
    "pv_kwh_year": ("PV kWh/year", "年发电量（kWh）"),
    "storage_kwh": ("Storage kWh", "储能容量（kWh）"),
    "storage_kw": ("Storage kW", "储能功率（kW）"),
    "self_consumption_share": ("PV self-consumption", "光伏自用率"),
    "peak_grid_kw_without_storage": ("Peak grid kW without storage", "无储能电网峰值（kW）"),
    "peak_grid_kw_with_storage": ("Peak grid kW with storage", "有储能电网峰值（kW）"),
    "transformer_kva_hourly_peak": ("Transformer kVA (hourly peak)", "按小时峰值变压器（kVA）"),
    "peak_grid_kw_smart": ("Peak grid kW, smart charging", "有序充电电网峰值（kW）"),
    "transformer_kva_smart": ("Transformer kVA, smart charging", "有序充电变压器（kVA）"),
    "energy_cost_wan_year": ("Energy cost (万元/yr)", "年电费（万元）"),
    "energy_revenue_wan_year": ("Energy revenue (万元/yr)", "年售电收入（万元）"),
    "capex_chargers_wan": ("Capex chargers (万元)", "充电设备投资（万元）"),
    "capex_transformer_wan": ("Capex transformer (万元)", "变压器投资（万元）"),
    "capex_h2_wan": ("Capex H2 (万元)", "加氢设备投资（万元）"),
    "capex_pv_wan": ("Capex PV (万元)", "光伏投资（万元）"),
    "capex_storage_wan": ("Capex storage (万元)", "储能投资（万元）"),
    "capex_fixed_wan": ("Capex fixed (万元)", "固定投资（万元）"),
    "capex_wan": ("CAPEX (10,000 CNY)", "投资（万元）"),
    "capex_model": ("Capex model", "投资模型"),
}

#: key -> (English, Chinese).
LABELS: dict[str, tuple[str, str]] = {
    # things on the map
    "supplier": ("Supplier", "供应商"),
    "suppliers": ("Suppliers", "供应商"),
    "plant": ("Plant", "工厂"),
    "plants": ("Plants", "工厂"),
    "site": ("Site", "站点"),
    "sites": ("Sites", "站点"),
    "site_id": ("Site ID", "站点编号"),
    "supplier_id": ("Supplier ID", "供应商编号"),
    "plant_id": ("Plant ID", "工厂编号"),
    "demand_id": ("Demand ID", "需求点编号"),
    "name": ("Name", "名称"),
    "demand": ("Demand", "需求"),
    "demand_point": ("Demand point", "需求点"),
    "weight": ("Weight", "权重"),
    "roads": ("Road network", "道路网络"),
    "isochrones": ("Travel-time bands", "等时圈"),
    "study_area": ("Study area (boundary + margin)", "研究范围（边界＋缓冲区）"),
    "data_extent": ("Edge of the road data", "道路数据边界"),
    "speed_note": ("Road speeds: {fallback} of the road length at the default speed (no class/speed tag), "
                   "{clamped} with a tagged speed capped to its class{profile}",
                   "道路速度：{fallback} 的道路长度使用默认速度（无等级/限速标签），"
                   "{clamped} 的限速标签被截至道路等级上限{profile}"),
    "service_areas": ("Service areas", "服务范围"),
    # travel time / coverage
    "minutes": ("Minutes", "分钟"),
    "min": ("min", "分钟"),
    "travel_time": ("Travel time", "行程时间"),
    "best_time": ("Best travel time", "最短行程时间"),
    "slack": ("Slack", "余量"),
    "slack_minutes": ("Slack (min)", "余量（分钟）"),
    "threshold": ("Threshold", "时间阈值"),
    "covered": ("Covered", "已覆盖"),
    "uncovered": ("Uncovered", "未覆盖"),
    "unreachable": ("unreachable", "不可达"),
    "no_data": ("No travel time", "无行程时间"),
    "snap_m": ("Snap distance (m)", "吸附距离（米）"),
    "within": ("within", "以内"),
    "late": ("late", "超时"),
    "profile": ("Profile", "时段/车型"),
    "peak": ("Peak", "高峰"),
    "offpeak": ("Off-peak", "平峰"),
    "truck": ("Truck", "货车"),
    "car": ("Car", "小汽车"),
    "night": ("Night", "夜间"),
    "partly": ("Late for some plants it serves", "部分服务工厂超时"),
    "covered_served": ("Covered / served suppliers", "已覆盖 / 服务的供应商"),
    "closed_by": ("closed by", "限行封闭："),
    "without_restriction": ("without it", "不限行时"),
    "no_connection": ("no road connection", "无道路连通"),
    "restrictions": ("Time-windowed restrictions", "分时段限行区域"),
    "closed": ("closed", "禁行"),
    "slowed": ("slowed", "限速"),
    "truck_night": ("Truck, night", "货车（夜间）"),
    "truck_nev": ("New-energy truck", "新能源货车"),
    "coverage_title": ("30-minute supplier coverage", "供应商30分钟覆盖"),
    "slack_legend": ("Slack to threshold (min)", "距阈值余量（分钟）"),
    # siting
    "technology": ("Technology", "类型"),
    "h2": ("Hydrogen station", "加氢站"),
    "hydrogen_station": ("Hydrogen station", "加氢站"),
    "hpc": ("High-power charging", "大功率充电站"),
    "high_power_charging": ("High-power charging", "大功率充电站"),
    "pv_storage": ("PV-storage-charging", "光储充一体站"),
    "pv_storage_charging": ("PV-storage-charging", "光储充一体站"),
    "selected": ("Selected sites", "选址结果"),
    "capex": ("CAPEX", "投资"),
    "capex_wan": ("CAPEX (10,000 CNY)", "投资（万元）"),
    "power_kw": ("Power (kW)", "功率（kW）"),
    "radius_min": ("Service radius (min)", "服务半径（分钟）"),
    "display_name": ("Station name", "站点名称"),
    "near_road": ("near {road}", "近 {road}"),
    "far_road": ("{m} m from {road}", "距 {road} {m} 米"),
    "demand_served": ("Demand served", "服务需求量"),
    "share": ("Share", "占比"),
    "served": ("Served", "已服务"),
    "unserved": ("Unserved", "未服务"),
    "illustrative_note": ("Illustrative data: {what} are not real", "示意数据：{what}并非真实数据"),
    "partly_served": ("points at one place, some unserved", "同一位置多个需求点，部分未服务"),
    "of_demand": ("of demand (weighted)", "需求量（加权）"),
    "unserved_means": ("Unserved: no station of that type within its radius", "未服务：服务半径内无该类场站"),
    "layer_off": ("layer off when the map opens (same points as", "图层默认隐藏（点位同"),
    "lon": ("Longitude", "经度"),
    "lat": ("Latitude", "纬度"),
    "siting_title": ("Station siting", "场站选址"),
    # comparison
    "status": ("Status", "状态"),
    "added": ("Added", "新增"),
    "removed": ("Removed", "移除"),
    "kept": ("Kept", "保留"),
    "moved": ("Moved", "位置变动"),
    "compare_title": ("Scenario comparison", "方案对比"),
    # rows of a comparison summary besides the technologies (column ``technology``)
    "total": ("Total", "合计"),
    "supplier_circle": ("Supplier circle", "供应商配套圈"),
    # generic
    "legend": ("Legend", "图例"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "basemap_osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap_amap": ("AMap (Gaode)", "高德地图"),
    "basemap_tianditu": ("Tianditu", "天地图"),
    "basemap_tianditu_labels": ("Tianditu labels", "天地图注记"),
    "fullscreen": ("Full screen", "全屏"),
    "exit_fullscreen": ("Exit full screen", "退出全屏"),
    "count": ("Count", "数量"),
    "objective": ("Objective", "目标值"),
    "category": ("Category", "类别"),
    "tier": ("Tier", "层级"),
    "plants_served": ("Plants served", "服务工厂"),
    "minutes_band": ("Band (min)", "时间带（分钟）"),
    "unreachable_cause": ("Why unreachable", "不可达原因"),
    "restriction": ("time restriction", "分时段限行"),
    "blocked_by": ("Closed by (restriction, hours)", "限行（名称、时段）"),
    "minutes_unrestricted": ("Minutes without the restriction", "不限行时分钟"),
    # station sizes (siting/station_sizes.csv, issue 13)
    **SIZE_LABELS,
    # exported workbook (results.xlsx): sheet names (≤ 31 characters) and headers
    "sheet_coverage": ("Coverage (served pairs)", "覆盖（服务关系）"),
    "sheet_not_served": ("Pairs not served", "非服务关系"),
    "sheet_plant_summary": ("Plant summary", "工厂汇总"),
    "sheet_lost_at_peak": ("Lost at peak", "高峰失去覆盖"),
    "sheet_sensitivity": ("Speed sensitivity", "速度敏感性"),
    "sheet_breaking_scale": ("Breaking speed scale", "覆盖失效速度系数"),
    "sheet_selected_sites": ("Selected stations", "选址结果"),
    "sheet_siting_summary": ("Siting summary", "选址汇总"),
    "sheet_attribution": ("Attribution", "数据来源"),
    "sheet_by_hour": ("Coverage by hour", "分时段覆盖"),
    "sheet_delivery_windows": ("Delivery windows", "配送时间窗"),
    "sheet_door_to_door": ("Door to door", "门对门配送"),
    "sheet_station_sizes": ("Station sizes", "站点规模"),
    "source": ("Source", "来源"),
    "supplier_name": ("Supplier name", "供应商名称"),
    "plant_name": ("Plant name", "工厂名称"),
    "site_name": ("Station name", "站点名称"),
    "threshold_min": ("Threshold (min)", "时间阈值（分钟）"),
    "suppliers_total": ("Suppliers served", "服务供应商数"),
    "suppliers_covered": ("Suppliers covered", "已覆盖供应商数"),
    "share_covered": ("Share covered", "覆盖占比"),
    "weighted_share_covered": ("Share covered (weighted)", "覆盖占比（加权）"),
    "median_minutes": ("Median minutes", "中位分钟"),
    "max_minutes": ("Maximum minutes", "最大分钟"),
    "lost_at_peak": ("Lost at peak", "高峰失去覆盖数"),
    "coverage_is_lower_bound": ("Coverage is a lower bound (data edge)", "覆盖为下限（数据边界）"),
    "speed_scale": ("Speed scale", "速度系数"),
    "scale_for_100pct": ("Scale keeping 100 %", "保持100%覆盖的速度系数"),
    "scale_for_90pct": ("Scale keeping 90 %", "保持90%覆盖的速度系数"),
    "scale_for_80pct": ("Scale keeping 80 %", "保持80%覆盖的速度系数"),
    "breaking_speed_scale": ("Breaking speed scale", "覆盖失效速度系数"),
    "holds_at_free_flow": ("Holds at free flow", "自由流下满足"),
    "existing": ("Existing", "既有"),
    "model": ("Model", "模型"),
    "bound": ("Bound", "界"),
    "gap": ("Gap", "间隙"),
    "solver": ("Solver", "求解器"),
    # solver statuses (planner.vocab.SOLVER_STATUSES), through status_label
    "solver_optimal": ("optimal", "最优"),
    "solver_time_limit": ("time limit reached", "达到时间上限"),
    "solver_infeasible": ("infeasible", "无可行解"),
    "solver_no_solution": ("no solution found", "未找到解"),
    "solver_error": ("solver error", "求解器出错"),
    "solver_heuristic": ("heuristic solution", "启发式解"),
    "seconds": ("Seconds", "秒"),
    "budget_wan": ("Budget (10,000 CNY)", "预算（万元）"),
    "budget_used_wan": ("Budget used (10,000 CNY)", "已用预算（万元）"),
    "currency": ("Currency", "货币单位"),
}

#: Result-table column -> label key used by :func:`column_headers`.
COLUMN_KEYS: dict[str, str] = {
    "site_id": "site_id",
    "supplier_id": "supplier_id",
    "plant_id": "plant_id",
    "demand_id": "demand_id",
    "name": "name",
    "display_name": "display_name",
    "radius_min": "radius_min",
    "profile": "profile",
    "minutes": "minutes",
    "best_minutes": "best_time",
    "slack_minutes": "slack_minutes",
    "covered": "covered",
    "snap_m": "snap_m",
    "weight": "weight",
    "technology": "technology",
    "lon": "lon",
    "lat": "lat",
    "capex": "capex",
    "demand_served": "demand_served",
    "share": "share",
    "served": "served",
    "status": "status",
    "category": "category",
    "tier": "tier",
    "plants": "plants_served",
    "unreachable_cause": "unreachable_cause",
    "blocked_by": "blocked_by",
    "minutes_unrestricted": "minutes_unrestricted",
    **{c: c for c in SIZE_LABELS},
    "supplier_name": "supplier_name",
    "plant_name": "plant_name",
    "site_name": "site_name",
    "threshold_min": "threshold_min",
    "suppliers_total": "suppliers_total",
    "suppliers_covered": "suppliers_covered",
    "share_covered": "share_covered",
    "weighted_share_covered": "weighted_share_covered",
    "median_minutes": "median_minutes",
    "max_minutes": "max_minutes",
    "lost_at_peak": "lost_at_peak",
    "coverage_is_lower_bound": "coverage_is_lower_bound",
    "speed_scale": "speed_scale",
    "scale_for_100pct": "scale_for_100pct",
    "scale_for_90pct": "scale_for_90pct",
    "scale_for_80pct": "scale_for_80pct",
    "breaking_speed_scale": "breaking_speed_scale",
    "holds_at_free_flow": "holds_at_free_flow",
    "existing": "existing",
    "model": "model",
    "objective": "objective",
    "bound": "bound",
    "gap": "gap",
    "solver": "solver",
    "seconds": "seconds",
    "budget": "budget_wan",
    "budget_used": "budget_used_wan",
    "currency": "currency",
    "source": "source",
    "capex_wan": "capex_wan",
}

_PROFILE_ALIASES = {
    "offpeak": "offpeak",
    "off_peak": "offpeak",
    "off-peak": "offpeak",
    "peak": "peak",
    "truck": "truck",
    "hgv": "truck",
    "car": "car",
    "night": "night",
    "truck_night": "truck_night",
    "truck_nev": "truck_nev",
}

_TECH_ALIASES = {
    "h2": "h2",
    "hydrogen": "h2",
    "hpc": "hpc",
    "pv_storage": "pv_storage",
    "pv-storage": "pv_storage",
    "pvstorage": "pv_storage",
}


def check_language(language: str) -> str:
    """Return ``language`` if it is supported, else raise :class:`PlannerError`.

    Parameters
    ----------
    language : str
        ``"en"`` or ``"zh"``.
    """
    if language not in LANGUAGES:
        raise PlannerError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    return language


def label(key: str, language: str = "en") -> str:
    """Return the text of label ``key`` in ``language``.

    Parameters
    ----------
    key : str
        A key of :data:`LABELS` (e.g. ``"supplier"``, ``"h2"``, ``"offpeak"``).
    language : {"en", "zh"}
        Output language.

    Returns
    -------
    str
        Plain text (not HTML-escaped: escape it before putting it into HTML).

    Raises
    ------
    PlannerError
        When ``language`` is not supported.
    KeyError
        When ``key`` is unknown (a programming error).
    """
    check_language(language)
    en, zh = LABELS[key]
    return zh if language == "zh" else en


def profile_label(profile, language: str = "en") -> str:
    """Label of a travel-time profile name; unknown profiles are returned as given."""
    key = _PROFILE_ALIASES.get(str(profile).strip().lower())
    return label(key, language) if key else str(profile)


def technology_label(technology, language: str = "en") -> str:
    """Label of a technology code (``h2``, ``hpc``, ``pv_storage``); unknown codes as given."""
    key = _TECH_ALIASES.get(str(technology).strip().lower())
    return label(key, language) if key else str(technology)


def status_label(status, language: str = "en") -> str:
    """Label of a status: a comparison status (:data:`planner.vocab.MATCH_STATUSES`, e.g. ``moved``)
    or a solver status (:data:`planner.vocab.SOLVER_STATUSES`, e.g. ``time_limit``); unknown
    statuses are returned as given."""
    key = str(status).strip().lower()
    if key in MATCH_STATUSES:
        return label(key, language)
    if key in SOLVER_STATUSES:
        return label(f"solver_{key}", language)
    return str(status)


def speed_note(shares: dict, language: str = "en", profile_labels: dict | None = None) -> str | None:
    """The legend line saying how much road length is driven at an assumed speed.

    Parameters
    ----------
    shares : dict
        ``net.report["speeds"]``: ``{profile: {"fallback": share, "clamped": share, ...}}``
        (shares of road length, 0–1; see :func:`planner.network.speeds.speed_shares`).
    language : {"en", "zh"}
    profile_labels : dict, optional
        Display name per profile.

    Returns
    -------
    str or None
        The line for the profile with the largest fallback-or-clamped share (named when the
        profiles differ), or None without shares.
    """
    rows = {p: s for p, s in (shares or {}).items() if isinstance(s, dict) and "fallback" in s}
    if not rows:
        return None
    worst = max(rows, key=lambda p: rows[p]["fallback"] + rows[p].get("clamped", 0.0))
    s = rows[worst]
    same = len({(round(r["fallback"], 3), round(r.get("clamped", 0.0), 3)) for r in rows.values()}) == 1
    name = (profile_labels or {}).get(worst) or profile_label(worst, language)
    where = "" if same else (f" ({name})" if language == "en" else f"（{name}）")
    return label("speed_note", language).format(fallback=f"{100 * float(s['fallback']):.0f} %",
                                                clamped=f"{100 * float(s.get('clamped', 0.0)):.0f} %", profile=where)


def _translate_value(column: str, value, language: str):
    if isinstance(value, (bool, np.bool_)):
        return label("yes" if value else "no", language)
    if column == "technology":
        return label(value, language) if value in ("total", "supplier_circle") else technology_label(value, language)
    if column == "profile":
        return profile_label(value, language)
    if column == "status" and isinstance(value, str):
        return status_label(value, language)
    if column == "unreachable_cause" and str(value) in ("restriction", "no_connection"):
        return label(str(value), language)
    if _is_minutes(column) and isinstance(value, float) and math.isinf(value):
        return label("unreachable", language)
    return value


#: Columns of travel minutes besides ``minutes_<profile>`` (infinite = unreachable).
_MINUTE_COLUMNS = ("minutes", "best_minutes", "minutes_unrestricted", "median_minutes", "max_minutes",
                   "slack_minutes")


def _is_minutes(column) -> bool:
    return str(column) in _MINUTE_COLUMNS or str(column).startswith("minutes_")


def column_headers(df: pd.DataFrame, language: str = "en",
                   translate_values: bool = False) -> pd.DataFrame:
    """Return a copy of result table ``df`` with human-readable column headers.

    Known columns (see :data:`COLUMN_KEYS`) are renamed to their label in ``language``;
    other columns keep their name. A GeoDataFrame's geometry column is dropped (exports are
    tables).

    Parameters
    ----------
    df : pandas.DataFrame
        A result table (supplier times, selected sites, comparison status...).
    language : {"en", "zh"}
        Header language.
    translate_values : bool, default False
        Also translate cell values: booleans to yes/no (是/否), technology codes, profile
        names, comparison and solver statuses (:func:`status_label`), and infinite minutes
        (``minutes``, ``minutes_<profile>``, median / maximum minutes...) to "unreachable" (不可达).

    Returns
    -------
    pandas.DataFrame
        A new frame; ``df`` is not modified.
    """
    check_language(language)
    out = pd.DataFrame(df).copy()
    geom = getattr(df, "_geometry_column_name", None)
    if geom is not None and geom in out.columns:
        out = pd.DataFrame(out.drop(columns=[geom]))
    if translate_values:
        for col in out.columns:
            if col in ("technology", "profile", "status", "unreachable_cause") or _is_minutes(col) or \
                    out[col].dtype == bool:
                out[col] = [_translate_value(col, v, language) for v in out[col]]
    mapping = {c: label(COLUMN_KEYS[c], language) for c in out.columns if c in COLUMN_KEYS}
    return out.rename(columns=mapping)
