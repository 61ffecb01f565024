from pathlib import Path

import pytest

from symae_seis.catalog import CatalogError, load_catalog

from ..conftest import assert_message, write_catalog


def test_repo_catalog_is_valid():
    cat = load_catalog(Path(__file__).resolve().parents[2] / "data_catalog.yaml")
    assert "demo4d" in cat
    demo = cat["demo4d"]
    assert demo.instance_key == "FieldRecord"
    assert demo.channel_key == "offset"
    assert demo.datapoint_key == ("CDP",)
    assert demo.store.name == "demo4d.h5" and demo.store.is_absolute()


def test_relative_paths_resolve_against_catalog(tmp_path):
    (tmp_path / "a.sgy").write_bytes(b"x")
    cat = load_catalog(write_catalog(tmp_path, {"d": {"surveys": {"base": "a.sgy"}}}))
    assert cat["d"].survey_files() == {"base": [tmp_path / "a.sgy"]}
    assert cat["d"].store == tmp_path / "stores" / "d.h5"


def test_globs_expand_sorted(tmp_path):
    for n in ("b.sgy", "a.sgy"):
        (tmp_path / n).write_bytes(b"x")
    cat = load_catalog(write_catalog(tmp_path, {"d": {"surveys": {"s": "*.sgy"}}}))
    assert [p.name for p in cat["d"].survey_files()["s"]] == ["a.sgy", "b.sgy"]


@pytest.mark.parametrize(
    "raw, parts",
    [
        (
            {"surveys": {"s": "a.sgy"}, "instance_kye": "FieldRecord"},
            ["'d'", "unknown key 'instance_kye'", "did you mean 'instance_key'"],
        ),
        (
            {"surveys": {"s": "a.sgy"}, "channel_key": "ofset"},
            ["channel_key", "'ofset' is not a SEG-Y trace header field", "'offset'"],
        ),
        (
            {"surveys": {"s": "a.sgy"}, "datapoint_key": ["CDP", 3]},
            ["datapoint_key: 3 is not a SEG-Y trace header field", "first byte"],
        ),
        (
            {"surveys": {"s": "a.sgy"}, "datapoint_key": ["CDP", 2.5]},
            ["datapoint_key must be a SEG-Y header field name"],
        ),
        ({"surveys": ["a.sgy"]}, ["surveys must be a mapping"]),
        ({"instance_key": "FieldRecord"}, ["missing required key 'surveys'"]),
        ({"surveys": {"s": "a.sgy"}, "window_ms": [100, 50]}, ["window_ms"]),
        ({"surveys": {"s": "a.sgy"}, "unequal_gathers": "drop"}, ["unequal_gathers", "pad"]),
        ({"surveys": {"s": "a.sgy"}, "format": "segd"}, ["format must be one of"]),
        ({"format": "mseed", "surveys": {"s": "a.mseed"}}, ["window_s"]),
        (
            {"format": "mseed", "surveys": {"s": "a.mseed"}, "window_s": -1},
            ["window_s", "positive"],
        ),
        ({"format": "mseed", "surveys": {"s": "a.mseed"}, "window_s": 5, "gaps": "fill"}, ["gaps"]),
        ({"surveys": {"s": "a.sgy"}, "datapoint_bin": {"SourceX": 0}}, ["datapoint_bin"]),
    ],
)
def test_bad_entries_name_dataset_and_problem(tmp_path, raw, parts):
    path = write_catalog(tmp_path, {"d": raw})
    with pytest.raises(CatalogError) as err:
        load_catalog(path, strict=True)
    assert_message(err, str(path), *parts)


def test_missing_file_and_empty_glob(tmp_path):
    cat = load_catalog(
        write_catalog(
            tmp_path,
            {
                "miss": {"surveys": {"base": "nope.sgy"}},
                "glob": {"surveys": {"base": "none_*.sgy"}},
            },
        )
    )
    with pytest.raises(CatalogError) as err:
        cat["miss"].survey_files()
    assert_message(err, "'miss'", "survey 'base'", "nope.sgy", "does not exist")
    with pytest.raises(CatalogError) as err:
        cat["glob"].survey_files()
    assert_message(err, "'glob'", "none_*.sgy", "matches no file")


def test_unknown_dataset_suggests(tmp_path):
    cat = load_catalog(write_catalog(tmp_path, {"demo4d": {"surveys": {"s": "a.sgy"}}}))
    with pytest.raises(CatalogError) as err:
        cat["demo4"]
    assert_message(err, "no dataset named 'demo4'", "did you mean 'demo4d'")


def test_invalid_yaml_and_missing_catalog(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("datasets: {d: [unclosed\n")
    with pytest.raises(CatalogError) as err:
        load_catalog(p)
    assert_message(err, str(p), "not valid YAML")
    with pytest.raises(FileNotFoundError):
        load_catalog(tmp_path / "absent.yaml")
    p.write_text("dataset: {}\n")
    with pytest.raises(CatalogError) as err:
        load_catalog(p)
    assert_message(err, "datasets")


def test_one_bad_entry_blocks_only_itself(tmp_path):
    """A malformed entry is reported when it is the one asked for; the others load."""
    path = write_catalog(
        tmp_path,
        {
            "good": {"surveys": {"s": "a.sgy"}},
            "bad": {"surveys": {"s": "a.sgy"}, "channel_key": "ofset"},
        },
    )
    cat = load_catalog(path)
    assert cat["good"].channel_key == "offset"
    with pytest.raises(CatalogError) as err:
        cat["bad"]
    assert_message(err, str(path), "'bad'", "ofset", "did you mean 'offset'")
    with pytest.raises(CatalogError) as err:
        cat["bda"]
    assert_message(err, "no dataset named 'bda'", "did you mean 'bad'")
    with pytest.raises(CatalogError):
        load_catalog(path, strict=True)
