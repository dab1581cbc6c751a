"""``planner sweep | frontier | phase``: the programme commands (scenario in, files out).

Where the results go (``--out`` overrides): ``frontier`` and ``phase`` write into the scenario's
run folder, under ``programme/frontier/`` and ``programme/phasing/``
(:class:`~planner.outputs.RunLayout`), so ``planner report RUN_DIR`` shows them beside the run's
own plan and ``planner run`` keeps them; ``sweep`` writes a folder of many runs beside it,
``<output>-sweep/``.
"""
from __future__ import annotations

from pathlib import Path

from planner import outputs, pipeline
from planner.errors import ScenarioError
from planner.outputs import RunLayout, programme_inputs
from planner.pipeline.stations import siting_problem
from planner.scenario import Scenario
from planner.stations.problem import SitingProblem

from .frontier import budget_frontier, write_frontier
from .grid import parse_grid, parse_values
from .phasing import phase_programme, robustness, write_phasing
from .sweep import run_sweep

__all__ = ["sweep_command", "frontier_command", "phase_command"]


def _problem(sc: Scenario, quiet: bool) -> tuple[SitingProblem, dict]:
    """The scenario's siting problem, with the capex of ``planner run`` (flat or sized), and what
    the programme outputs record about it (the inputs it depends on, the capex model)."""
    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    run = pipeline.Run(quiet=quiet)
    net = pipeline.load_network(sc, run)
    plants, suppliers = pipeline.load_sites(sc, net, run)
    problem, info = siting_problem(sc, net, plants, suppliers, run)
    about = {"scenario": sc.scenario.name, "language": sc.scenario.language,
             "capex_model": sc.siting.capex_model,
             "candidate_capex": (info or {}).get("approach", "flat: each technology's capex_wan per station"),
             "inputs": programme_inputs(sc.model_dump(mode="json"))}
    return problem, about


def sweep_command(sc: Scenario, grid_items: list[str], out=None, scheduler=None, workers=None,
                  resume: bool = True, quiet: bool = False) -> Path:
    """Run the grid; returns the sweep folder (``results.csv``, charts, ``scenarios/``)."""
    if not grid_items:
        raise ScenarioError("give at least one --grid KEY=VALUES", key="--grid")
    folder = Path(out) if out else sc.output_dir.with_name(f"{sc.output_dir.name}-sweep")
    table = run_sweep(sc, parse_grid(grid_items), folder, scheduler=scheduler, n_workers=workers,
                      resume=resume, quiet=quiet)
    failed = int((table.status == "failed").sum()) if "status" in table else 0
    if not quiet:
        print(f"sweep: {len(table)} scenario(s), {failed} failed; results {folder / 'results.csv'}")
    return folder


def frontier_command(sc: Scenario, budgets=None, out=None, scheduler=None, workers=None,
                     quiet: bool = False) -> Path:
    """Budget frontier of the scenario's station plan."""
    text = budgets or (sc.programme.frontier_budgets_wan if sc.programme else None)
    if not text:
        raise ScenarioError("give --budgets START:STOP:STEP or programme.frontier_budgets_wan",
                            path=sc.source_path, key="programme.frontier_budgets_wan")
    try:
        values = parse_values(str(text))
    except ValueError as exc:
        raise ScenarioError(str(exc), path=sc.source_path, key="programme.frontier_budgets_wan") from None
    problem, about = _problem(sc, quiet)
    table, plans = budget_frontier(problem, values, scheduler=scheduler, n_workers=workers,
                                   time_limit=sc.siting.time_limit_s, mip_gap=sc.siting.mip_gap)
    folder = Path(out) if out else sc.output_dir / RunLayout.FRONTIER
    write_frontier(table, folder, language=sc.scenario.language)
    outputs.write_json(outputs.clean_for_json({str(b): p for b, p in plans.items()}),
                       folder / RunLayout.FRONTIER_PLANS.name)
    outputs.write_json(outputs.clean_for_json({**about, "budgets_wan": values, "time_limit_s": sc.siting.time_limit_s,
                                               "mip_gap": sc.siting.mip_gap}),
                       folder / RunLayout.FRONTIER_SUMMARY.name)
    if not quiet:
        print(f"frontier: {len(table)} budget(s); {folder / RunLayout.FRONTIER_TABLE.name}"
              + ("" if out else f" (in the report: planner report {sc.output_dir})"))
    return folder


def phase_command(sc: Scenario, out=None, scheduler=None, workers=None, quiet: bool = False) -> Path:
    """Stations year by year (``[programme]``), the myopic comparison and the robustness analysis."""
    pg = sc.programme
    if pg is None or not pg.budgets_wan:
        raise ScenarioError("the scenario has no [programme] budgets_wan (one budget per year)",
                            path=sc.source_path, key="programme.budgets_wan")
    problem, about = _problem(sc, quiet)
    prog, myopic, _model = phase_programme(problem, pg.years, pg.budgets_wan, pg.growth, pg.carry_over,
                                           time_limit=pg.time_limit_s, mip_gap=sc.siting.mip_gap)
    folder = Path(out) if out else sc.output_dir / RunLayout.PHASING
    write_phasing(prog, myopic, problem, folder, language=sc.scenario.language)
    if pg.scenarios:
        plans, sites = robustness(problem, pg.years, pg.budgets_wan,
                                  {k: v.model_dump() for k, v in pg.scenarios.items()}, pg.carry_over,
                                  scheduler=scheduler, n_workers=workers, time_limit=pg.time_limit_s,
                                  mip_gap=sc.siting.mip_gap)
        outputs.write_csv(plans, folder / "robustness.csv")
        outputs.write_csv(sites, folder / "site_frequency.csv")
    outputs.write_json(outputs.clean_for_json({
        **about, "years": pg.years, "budgets_wan": pg.budgets_wan, "carry_over": pg.carry_over,
        "programme": {"objective": prog.objective, "bound": prog.bound, "gap": prog.gap, "status": prog.status,
                      "by_year": prog.by_period},
        "myopic": {"objective": myopic.objective, "by_year": myopic.by_period}}),
        folder / RunLayout.PHASING_SUMMARY.name)
    if not quiet:
        print(f"phasing: accumulated coverage {prog.objective:.4f} (myopic {myopic.objective:.4f}); {folder}"
              + ("" if out else f" (in the report: planner report {sc.output_dir})"))
    return folder
