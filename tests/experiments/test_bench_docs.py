"""docs/benchmarks.md's results and the README's speed table come from one bench JSON."""

import json

import pytest

from experiments.bench import docs
from experiments.bench.core import Record
from experiments.bench.report import add_ratios


def _payload():
    records = [
        Record("W1 ucb1", "driftsim", 100, 10_000, steps_per_s=8.0e6, regret=344.0),
        Record("W1 ucb1", "numpy loop", 5, 10_000, steps_per_s=2.5e5, regret=363.0),
        Record("W1 ucb1", "numpy vectorized", 100, 10_000, steps_per_s=6.4e6, regret=353.0),
        Record("W1 ucb1", "River", 1, 10_000, steps_per_s=1.0e5, regret=345.0),
        Record("runner ucb1", "driftsim", 100, 10_000, steps_per_s=2.0e7, regret=344.0),
        Record("runner ucb1", "hand-written scan", 100, 10_000, steps_per_s=4.0e7, regret=361.0),
        Record("equal work ucb1 256 runs", "experiments.run", 256, 16_384, seconds=5.0),
        Record("equal work ucb1 65,536 runs", "experiments.run", 65_536, 64, seconds=6.0),
        Record("W9 something new", "driftsim", 1, 1, steps_per_s=1.0),
    ]
    add_ratios(records)
    return {
        "git_revision": "abc1234",
        "repeats": 3,
        "seconds": 1234.0,
        "peak_memory_mib": 2048.0,
        "machine": {"cpu_model": "Test CPU", "cpu_count": 2, "jax_backend": "cpu"},
        "versions": {"jax": "0.10.2"},
        "records": [r.to_dict() for r in records],
        "scaling": [
            {
                "study": "runs",
                "workload": "W1 ucb1",
                "variant": "vmap",
                "x": 16,
                "runs": 16,
                "steps": 1000,
                "steps_per_s": 5.0e6,
                "compile_s": 0.5,
                "state_mib": 0.01,
                "program_mib": 0.2,
                "peak_memory_mib": 500.0,
            },
        ],
    }


def _documents():
    docs_text = "# Bench\n\nprose\n\n<!-- bench:results:begin (x) -->\nold\n<!-- bench:results:end -->\n\nmore prose\n"
    readme_text = "# R\n\n<!-- bench:speed:begin (x) -->\n| old |\n<!-- bench:speed:end -->\ntail\n"
    return docs_text, readme_text


def test_blocks_hold_every_record_and_the_ratios_of_the_same_run():
    new_docs, new_readme = docs.render(_payload(), *_documents())
    assert new_docs.startswith("# Bench\n\nprose\n\n<!-- bench:results:begin")
    assert new_docs.endswith("<!-- bench:results:end -->\n\nmore prose\n")
    assert "old" not in new_docs and "| old |" not in new_readme
    assert "`abc1234`" in new_docs and "1,234 s in all" in new_docs
    assert "### W1 UCB1" in new_docs and "### Other records" in new_docs  # W9 is not lost
    assert "| W9 something new | driftsim |" in new_docs
    assert (
        "| runs | W1 ucb1 | vmap | 16 | 16 | 1,000 | 5,000,000 | 0.50 | 0.01 | 0.20 |" in new_docs
    )
    assert "### Targets" in new_docs and "make_run UCB1 vs hand-written scan" in new_docs
    # README: 8.0M steps/s, 32x the loop (8e6 / 2.5e5), 1.25x vectorised, 80x River
    row = next(line for line in new_readme.splitlines() if line.startswith("| W1 UCB1"))
    assert row == "| W1 UCB1, 10 arms, 100 runs × 10,000 | 8M | 32 | 1.25 | 80 (River) |"
    assert "ucb1 0.50×" in new_readme
    assert new_readme.endswith("<!-- bench:speed:end -->\ntail\n")


def test_rendering_twice_changes_nothing():
    once = docs.render(_payload(), *_documents())
    assert docs.render(_payload(), *once) == once


def test_a_document_without_its_markers_is_refused():
    with pytest.raises(ValueError, match="no block 'results'"):
        docs.replace_block("no markers here", "results", "body")


def test_main_writes_then_check_passes(tmp_path, monkeypatch):
    docs_text, readme_text = _documents()
    (tmp_path / "benchmarks.md").write_text(docs_text)
    (tmp_path / "README.md").write_text(readme_text)
    (tmp_path / "bench.json").write_text(json.dumps(_payload()))
    monkeypatch.setattr(docs, "DOCS", tmp_path / "benchmarks.md")
    monkeypatch.setattr(docs, "README", tmp_path / "README.md")
    bench_json = str(tmp_path / "bench.json")
    assert docs.main([bench_json, "--check"]) == 1
    assert docs.main([bench_json]) == 0
    assert docs.main([bench_json, "--check"]) == 0
    assert "| W1 UCB1, 10 arms" in (tmp_path / "README.md").read_text()


def test_the_repository_documents_are_in_step_with_docs_bench_json():
    # docs/benchmarks.md's results and the README's speed table are the run in docs/bench.json
    bench_json = docs.ROOT / "docs" / "bench.json"
    assert docs.main([str(bench_json), "--check"]) == 0


def test_a_file_that_is_not_a_bench_json_is_refused_by_name(tmp_path, capsys):
    missing = tmp_path / "missing.json"
    with pytest.raises(SystemExit):
        docs.main([str(missing)])
    assert "missing.json: cannot read it as JSON" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text('{"rows": []}')
    with pytest.raises(SystemExit):
        docs.main([str(other)])
    assert "no 'records' list" in capsys.readouterr().err
