"""Station sizing: Erlang C, plugs, transformer and hydrogen against independent references."""
import math

import numpy as np
import pytest
from scipy import stats

from planner.errors import InputError
from planner.stations.defaults import DEFAULTS, SizingDefaults, defaults_table
from planner.stations.sizing import (
    erlang_c,
    h2_kg_per_day,
    p_wait_longer,
    plugs_for_target,
    size_h2,
    size_hpc,
    standard_kva,
    transformer_kva,
)

# Erlang B traffic table (offered erlangs carried at a given grade of service by N trunks), as
# reprinted in telephone-engineering texts, e.g. R. L. Freeman, "Telecommunication System
# Engineering", Erlang B appendix table: (N, blocking, erlangs).
ERLANG_B_TABLE = [
    (5, 0.01, 1.361), (10, 0.01, 4.461), (20, 0.01, 12.03),
    (5, 0.02, 1.657), (10, 0.02, 5.084), (20, 0.02, 13.18),
]


@pytest.mark.parametrize("n, blocking, a", ERLANG_B_TABLE)
def test_erlang_c_matches_erlang_b_table(n, blocking, a):
    # Erlang C from the published Erlang B value through C = N·B / (N − A(1 − B))
    # (e.g. Kleinrock, Queueing Systems vol. 1, §3.5); our Erlang C sums the series directly.
    c_from_table = n * blocking / (n - a * (1 - blocking))
    assert erlang_c(n, a) == pytest.approx(c_from_table, rel=0.01)


def test_erlang_c_small_exact_values():
    # hand-derived from the birth–death chain: c=1 → ρ; c=2, a=1 → 1/3; c=3, a=2 → 4/9
    assert erlang_c(1, 0.3) == pytest.approx(0.3)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_c(4, 4.0) == 1.0 and erlang_c(3, 0.0) == 0.0


def _ctmc_wait_tail(c, lam, mu, t, n_max=400):
    """P(wait > t) from a truncated birth–death chain solved numerically (independent of Erlang C)."""
    q = np.zeros((n_max, n_max))
    for n in range(n_max - 1):
        q[n, n + 1] = lam
        q[n + 1, n] = min(n + 1, c) * mu
    np.fill_diagonal(q, -q.sum(axis=1))
    a = np.vstack([q.T, np.ones(n_max)])
    b = np.zeros(n_max + 1)
    b[-1] = 1
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    # an arrival finding n >= c waits for n - c + 1 service completions at rate c·mu (PASTA)
    n = np.arange(c, n_max)
    return float((pi[c:] * stats.gamma.sf(t, a=n - c + 1, scale=1 / (c * mu))).sum()), float(pi[c:].sum())


@pytest.mark.parametrize("c, lam, smin, wait", [(3, 12.0, 11.0, 5.0), (8, 30.0, 12.0, 5.0), (2, 4.0, 20.0, 2.0)])
def test_wait_tail_against_markov_chain(c, lam, smin, wait):
    tail, pwait = _ctmc_wait_tail(c, lam / 60.0, 1 / smin, wait)
    assert erlang_c(c, lam * smin / 60) == pytest.approx(pwait, rel=1e-6)
    assert p_wait_longer(c, lam, smin, wait) == pytest.approx(tail, rel=1e-6)


def test_plugs_is_smallest_meeting_target():
    lam, smin = 28.0, 11.0
    c, p = plugs_for_target(lam, smin, 5.0, 0.10)
    assert p <= 0.10 and p_wait_longer(c - 1, lam, smin, 5.0) > 0.10
    assert plugs_for_target(0.0, smin) == (1, 0.0)


def test_transformer_rule_reproduces_vendor_example():
    # parameters.md §4: 10 × 400 kW at 70 % simultaneity, pf 0.92, efficiency 0.95 → about 3,200 kVA
    assert transformer_kva(10, 400.0) == pytest.approx(3200, rel=0.01)
    # one plug always at full power
    assert transformer_kva(1, 600.0) == pytest.approx(600 / (0.92 * 0.95))
    assert standard_kva(1700) == 2000 and standard_kva(3204) == 5000 and standard_kva(0) == 0


def test_size_hpc_peak_hour_and_headroom_warning():
    d = SizingDefaults()
    res, warns = size_hpc(400.0, d, headroom_kva=2000, site_id="p1")
    prof = np.asarray(d.arrival_profile)
    assert res["peak_arrivals_per_h"] == pytest.approx(400 * prof.max() / prof.sum())
    assert res["mean_session_min"] == pytest.approx(40 / 300 * 60 + 3)
    assert res["p_wait"] <= 0.10
    assert res["transformer_kva"] >= transformer_kva(res["plugs"], 600.0)
    assert any("exceeds the grid headroom 2000" in w for w in warns) == (res["transformer_kva"] > 2000)
    with pytest.raises(InputError, match="site p2"):
        size_hpc(float("nan"), d, site_id="p2")


def test_h2_kg_per_day_recomputed_from_flows():
    trucks = [10.0, 4.0, 0.0]
    km = [30.0, 55.5, 12.0]
    # per flow by hand: trucks × km × 2 legs × 9.1 kg / 100 km
    by_hand = (10 * 30 * 2 * 9.1 + 4 * 55.5 * 2 * 9.1) / 100
    assert h2_kg_per_day(trucks, km) == pytest.approx(by_hand)
    with pytest.raises(InputError, match="flow 2"):
        h2_kg_per_day([1.0, -1.0], [5.0, 5.0])


def test_size_h2_classes_storage_dispensers():
    small, w = size_h2(95.0)
    assert (small["h2_class_kg_day"], small["h2_storage_kg"], small["h2_dispensers"], small["h2_grade"]) == (500, 500, 1, 3)
    assert not w
    big, w = size_h2(2300.0, site_id="f9")
    # beyond 1,000 kg/d: 3 × 1,000; storage 3,000 kg → GB 50516 grade 2; 3,000 / 600 = 5 dispensers
    assert (big["h2_class_kg_day"], big["h2_storage_kg"], big["h2_dispensers"], big["h2_grade"]) == (3000, 3000, 5, 2)
    assert any("f9" in x and "beyond" in x for x in w)


def test_every_default_names_a_source():
    t = defaults_table()
    assert len(t) == len(DEFAULTS.__dataclass_fields__)
    assert all(("§" in s) or ("guess" in s) or ("issue 13" in s) for s in t.source)
    assert math.isclose(sum(DEFAULTS.arrival_profile), 1.0)
