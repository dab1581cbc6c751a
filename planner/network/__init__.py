"""Road networks: loading (OSM, road layers), speeds and profiles, QA/repair, the routable graph.

The scenario's network is built by :func:`planner.pipeline.network.network_for_scenario` (the
orchestration layer reads the scenario; this package takes plain arguments).
"""
