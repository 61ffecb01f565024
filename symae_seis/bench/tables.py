"""Markdown of the benchmark results (:mod:`symae_seis.bench.results`): one section per
recorded run for the documentation's pages (:func:`render`) and the README's headline
quality table (:func:`headline`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .results import BENCHES, Result, ResultsError

__all__ = ["render", "render_result", "headline", "readme_with_headline", "QUALITY_COLUMNS"]

#: The README's markers around the headline table.
START, END = "<!-- headline:start -->", "<!-- headline:end -->"


def _table(header: list[str], rows: list[list[str]], right: int = 1) -> str:
    align = ["---"] * right + ["---:"] * (len(header) - right)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _fmt(v: Any, digits: int = 3) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if x != x:
        return ""
    return f"{x:.{digits}g}"


#: Quality columns: (zone, metric, heading).
QUALITY_COLUMNS = (
    ("outside", "gather", "gather outside (%)"),
    ("inside", "gather", "gather inside (%)"),
    ("outside", "live_trace", "live traces outside (%)"),
    ("inside", "rel_l2_4d", "4D error (rel. L2)"),
    ("inside", "overburden_shift_samples", "overburden shift (samples)"),
    ("all", "shift_samples", "residual shift (samples)"),
)


def _quality_tables(rows: list[dict[str, str]]) -> str:
    extra = (
        [
            k
            for k in rows[0]
            if k not in ("survey", "method", "zone", "metric", "value", "seed", "design_window_ms")
        ]
        if rows
        else []
    )
    groups: dict[tuple, dict] = {}
    for r in rows:
        key = (*(r[k] for k in extra), r["survey"], r.get("seed", ""))
        groups.setdefault(key, {}).setdefault(r["method"], {})[(r["zone"], r["metric"])] = r[
            "value"
        ]
    parts = []
    for key, methods in groups.items():
        cols = [c for c in QUALITY_COLUMNS if any(c[:2] in v for v in methods.values())]
        title = ", ".join(f"{n}={v}" for n, v in zip([*extra, "survey", "seed"], key) if v)
        body = [[m, *(_fmt(v.get(c[:2])) for c in cols)] for m, v in methods.items()]
        parts.append(f"**{title}**\n\n" + _table(["method", *(c[2] for c in cols)], body))
        sym = methods.get("SymAE virtual", {})
        checks = {
            m: v
            for (z, m), v in sym.items()
            if m.startswith(("probe", "bag", "swap", "calib", "train", "recon"))
        }
        if checks:
            parts.append(
                "SymAE's checks: " + ", ".join(f"`{k}` {_fmt(v)}" for k, v in checks.items())
            )
    return "\n\n".join(parts)


def _passive_table(data: dict) -> str:
    rows = [
        [k, _fmt(v["rms"]), str(v.get("drop_day", "")), _fmt(v.get("cc"), 2)]
        for k, v in data.items()
        if isinstance(v, dict) and "rms" in v
    ]
    return _table(["method", "dv/v RMS error", "drop day", "mean cc"], rows)


def _floor_table(data: dict) -> str:
    keys = [
        k
        for k in ("anchor", "repeated", "windows_x4", "no_cross_terms", "repeated_no_cross_terms")
        if k in data["rms"]
    ]
    rows = [
        [
            k,
            _fmt(data["rms"][k]),
            "" if k == "anchor" else _fmt(data["rms"][k] / data["rms"]["anchor"], 2) + "x",
        ]
        for k in keys
    ]
    return f"{len(data['anchor'])} noise draws, RMS over them.\n\n" + _table(
        ["stacks", "anchor 1-day dv/v RMS", "ratio to the anchor"], rows
    )


def _infill_table(data: dict) -> str:
    methods = list(next(iter(data.values())))
    rows = [[sc, *(_fmt(r[m]["nrms"]) for m in methods)] for sc, r in data.items()]
    return "Median NRMS (%) on the removed traces with signal.\n\n" + _table(
        ["scenario", *methods], rows
    )


def render_result(r: Result, figure_uri: str | None = None) -> str:
    """The Markdown section of one result."""
    m = r.meta
    env = m.get("environment")
    env_line = (
        ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)
        if isinstance(env, dict)
        else str(env or "not recorded")
    )
    head = [
        f"### {m['date']} · {m['commit']} · {m['device']}"
        + (f" · {m['tag']}" if m.get("tag") else ""),
        "",
        f"`{m['command']}`",
        "",
        f"Folder: `benchmarks/results/{r.bench}/{r.path.name}/`; environment: {env_line}.",
    ]
    if m.get("note"):
        head += ["", m["note"]]
    body = ""
    data = r.json()
    rows = r.rows()
    if rows and {"method", "zone", "metric", "value"} <= set(rows[0]):
        body = _quality_tables(rows)
    elif rows:
        body = _table(list(rows[0]), [[_fmt(v) for v in row.values()] for row in rows])
    elif isinstance(data, dict) and r.bench == "passive_floor" and "rms" in data:
        body = _floor_table(data)
    elif isinstance(data, dict) and r.bench == "passive":
        body = _passive_table(data)
    elif isinstance(data, dict) and r.bench == "infill":
        body = _infill_table(data)
    if not body and r.file("log") is not None:
        log = r.file("log").read_text().rstrip()
        body = "```text\n" + log[-6000:] + "\n```"
    out = "\n".join(head) + "\n\n" + body
    if figure_uri:
        out += f"\n\n![{r.bench} {r.path.name}]({figure_uri})"
    return out + "\n"


def render(bench: str, results: list[Result], figure_uris: dict[Path, str] | None = None) -> str:
    """The documentation page of ``bench``: every recorded result, newest first."""
    own = [r for r in results if r.bench == bench]
    lines = [
        f"# {BENCHES.get(bench, bench)}",
        "",
        "Generated from `benchmarks/results/" + bench + "/` by "
        "`symae_seis.bench.results` when the documentation is built; each section is "
        "one recorded run (command, commit, device, environment). Record a run with "
        "`python scripts/bench/record.py`.",
        "",
    ]
    if not own:
        lines.append("No result recorded yet.")
    for r in own:
        lines.append(render_result(r, (figure_uris or {}).get(r.path)))
    return "\n".join(lines)


def headline(results: list[Result]) -> str:
    """The README's quality table: SymAE against the strongest conventional method, from
    the newest CPU result of every survey (whole-gather NRMS, 4D error)."""
    newest: dict[str, tuple[Result, dict]] = {}
    for r in results:
        first = r.rows()[0] if r.rows() else {}
        if (
            r.bench != "quality"
            or r.meta["device"] != "cpu"
            or "value" not in first
            or "nuisance_view" in first
            or r.meta.get("tag", "") not in ("", "all", *{row["survey"] for row in r.rows()})
        ):
            continue  # variants (epochs, options) are not the headline
        by: dict[tuple, dict] = {}
        for row in r.rows():
            by.setdefault((row["survey"], row["method"]), {})[(row["zone"], row["metric"])] = float(
                row["value"]
            )
        for (survey, method), vals in by.items():
            if method == "SymAE virtual" and ("outside", "gather") in vals:
                old = newest.get(survey)
                if old is None or r.meta["date"] > old[0].meta["date"]:
                    newest[survey] = (r, {m: v for (s, m), v in by.items() if s == survey})
    rows = []
    for survey in sorted(newest):
        r, methods = newest[survey]
        conv = {m: v for m, v in methods.items() if m.startswith("(")}
        best = min(conv, key=lambda m: conv[m].get(("outside", "gather"), float("inf")))
        ours = methods["SymAE virtual"]
        decoder = methods.get("SymAE residual_decoder", {})
        rows.append(
            [
                survey,
                _fmt(ours[("outside", "gather")], 3),
                _fmt(ours[("inside", "gather")], 3),
                best,
                _fmt(conv[best][("outside", "gather")], 3),
                _fmt(conv[best][("inside", "gather")], 3),
                _fmt(ours.get(("inside", "rel_l2_4d")), 2),
                _fmt(decoder.get(("inside", "rel_l2_4d"), float("nan")), 2),
                f"{r.meta['date']}, {r.meta['commit']}",
            ]
        )
    return _table(
        [
            "survey",
            "SymAE outside (%)",
            "SymAE inside (%)",
            "best conventional method",
            "its outside (%)",
            "its inside (%)",
            "SymAE 4D error",
            "its residual_decoder's",
            "run",
        ],
        rows,
    )


def readme_with_headline(text: str, table: str) -> str:
    """``text`` (the README) with the table between the headline markers replaced."""
    if START not in text or END not in text:
        raise ResultsError(f"README has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"
