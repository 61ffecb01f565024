"""The store's signature ripple and the model options it sets (bubble trains get the
minimum-phase signature terms, other surveys keep the smooth family)."""

from __future__ import annotations

import json
import shutil

import h5py
import pytest

from symae_seis.bench.surveys import make_survey, survey_catalog
from symae_seis.catalog import load_catalog
from symae_seis.ingest import build_store
from symae_seis.io import StoreReader
from symae_seis.models import SymAE, SymAEConfig
from symae_seis.models.config import FILTER_TERMS, RIPPLE_FROM
from symae_seis.synth.zoo import draw_zoo


@pytest.fixture(scope="module")
def zoo_stores(tmp_path_factory):
    """Small stores of a bubble draw (zoo2) and of a Ricker one (zoo5), written as SEG-Y
    and ingested through the catalog."""
    assert draw_zoo(2).wavelet == "bubble" and draw_zoo(5).wavelet == "ricker"
    out = {}
    for kind in ("zoo2", "zoo5"):
        folder = tmp_path_factory.mktemp(kind)
        paths = make_survey(kind, folder, small=True, seed=0)
        out[kind] = build_store(load_catalog(survey_catalog(folder, kind, paths))[kind])
    return out


def test_bubble_trains_ripple_and_smooth_signatures_do_not(zoo_stores):
    with StoreReader(zoo_stores["zoo2"]) as r:
        bubble = r.schema["signature_ripple"]
    with StoreReader(zoo_stores["zoo5"]) as r:
        smooth = r.schema["signature_ripple"]
    assert bubble >= 1.5 * RIPPLE_FROM, bubble
    assert smooth <= 0.5 * RIPPLE_FROM, smooth


def test_ripple_sets_the_signature_terms(zoo_stores):
    with StoreReader(zoo_stores["zoo2"]) as r:
        n, c, t = r.shape
        bubble = SymAE(c, t, width=4, hidden=8, schema=r.schema).config
    assert bubble["min_phase"] is True
    assert bubble["filter_terms"] == min(FILTER_TERMS[1], t)
    with StoreReader(zoo_stores["zoo5"]) as r:
        n, c, t = r.shape
        smooth = SymAE(c, t, width=4, hidden=8, schema=r.schema).config
    assert smooth["min_phase"] is False and smooth["filter_terms"] == FILTER_TERMS[0]
    # what the user says wins over the rule
    forced = SymAEConfig(min_phase=False).resolve(c, t, schema={"signature_ripple": 1.0})
    assert forced["min_phase"] is False and forced["filter_terms"] == FILTER_TERMS[0]
    custom = SymAEConfig(filter_terms=12).resolve(c, t, schema={"signature_ripple": 1.0})
    assert custom["min_phase"] is True and custom["filter_terms"] == 12
    # miniSEED stores have no time terms, hence no minimum-phase terms, whatever the ripple
    mseed = SymAEConfig().resolve(c, t, schema={"channel_key": "", "signature_ripple": 1.0})
    assert mseed["min_phase"] is False


def test_stores_built_before_the_entry_get_it_measured(zoo_stores, tmp_path):
    old = tmp_path / "old.h5"
    shutil.copy(zoo_stores["zoo2"], old)
    with h5py.File(old, "r+") as h5:
        schema = json.loads(h5.attrs["model_schema"])
        expected = schema.pop("signature_ripple")
        h5.attrs["model_schema"] = json.dumps(schema)
    with StoreReader(old) as r:
        assert r.schema["signature_ripple"] == expected
