"""``gemgate ingest``, ``search`` and ``stores`` on a SQLite file, embeddings by the emulator.

The commands run in process with typer's runner, with no key, so the CLI picks the
built-in emulator as ``gemgate serve`` does; ``GEMGATE_STORES_URL`` names a fresh file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gemgate.cli import app
from gemgate.console._stores import snippet

WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("GEMGATE_", "GEMINI_API_KEY", "GOOGLE_API_KEY")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEMGATE_STORES_URL", f"sqlite:///{tmp_path / 'stores.db'}")
    return tmp_path


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "refunds.txt").write_text(
        "Refunds are paid back to the original card within fourteen days of the return."
    )
    (folder / "shipping.md").write_text(
        "# Shipping\n\nParcels to Europe travel by road and arrive in five working days."
    )
    (folder / "payroll.html").write_text(
        "<html><body><p>Salaries are transferred on the last Friday of each month.</p>"
        "</body></html>"
    )
    (folder / "image.bin").write_bytes(b"\x00\x01\x02 not a document")
    return folder


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=WIDE)


def summary(output: str) -> dict[str, int]:
    return {
        name: int(found.group(1))
        for name in ("added", "unchanged", "failed")
        if (found := re.search(rf"^{name}\s+(\d+)", output, re.MULTILINE))
    }


def test_ingest_a_directory_then_again_finds_it_unchanged(docs: Path) -> None:
    first = invoke("ingest", str(docs), "--store", "handbook")
    assert first.exit_code == 0, first.output
    assert summary(first.stdout) == {"added": 3, "unchanged": 0, "failed": 1}
    assert "store handbook (store_" in first.stdout
    assert "3 documents, 3 chunks" in first.stdout
    assert re.search(r"^3 chunks in [\d.]+ s \([\d,.]+ chunks/s\)$", first.stdout, re.MULTILINE)
    assert f"  {docs / 'image.bin'}: unsupported extension .bin" in first.stdout
    assert "emulator" in first.stderr

    again = invoke("ingest", str(docs), "--store", "handbook")
    assert again.exit_code == 0, again.output
    assert summary(again.stdout) == {"added": 0, "unchanged": 3, "failed": 1}
    assert "3 documents, 3 chunks" in again.stdout


def test_a_changed_file_is_added_in_place_of_the_old_one(docs: Path) -> None:
    assert invoke("ingest", str(docs / "refunds.txt"), "-s", "h").exit_code == 0
    (docs / "refunds.txt").write_text("Refunds now take thirty days.")
    result = invoke("ingest", str(docs / "refunds.txt"), "-s", "h")
    assert result.exit_code == 0, result.output
    assert summary(result.stdout) == {"added": 1, "unchanged": 0, "failed": 0}
    assert "1 documents, 1 chunks" in result.stdout


def test_only_failures_exit_1(docs: Path) -> None:
    result = invoke("ingest", str(docs / "image.bin"), "--store", "handbook")
    assert result.exit_code == 1
    assert summary(result.stdout) == {"added": 0, "unchanged": 0, "failed": 1}


def test_a_missing_path_is_one_line_and_ingests_nothing(docs: Path) -> None:
    result = invoke("ingest", str(docs), "nowhere.pdf", "--store", "handbook")
    assert result.exit_code == 2
    assert result.stderr == "gemgate: nowhere.pdf: no such file or directory\n"
    assert "no stores" in invoke("stores").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "team"], "gemgate: --metadata takes key=value, not 'team'\n"),
        (["--max-tokens", "0"], "gemgate: Chunking.max_tokens must be an integer from 1"),
        (["--max-tokens", "100", "--overlap", "60"], "gemgate: Chunking.overlap must be"),
    ],
)
def test_bad_options_are_usage_errors(docs: Path, args: list[str], message: str) -> None:
    result = invoke("ingest", str(docs), "--store", "handbook", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_store_option_is_required(docs: Path) -> None:
    assert invoke("ingest", str(docs)).exit_code == 2


def test_a_missing_config_file_is_a_usage_error(docs: Path) -> None:
    result = invoke("ingest", str(docs), "-s", "h", "--config", "absent.toml")
    assert result.exit_code == 2
    assert result.stderr == "gemgate: absent.toml: no such file\n"


def test_search_prints_ranked_hits_with_a_one_line_snippet(docs: Path) -> None:
    assert invoke("ingest", str(docs), "-s", "handbook").exit_code == 0
    result = invoke("search", "--store", "handbook", "when are salaries transferred", "-k", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        r" 1\. \d\.\d{4}  payroll\.html  -  Salaries are transferred on the last Friday of each "
        r"month\.",
        lines[0],
    ), lines[0]
    assert lines[1].startswith(" 2. ")


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "vector"])
def test_search_json_in_each_mode(docs: Path, mode: str) -> None:
    assert invoke("ingest", str(docs), "-s", "handbook", "-m", "team=support").exit_code == 0
    result = invoke("search", "-s", "handbook", "refunds card", "--mode", mode, "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["rank"] == 1
    assert hits[0]["document"]["name"] == "refunds.txt"
    assert hits[0]["document"]["metadata"] == {"team": "support"}
    assert hits[0]["chunk"]["text"].startswith("Refunds are paid back")
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    if mode == "keyword":
        assert hits[0]["keyword_rank"] == 1 and hits[0]["vector_rank"] is None
    if mode == "hybrid":
        assert hits[0]["keyword_rank"] == 1 and hits[0]["vector_rank"] is not None


def test_search_filters_on_metadata(docs: Path) -> None:
    assert invoke("ingest", str(docs / "refunds.txt"), "-s", "h", "-m", "lang=en").exit_code == 0
    assert invoke("ingest", str(docs / "shipping.md"), "-s", "h", "-m", "lang=de").exit_code == 0
    result = invoke("search", "-s", "h", "refunds shipping", "--filter", "lang=de", "--json")
    assert result.exit_code == 0, result.output
    assert [h["document"]["name"] for h in json.loads(result.stdout)] == ["shipping.md"]


def test_searching_an_unknown_store_is_one_line_exit_1() -> None:
    result = invoke("search", "--store", "nope", "anything")
    assert result.exit_code == 1
    assert result.stderr == "gemgate: no store called 'nope' (gemgate stores lists them)\n"


def test_search_usage_errors(docs: Path) -> None:
    assert invoke("ingest", str(docs), "-s", "handbook").exit_code == 0
    bad_mode = invoke("search", "-s", "handbook", "refunds", "--mode", "fuzzy")
    assert bad_mode.exit_code == 2
    assert "--mode must be hybrid, keyword or vector" in bad_mode.stderr
    assert invoke("search", "-s", "handbook", "refunds", "-k", "0").exit_code == 2
    empty = invoke("search", "-s", "handbook", "   ")
    assert empty.exit_code == 2
    assert empty.stderr == "gemgate: the search query is empty\n"


def test_stores_lists_names_and_counts(docs: Path) -> None:
    assert invoke("stores").stdout == "no stores\n"
    assert invoke("ingest", str(docs), "-s", "handbook").exit_code == 0
    assert invoke("ingest", str(docs / "refunds.txt"), "-s", "refunds").exit_code == 0
    text = invoke("stores").stdout
    assert re.search(
        r"^handbook  store_\w+  3 documents  3 chunks  emulator/gemini-embedding", text, re.M
    )
    assert re.search(r"^refunds  store_\w+  1 documents  1 chunks  ", text, re.M)
    listed = json.loads(invoke("stores", "--json").stdout)
    assert {s["name"]: s["chunks"] for s in listed} == {"handbook": 3, "refunds": 1}


def test_snippet_is_one_line_and_cut() -> None:
    assert snippet("a\n\n  b\tc") == "a b c"
    cut = snippet("word " * 50, width=20)
    assert len(cut) == 20 and cut.endswith("…") and "\n" not in cut
