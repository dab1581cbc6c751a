"""What the demo notebooks say, in the scenario's language (English or Chinese).

The notebooks in ``notebooks/`` show their headings, explanations, messages and table captions
through :func:`text`, :func:`heading` and :func:`table`, in ``[scenario] language``. Words the
maps, the workbook or the report already have are taken from there
(:data:`planner.maps.labels.LABELS`, :data:`planner.reporting.document.TEXT`); :data:`TEXT` holds
only the notebooks' own sentences.

Examples
--------
>>> str(heading("coverage", "zh"))
'## 各工厂供应商覆盖情况'
>>> str(text("net_summary", "en", nodes=1200, edges=3400, plants=2, suppliers=40))
'Road network: 1,200 junctions, 3,400 road edges; 2 plants, 40 suppliers.'
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from planner.maps.labels import (
    LABELS,
    check_language,
    column_headers,
    profile_label,
    speed_note,
    status_label,
    technology_label,
)
from planner.pipeline import speed_warnings
from planner.reporting.document import TEXT as REPORT_TEXT

__all__ = ["TEXT", "Markdown", "words", "text", "heading", "table", "status_label", "problem_size",
           "warning_block"]

#: The notebooks' own sentences: key -> (English, Chinese). Markdown; ``{name}`` fields are filled in.
TEXT: dict[str, tuple[str, str]] = {
    # 01 supplier coverage
    "coverage_nb_title": ("30-minute supply circle", "30分钟紧密高效配套圈"),
    "coverage_nb_intro": (
        "Which suppliers reach the plant they serve within {m:g} minutes — off-peak, at peak and by truck — "
        "and where does the circle break? Coverage is decided on network travel times (supplier driving "
        "**to** the plant); the isochrone bands on the map are for reading only.",
        "哪些供应商能在{m:g}分钟内到达其服务的工厂（平峰、高峰、货车）？配套圈在哪里断开？覆盖按路网行程时间判定"
        "（供应商**驶往**工厂）；地图上的等时圈仅供阅读参考。"),
    "illustrative_sites": ("*The plant and supplier lists of the demo are illustrative, not real data.* "
                           "Roads © OpenStreetMap contributors (ODbL).",
                           "*演示用的工厂和供应商名单为示意数据，并非真实数据。* "
                           "道路数据 © OpenStreetMap contributors（ODbL）。"),
    "net_summary": ("Road network: {nodes:,} junctions, {edges:,} road edges; {plants} plants, {suppliers} suppliers.",
                    "路网：{nodes:,} 个交叉口，{edges:,} 条路段；{plants} 个工厂，{suppliers} 个供应商。"),
    "lost_intro": ("Suppliers inside the circle off-peak but outside it at peak (first {n}):",
                   "平峰时在配套圈内、高峰时在圈外的供应商（前 {n} 个）："),
    "breaking_intro": ("The uniform speed scale (× model speeds) each plant needs to keep 100 %, 90 % and 80 % of its "
                       "suppliers within {m:g} minutes (above 1: broken already at model speeds).",
                       "各工厂要让 100%、90%、80% 的供应商保持在{m:g}分钟内所需的统一车速系数（× 模型车速；"
                       "大于 1 表示按模型车速已无法满足）。"),
    "coverage_map_intro": ("Map of the {p} circle: suppliers coloured by their travel time to the plant they serve.",
                           "{p}配套圈地图：供应商按到所服务工厂的行程时间着色。"),
    "map_counts": ("What the map draws:", "地图上绘制的要素："),
    # 02 station siting
    "siting_nb_title": ("Measure 10: hydrogen, high-power charging and PV-storage-charging stations",
                        "措施10：加氢站、大功率充电站和光储充一体站选址"),
    "siting_nb_intro": (
        "One budget, three technologies. Candidates are the OSM parking areas and fuel stations; hydrogen serves "
        "supplier → plant truck flows (a station within a short detour), charging serves clustered EV demand from "
        "POIs (drive **to** the station within the radius). The optimiser is an exact MILP (HiGHS) with a "
        "heuristic start; it reports its bound and gap.",
        "一个预算、三类场站。候选站址为 OSM 中的停车场和加油站；加氢站服务供应商 → 工厂的货车流（绕行距离短的站点），"
        "充电站服务由兴趣点聚类得到的电动车需求（在服务半径内**驶往**站点）。优化采用精确的混合整数规划（HiGHS），"
        "以启发式解为初始解，并给出界和间隙。"),
    "illustrative_siting": ("*Demo plants, suppliers and budget are illustrative.* "
                            "Roads and POIs © OpenStreetMap contributors (ODbL).",
                            "*演示用的工厂、供应商和预算为示意数据。* "
                            "道路与兴趣点数据 © OpenStreetMap contributors（ODbL）。"),
    "problem_size": ("Size of the siting problem", "选址问题规模"),
    # rows of the problem-size table: keys of ``stations.problem.info`` (planner.pipeline.stations),
    # "info_<key>"; "{t}" is the technology of a "<technology>_<key>" key, "{x}" the source of a count
    "info_candidates_read": ("Candidate sites read ({x})", "读入的候选站址（{x}）"),
    "info_candidates_outside_study_area": ("Candidate sites outside the study area (left out)",
                                           "研究范围以外的候选站址（未纳入）"),
    "info_candidates_off_network": ("Candidate sites too far from the road network (left out)",
                                    "距路网过远的候选站址（未纳入）"),
    "info_freight_flows": ("Supplier → plant freight flows", "供应商 → 工厂货运流"),
    "info_freight_flows_unreachable": ("Freight flows without a road route (left out)", "无道路可达的货运流（未纳入）"),
    "info_ev_demand_points": ("EV demand points (clusters of POIs)", "电动车需求点（兴趣点聚类）"),
    "info_eligible_sites": ("Eligible sites: {t}", "可选站址：{t}"),
    "info_demand_points": ("Demand points: {t}", "需求点：{t}"),
    "info_demand_served_by_competitors": ("Demand points already served by competitors: {t}",
                                          "已由竞争对手站点服务的需求点：{t}"),
    "info_candidates": ("Candidate sites in the model", "纳入模型的候选站址"),
    # the warnings block
    "warnings_title": ("⚠ Warnings", "⚠ 注意"),
    "warnings_as_is": ("The planner's warnings, as it wrote them (in English):",
                       "以下为程序给出的警告（英文原文）："),
    "no_warnings": ("The planner gave no warnings.", "程序未给出警告。"),
    "solver_result": ("Solver: {status}; objective {objective:.4f}, bound {bound:.4f}, gap {gap:.3f} %, "
                      "{seconds:.1f} s. Budget used {used:,.0f} of {budget:,.0f} 万元.",
                      "求解状态：{status}；目标值 {objective:.4f}，界 {bound:.4f}，间隙 {gap:.3f}%，"
                      "用时 {seconds:.1f} 秒。已用预算 {used:,.0f} / {budget:,.0f} 万元。"),
    "covered_share": ("Stations and share of demand covered per technology", "各类场站数量及需求覆盖比例"),
    # 03 comparing site lists
    "compare_nb_title": ("Comparing candidate site lists", "候选站点方案对比"),
    "compare_nb_intro": (
        "What does a larger budget buy? List {a} is the optimal plan at {budget_a:,.0f} 万元, list {b} at "
        "{budget_b:,.0f} 万元. The comparison matches the stations (kept / added / removed), evaluates each list's "
        "coverage per technology on the same network and demand, and lists the demand points that change "
        "station. The same works for any two site lists a planner brings (CSV/Excel/GeoPackage): "
        "`planner compare SCENARIO A.csv B.csv`.",
        "预算增加能带来什么？方案 {a} 为 {budget_a:,.0f} 万元预算下的最优方案，方案 {b} 为 {budget_b:,.0f} 万元。"
        "对比会匹配两方案的站点（保留 / 新增 / 移除），在同一路网和需求上评估各方案每类场站的覆盖，"
        "并列出改由其他站点服务的需求点。规划人员自带的任意两份站点清单（CSV/Excel/GeoPackage）也可对比："
        "`planner compare SCENARIO A.csv B.csv`。"),
    "illustrative_compare": ("*Illustrative demo data.* © OpenStreetMap contributors (ODbL).",
                             "*示意性演示数据。* © OpenStreetMap contributors（ODbL）。"),
    "list_sizes": ("Stations per list: {a} {n_a} (solver: {s_a}), {b} {n_b} (solver: {s_b}).",
                   "各方案站点数：方案 {a} {n_a} 个（求解状态：{s_a}），方案 {b} {n_b} 个（求解状态：{s_b}）。"),
    "compare_summary": ("Coverage of each list per technology", "各方案每类场站的覆盖情况"),
    "status_counts": ("Stations by status", "按状态统计的站点数"),
    "reassigned": ("Demand points that change station (first {n})", "改由其他站点服务的需求点（前 {n} 个）"),
    # headers of the comparison tables: <name>_a, <name>_b and delta_<name> (x: "A", "B" or "B − A")
    "col_stations": ("Stations ({x})", "站点数（{x}）"),
    "col_capex": ("CAPEX, 万元 ({x})", "投资（万元，{x}）"),
    "col_covered": ("Demand covered ({x})", "覆盖需求（{x}）"),
    "col_share": ("Share of demand covered ({x})", "需求覆盖比例（{x}）"),
    "col_station": ("Serving station ({x})", "服务站点（{x}）"),
    "col_minutes": ("Minutes to the station ({x})", "到站分钟（{x}）"),
    "col_demand_total": ("Demand (total weight)", "需求总量（权重）"),
}

#: A comparison column: ``delta_<name>`` (B − A) or ``<name>_a`` / ``<name>_b``.
_SIDED = re.compile(r"^(?:delta_(?P<delta>\w+)|(?P<name>\w+?)_(?P<side>[ab]))$")
#: Characters of a plain message that Markdown would read as markup.
_MARKUP = re.compile(r"([\\`*_\[\]#|~])")


class Markdown(str):
    """Text that Jupyter shows as Markdown (and prints as itself elsewhere)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def words(key: str, language: str, **fmt) -> str:
    """The text of ``key`` in ``language``: a notebook sentence, else a report or map word.

    Parameters
    ----------
    key : str
        A key of :data:`TEXT`, of :data:`planner.maps.labels.LABELS` or of
        :data:`planner.reporting.document.TEXT`, looked up in that order (the map word wins where
        the report uses the same key, e.g. ``count``).
    language : {"en", "zh"}
        The scenario's language.
    **fmt
        Values of the ``{name}`` fields of the text.

    Returns
    -------
    str

    Raises
    ------
    PlannerError
        When ``language`` is not supported.
    KeyError
        When ``key`` is in none of the tables (a programming error).
    """
    check_language(language)
    for table_ in (TEXT, LABELS, REPORT_TEXT):
        if key in table_:
            en, zh = table_[key]
            return (zh if language == "zh" else en).format(**fmt)
    raise KeyError(key)


def text(key: str, language: str, **fmt) -> Markdown:
    """:func:`words` as Markdown for a notebook output (see :func:`words` for the parameters)."""
    return Markdown(words(key, language, **fmt))


def heading(key: str, language: str, level: int = 2, **fmt) -> Markdown:
    """A Markdown heading of ``level`` (1–6) holding :func:`words` of ``key``."""
    return Markdown(f"{'#' * max(1, min(int(level), 6))} {words(key, language, **fmt)}")


def table(df: pd.DataFrame, language: str, caption: str | None = None, precision: int = 1, **fmt) -> Styler:
    """A result table as a notebook shows it: headers and values in ``language``, a caption.

    Parameters
    ----------
    df : pandas.DataFrame
        A result table (plant summary, selected sites, comparison...); a geometry column is dropped.
    language : {"en", "zh"}
        The scenario's language (headers and values through :func:`planner.maps.column_headers`).
    caption : str, optional
        Key of the caption (see :func:`words`).
    precision : int, default 1
        Decimals of numbers (minutes to 0.1 by default); columns whose name holds ``share`` are
        shown in %, infinite minutes as "unreachable" (不可达) and other infinities as ∞, gaps as
        "–"; ``minutes_<profile>`` columns are headed as in the exported workbook and the
        comparison columns (``<name>_a``, ``<name>_b``, ``delta_<name>``) name their list.
    **fmt
        Values of the ``{name}`` fields of the caption.

    Returns
    -------
    pandas.io.formats.style.Styler
        Rendered by Jupyter as an HTML table with a ``<caption>``; ``.data`` is the translated table.
    """
    geometry = getattr(df, "_geometry_column_name", None)
    plain = pd.DataFrame(df).drop(columns=[geometry] if geometry in df.columns else []).reset_index(drop=True)
    shown = column_headers(plain, language, translate_values=True)
    for col in shown.columns:  # yes / no in columns that also hold gaps (object dtype)
        if shown[col].dtype == object:
            shown[col] = [words("yes" if v else "no", language) if isinstance(v, (bool, np.bool_)) else v
                          for v in shown[col]]
        elif pd.api.types.is_float_dtype(shown[col]) and np.isinf(shown[col].to_numpy()).any():
            # infinite minutes read "unreachable" (column_headers); other infinities (a speed scale
            # no speed-up reaches) as the sign, not as Python's "inf"
            shown[col] = [("∞" if v > 0 else "−∞") if np.isinf(v) else v for v in shown[col]]
    plain_names = {k[len("col_"):]: k for k, (en, _) in TEXT.items() if k.startswith("col_") and "{" not in en}
    shown = shown.rename(columns=lambda c: words(plain_names[c], language) if c in plain_names else c)
    sided = {c: words(f"col_{m['delta'] or m['name']}", language, x="B − A" if m["delta"] else m["side"].upper())
             for c in shown.columns if (m := _SIDED.match(str(c))) and f"col_{m['delta'] or m['name']}" in TEXT}
    timed = {c: f"{words('minutes', language)} ({profile_label(c[len('minutes_'):], language)})"
             for c in shown.columns if str(c).startswith("minutes_") and c not in sided}  # as the workbook
    shown = shown.rename(columns={**sided, **timed})
    shares = [new for old, new in zip(plain.columns, shown.columns) if "share" in str(old)]
    style = shown.style.hide(axis="index").format(precision=precision, thousands=",", na_rep="–")
    style = style.format("{:.1%}", na_rep="–", subset=[c for c in shares if pd.api.types.is_numeric_dtype(shown[c])])
    if caption:
        style = style.set_caption(words(caption, language, **fmt))
    return style


def _info_label(key: str, language: str, source: str | None = None) -> str:
    """Readable name of a ``problem.info`` key (``info_<key>`` or ``<technology>_<key>`` in
    :data:`TEXT`); an unknown key is returned as given."""
    if f"info_{key}" in TEXT:
        return words(f"info_{key}", language, **({"x": source} if source is not None else {}))
    for k, (en, _) in TEXT.items():
        rest = k[len("info_"):]
        if k.startswith("info_") and "{t}" in en and key.endswith(f"_{rest}") and len(key) > len(rest) + 1:
            return words(k, language, t=technology_label(key[: -len(rest) - 1], language))
    return key


def problem_size(info: Mapping, language: str) -> Styler:
    """The size of a siting problem (``stations.problem.info``) as a two-column notebook table.

    Parameters
    ----------
    info : mapping
        Key -> count, as :func:`planner.pipeline.stations.build_problem` records it; a mapping
        value of ``candidates_read`` gives one row per source, other mapping values (e.g. the EV
        clustering's loss details) are left out.
    language : {"en", "zh"}
        The scenario's language: each key is shown by its readable name (``info_<key>`` in
        :data:`TEXT`; ``<technology>_<key>`` names the technology), unknown keys as given.

    Returns
    -------
    pandas.io.formats.style.Styler
        :func:`table` of the rows, captioned ``problem_size``.
    """
    rows: list[tuple[str, object]] = []
    for key, value in info.items():
        if isinstance(value, Mapping):
            if key == "candidates_read":
                rows += [(_info_label(key, language, str(src)), n) for src, n in value.items()]
            continue
        rows.append((_info_label(key, language), value))
    df = pd.DataFrame(rows, columns=[words("setting", language), words("value", language)])
    return table(df, language, caption="problem_size", precision=3)


def _plain(message: str) -> str:
    """``message`` as Markdown that shows it as written: HTML and markup characters escaped."""
    return _MARKUP.sub(r"\\\1", html.escape(message, quote=False))


def warning_block(messages: Iterable[str], language: str, net=None) -> Markdown:
    """The planner's warnings as a visible Markdown block under a heading in ``language``.

    The messages are free English text produced deep in the package (data-edge truncation,
    unreachable trips, station sizing...): they are shown as written, under a translated heading
    and a line saying so, with Markdown markup characters escaped.

    Parameters
    ----------
    messages : iterable of str
        Warnings of a result (``cov.warnings``, ``stations.sizing["warnings"]``, ``cmp.warnings``).
    language : {"en", "zh"}
        The scenario's language.
    net : RoadNetwork, optional
        Adds the road-speed line of the maps' legend (:func:`planner.maps.speed_note`, in
        ``language``) and :func:`planner.pipeline.speed_warnings` (profiles driven mostly at the
        fallback speed).

    Returns
    -------
    Markdown
    """
    check_language(language)
    shares = (getattr(net, "report", None) or {}).get("speeds", {}) if net is not None else {}
    note = speed_note(shares, language) if shares else None
    given = list(dict.fromkeys([*speed_warnings(shares), *messages]))
    lines = [f"#### {words('warnings_title', language)}", ""]
    if note:
        lines += [f"- {html.escape(note)}", ""]
    if given:
        lines += [words("warnings_as_is", language), ""]
        lines += [f"- {_plain(m)}" for m in given]
    elif not note:
        lines.append(words("no_warnings", language))
    return Markdown("\n".join(lines))
