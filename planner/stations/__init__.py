"""Station planning for measure 10: demand, candidate sites, the station problem and plan, and
the size of every station (plugs, transformer, hydrogen, PV + storage operated against the grid).

Builds on the pure model library :mod:`planner.siting`; the pipeline (:mod:`planner.pipeline`)
reads the inputs and writes the outputs.
"""
