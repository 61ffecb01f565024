"""The zoo benchmark's distribution: SymAE against the best conventional method per draw
(the best over every method, zone by zone), and the printed target line."""

from __future__ import annotations

import pytest

from symae_seis.bench.zoo import choose_by_reconstruction, zoo_ratios, zoo_summary


def _rows(draw: str, symae: tuple, conv: dict) -> list[dict]:
    rows = []
    for method, (out, ins, d4) in {"SymAE virtual": symae, **conv}.items():
        for zone, metric, value in (
            ("outside", "gather", out),
            ("inside", "gather", ins),
            ("inside", "rel_l2_4d", d4),
        ):
            rows.append(
                {"survey": draw, "method": method, "zone": zone, "metric": metric, "value": value}
            )
    for part, value in (("recon_gather", 8.0), ("recon_q4", 20.0), ("recon_late", 10.0)):
        rows.append(
            {
                "survey": draw,
                "method": "SymAE virtual",
                "zone": "all",
                "metric": part,
                "value": value,
            }
        )
    return rows


def test_ratios_against_the_best_method_zone_by_zone():
    rows = _rows(
        "zoo0", (5.0, 6.0, 0.2), {"(a) static": (20.0, 12.0, 2.0), "(e) whole": (10.0, 30.0, 0.5)}
    )
    rows += _rows("zoo1", (9.0, 9.0, 0.9), {"(e) whole": (10.0, 10.0, 1.0)})
    rows.append(
        {
            "survey": "conv4d",
            "method": "SymAE virtual",
            "zone": "outside",
            "metric": "gather",
            "value": 1.0,
        }
    )  # not a zoo draw: left out
    r0, r1 = zoo_ratios(rows)
    assert (r0["outside"], r0["inside"], r0["d4"]) == (0.5, 0.5, 0.4)
    assert r0["best_outside_method"] == "(e) whole" and r0["best_inside_method"] == "(a) static"
    assert r0["recon"] == 8.0 and r0["recon_far"] == 20.0
    text = zoo_summary(rows)
    assert text.splitlines()[-1] == (
        "zoo_outside_ratio_median=0.700 zoo_outside_ratio_worst=0.900 zoo_d4_ratio_worst=0.900"
    )
    assert r1["d4"] == pytest.approx(0.9)


def _with_recon(rows: list[dict], value: float) -> list[dict]:
    return [{**r, "value": value} if r["metric"] == "recon_gather" else r for r in rows]


def test_the_family_that_reconstructs_best_is_kept_per_draw():
    conv = {"(e) whole": (10.0, 10.0, 1.0)}
    shipped = _with_recon(_rows("zoo0", (9.0, 9.0, 0.9), conv), 8.0)
    shipped += _with_recon(_rows("zoo1", (3.0, 3.0, 0.2), conv), 2.0)
    shipped += _with_recon(_rows("zoo2", (4.0, 4.0, 0.3), conv), 5.0)
    warp = _with_recon(_rows("zoo0", (3.0, 3.0, 0.2), conv), 2.8)
    warp += _with_recon(_rows("zoo1", (8.0, 8.0, 0.7), conv), 7.8)
    warp += _with_recon(_rows("zoo2", (6.0, 6.0, 0.5), conv), 5.0)  # a tie: the first label
    rows, chosen = choose_by_reconstruction({"shipped": shipped, "warp": warp})
    assert chosen == {"zoo0": "warp", "zoo1": "shipped", "zoo2": "shipped"}
    ratios = {r["draw"]: r for r in zoo_ratios(rows)}
    assert ratios["zoo0"]["outside"] == pytest.approx(0.3)
    assert ratios["zoo1"]["outside"] == pytest.approx(0.3)
    assert ratios["zoo2"]["outside"] == pytest.approx(0.4)
    assert len(rows) == len(shipped)  # one run's rows per draw


def test_the_decoder_cancelled_residual_is_scored_where_the_run_has_it():
    conv = {"(e) whole": (10.0, 10.0, 1.0)}
    rows = _rows("zoo0", (5.0, 5.0, 0.8), conv) + _rows("zoo1", (5.0, 5.0, 0.6), conv)
    rows.append(
        {
            "survey": "zoo0",
            "method": "SymAE residual_decoder",
            "zone": "inside",
            "metric": "rel_l2_4d",
            "value": 0.3,
        }
    )  # zoo1's run predates the row: its virtual - baseline stands
    r0, r1 = zoo_ratios(rows)
    assert (r0["d4"], r0["d4_virtual"]) == (pytest.approx(0.3), pytest.approx(0.8))
    assert r1["d4"] == r1["d4_virtual"] == pytest.approx(0.6)
    text = zoo_summary(rows).splitlines()
    assert text[-1].endswith("zoo_d4_ratio_worst=0.600")
    assert text[2].startswith("zoo1") and "0.60*" in text[2]  # marked: another metric
    assert "0.30 " in text[1] and "*" not in text[1]
