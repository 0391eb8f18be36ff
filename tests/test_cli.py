"""The command line: exit codes, what goes to stdout and stderr, and no half-built packs.

Bad-input cases run in-process through ``reviewkit.cli.app`` (fast) and, where the real process
matters (no traceback, the console script, ``python -m``), in a child process.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest_build import (
    DEMO_LABEL,
    DEMO_PARAMS,
    BuiltPack,
    Rebuild,
    copy_demo_inputs,
    run_cli,
    staging_leftovers,
)

from reviewkit.cli.app import main

pytest_plugins = ["conftest_build"]


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No debug tracebacks; and in-process ``build`` leaves ``sys.modules`` as it found it."""
    monkeypatch.delenv("REVIEWKIT_DEBUG", raising=False)
    monkeypatch.setenv("REVIEWKIT_NO_SPEEDUPS", "1")


@dataclasses.dataclass(frozen=True)
class Inputs:
    """A private copy of the demo inputs, laid out like the repository (params/, data/demo/)."""

    params: Path
    catalog: Path
    measurements: Path


@pytest.fixture
def inputs(tmp_path: Path) -> Inputs:
    params = copy_demo_inputs(tmp_path / "inputs")
    data = params.parent.parent / "data" / "demo"
    return Inputs(params, data / "kpis.yaml", data / "measurements.csv")


def _replace_line(path: Path, find: Callable[[str], bool], new: Callable[[str], str]) -> int:
    """Rewrite the first line for which ``find`` is true; return its 1-based number."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if find(line):
            lines[index] = new(line)
            path.write_text("".join(lines), encoding="utf-8")
            return index + 1
    raise AssertionError(f"no matching line in {path}")


@dataclasses.dataclass(frozen=True)
class Expected:
    """What the one-line error must name: the file and the field and/or line."""

    file: str
    mentions: tuple[str, ...]


def _unknown_params_key(inputs: Inputs) -> Expected:
    line = len(inputs.params.read_text(encoding="utf-8").splitlines()) + 1
    with inputs.params.open("a", encoding="utf-8") as handle:
        handle.write("titel: Weekly pack\n")
    return Expected("weekly.yaml", ("'titel'", f"line {line}", "did you mean 'title'"))


def _missing_catalog_file(inputs: Inputs) -> Expected:
    inputs.catalog.unlink()
    return Expected("weekly.yaml", ("'catalog'", "kpis.yaml"))


def _catalog_amber_wrong_side(inputs: Inputs) -> Expected:
    # change_success_rate is higher_is_better with target 95: amber 97 is on the good side.
    line = _replace_line(
        inputs.catalog, lambda text: text.strip() == "amber: 90",
        lambda text: text.replace("90", "97"),
    )
    return Expected("kpis.yaml", (f"line {line}", "'amber'", "change_success_rate"))


def _measurement_not_a_number(inputs: Inputs) -> Expected:
    line = _replace_line(
        inputs.measurements, lambda text: text.startswith("ehr_availability,2026-"),
        lambda text: text.replace(",99.", ",ninety-nine.", 1),
    )
    return Expected("measurements.csv", (f"line {line}", "'value'"))


BAD_INPUTS: dict[str, Callable[[Inputs], Expected]] = {
    "unknown_params_key": _unknown_params_key,
    "missing_catalog_file": _missing_catalog_file,
    "catalog_amber_wrong_side": _catalog_amber_wrong_side,
    "measurement_not_a_number": _measurement_not_a_number,
}


def _assert_one_line_error(stderr: str, expected: Expected) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("reviewkit: error: ")
    assert expected.file in lines[0]
    for mention in expected.mentions:
        assert mention in lines[0]


def _assert_no_pack_left(out: Path) -> None:
    assert not (out / "weekly" / DEMO_LABEL).exists()
    assert staging_leftovers(out) == []


# --- build success: the shared demo build (first, so the follow-up builds start early) ------


def test_build_quiet_prints_only_the_pdf_path(demo_pack: BuiltPack) -> None:
    assert demo_pack.returncode == 0
    assert demo_pack.stdout.splitlines() == [str(demo_pack.folder / "pack.pdf")]


def test_build_quiet_prints_nothing_to_stderr(demo_pack: BuiltPack) -> None:
    assert demo_pack.stderr == ""


# --- validate -------------------------------------------------------------------------------


def test_validate_demo_exits_0_and_reports_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--params", str(DEMO_PARAMS)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ok: weekly.yaml")
    assert "16 KPIs" in captured.out
    assert captured.err == ""


def test_validate_demo_exits_0_via_python_m() -> None:
    proc = run_cli(["validate", "--params", DEMO_PARAMS], module=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: ")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_validate_bad_input_exits_2_with_one_line_naming_file_and_place(
    case: str, inputs: Inputs, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = BAD_INPUTS[case](inputs)
    assert main(["validate", "--params", str(inputs.params)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_one_line_error(captured.err, expected)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_validate_bad_input_in_a_real_process_has_no_traceback(case: str, inputs: Inputs) -> None:
    expected = BAD_INPUTS[case](inputs)
    proc = run_cli(["validate", "--params", inputs.params])
    assert proc.returncode == 2
    assert proc.stdout == ""
    _assert_one_line_error(proc.stderr, expected)


# --- build with bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_build_bad_input_exits_2_and_leaves_no_pack(
    case: str, inputs: Inputs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = BAD_INPUTS[case](inputs)
    out = tmp_path / "out"
    code = main(["build", "weekly", "--params", str(inputs.params), "--out", str(out), "-q"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_one_line_error(captured.err, expected)
    _assert_no_pack_left(out)


def test_build_bad_input_in_a_real_process_exits_2_and_leaves_no_pack(
    inputs: Inputs, tmp_path: Path
) -> None:
    expected = _measurement_not_a_number(inputs)
    out = tmp_path / "out"
    proc = run_cli(["build", "weekly", "--params", inputs.params, "--out", out])
    assert proc.returncode == 2
    assert proc.stdout == ""
    # Progress may precede the error when not quiet; the error itself is the one last line.
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    _assert_one_line_error(errors[-1] if errors else "", expected)
    assert "Traceback" not in proc.stderr
    _assert_no_pack_left(out)


def test_build_unusable_out_folder_exits_2_with_one_line_and_no_traceback(
    inputs: Inputs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    out = blocker / "out"
    code = main(["build", "weekly", "--params", str(inputs.params), "--out", str(out), "-q"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_one_line_error(captured.err, Expected(str(out / "weekly"), ("--out",)))
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"


@pytest.mark.parametrize("period", ["2026-13-45", "last friday", "20/11/2026"])
def test_build_bad_period_exits_2_naming_the_option(
    period: str, inputs: Inputs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["build", "weekly", "--params", str(inputs.params), "--period", period,
            "--out", str(out), "-q"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_one_line_error(captured.err, Expected("--period", (repr(period), "YYYY-MM-DD")))
    _assert_no_pack_left(out)


def test_build_bad_period_in_a_real_process_has_no_traceback(
    inputs: Inputs, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = run_cli(["build", "weekly", "--params", inputs.params, "--period", "2026-02-30",
                    "--out", out, "-q"])
    assert proc.returncode == 2
    _assert_one_line_error(proc.stderr, Expected("--period", ("'2026-02-30'",)))
    _assert_no_pack_left(out)


def test_build_unknown_cadence_is_one_usage_line_exit_2_with_a_suggestion(
    inputs: Inputs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["build", "montly", "--params", str(inputs.params), "--out", str(out)])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("reviewkit: error: unknown cadence 'montly' (did you mean "
                            "'monthly'?); use one of weekly, monthly, quarterly\n")
    assert not out.exists()


def test_build_unknown_cadence_in_a_real_process_has_no_traceback(
    inputs: Inputs, tmp_path: Path
) -> None:
    proc = run_cli(["build", "yearly", "--params", inputs.params, "--out", tmp_path / "out"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr == ("reviewkit: error: unknown cadence 'yearly'; use one of weekly, "
                           "monthly, quarterly\n")
    assert not (tmp_path / "out").exists()


# --- build success: a second, not quiet build of the demo period -----------------------------


def test_build_prints_pdf_path_as_last_stdout_line(demo_rebuild: Rebuild) -> None:
    built = demo_rebuild.built
    assert built.returncode == 0, built.stderr
    last = built.stdout.strip().splitlines()[-1]
    assert Path(last).resolve() == (built.folder / "pack.pdf").resolve()
    assert Path(last).is_file()


def test_build_reports_progress_and_result_on_stderr_when_not_quiet(
    demo_rebuild: Rebuild,
) -> None:
    stderr = demo_rebuild.built.stderr
    assert re.search(r"^\[1/\d+\] ", stderr, re.M)  # progress, one line per stage
    assert f"built weekly pack {DEMO_LABEL}" in stderr
    assert "3 off track" in stderr
    assert "Traceback" not in stderr


def test_narrative_accept_takes_the_keys_after_the_options_and_records_who(
    inputs: Inputs, capsys: pytest.CaptureFixture[str]
) -> None:
    params = str(inputs.params)
    assert main(["narrative", "accept", "weekly", "--params", params, "--by", "Ana Lyst",
                 "summary", "kpis"]) == 0
    assert capsys.readouterr().out.strip() == f"weekly pack {DEMO_LABEL}: accepted summary, kpis"
    assert main(["narrative", "accept", "weekly", "--params", params, "summary"]) == 0
    assert "nothing to accept" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "message"), [
    ([], "name the cells to accept (KEY …) or give --all, not both"),
    (["--all", "summary"], "name the cells to accept (KEY …) or give --all, not both"),
    (["nope"], "no narrative cell 'nope' in the weekly pack 2026-11-20"),
])
def test_narrative_accept_without_a_clear_choice_of_cells_is_one_usage_line(
    inputs: Inputs, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["narrative", "accept", "weekly", "--params", str(inputs.params), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_unknown_options_are_still_refused_after_narrative_accept(
    inputs: Inputs, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["narrative", "accept", "weekly", "--params", str(inputs.params), "--bogus"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


# --- exports ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["actions", "export"], ["narrative", "export", "weekly"]])
@pytest.mark.parametrize("where", ["missing/folder/out.txt", "."])
def test_an_export_to_a_place_that_cannot_be_written_exits_2_with_one_line(
        command: list[str], where: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A folder that does not exist, or a folder given for the file: one line naming it."""
    from conftest import copy_demo

    params = copy_demo(tmp_path / "org")
    output = tmp_path / where
    assert main([*command, "--params", str(params), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"reviewkit: error: --output {output}: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [
    ["actions", "add", "--title", " ", "--owner", "Sam", "--due", "2026-12-04"],
    ["actions", "add", "--title", "Fix it", "--owner", "", "--due", "2026-12-04"],
    ["actions", "update", "A-0001", "--owner", ""],
    ["decisions", "add", "--text", ""],
    ["asks", "add", "--ask", "", "--owner", "CIO"],
    ["actions", "close", "A-0001", "--by", "  "],
    ["decisions", "add", "--text", "Fund it", "--by", ""],
    ["minutes", "import", "minutes.yaml", "--by", " "],
    ["round", "open", "weekly", "--due", "2026-12-04", "--by", ""],
    ["people", "add", "sam@example.org", "--name", " ", "--role", "owner"],
    ["people", "deactivate", "sam@example.org", "--by", " "],
])
def test_an_empty_title_owner_or_text_on_the_command_line_is_refused_as_in_minutes(
        args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import copy_demo

    params = copy_demo(tmp_path / "org")
    with pytest.raises(SystemExit) as stopped:  # as argparse stops on a bad argument
        main([*args[:2], "--params", str(params), *args[2:]])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must not be empty" in err, err


@pytest.mark.parametrize("command", ["add", "update"])
def test_a_due_date_already_past_is_recorded_with_a_warning(
        command: str, tmp_path: Path) -> None:
    """A due date before the day the change is made is allowed (the minutes may record a
    late action) but said: the action shows as overdue in the very next pack."""
    from conftest import copy_demo, run_cli_in_process

    params = copy_demo(tmp_path / "org")
    add = ["actions", "add", "--params", str(params), "--title", "Fix it", "--owner", "Sam",
           "--date", "2026-11-20", "--due"]
    if command == "add":
        code, out, err = run_cli_in_process([*add, "2026-11-02"])
    else:
        code, out, err = run_cli_in_process([*add, "2026-12-31"])
        assert (code, err) == (0, "")
        code, out, err = run_cli_in_process(["actions", "update", out.strip(), "--params",
                                             str(params), "--due", "2026-11-02", "--date",
                                             "2026-11-20"])
    assert code == 0, err
    assert err.count("\n") == 1, err
    assert "warning:" in err and "2 Nov 2026" in err and "20 Nov 2026" in err
    assert "overdue" in err


@pytest.mark.parametrize("by", ["", "   "])
@pytest.mark.parametrize("command", [["export"], ["import", "narrative.md"], ["accept", "--all"]])
def test_an_empty_or_blank_name_for_who_writes_the_narrative_is_refused(
        command: list[str], by: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--by "   "` recorded a blank name in the narrative history; `--by ""` fell back to the
    login name without a word."""
    from conftest import copy_demo

    params = copy_demo(tmp_path / "org")
    with pytest.raises(SystemExit) as stopped:  # as argparse stops on a bad argument
        main(["narrative", command[0], "weekly", "--params", str(params), "--by", by,
              *command[1:]])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--by" in err and "must not be empty" in err, err
    assert not (params.parent / "reviewkit.sqlite").exists()


def test_narrative_history_shows_every_revision_and_the_words_not_chosen(
        tmp_path: Path) -> None:
    """What --prefer store did not choose is kept, and this is where it is read: each cell's
    revisions, oldest first, with who, when and from where, the words not chosen marked."""
    from conftest import copy_demo, run_cli_in_process

    from reviewkit.inputs.params import load_params
    from reviewkit.store.database import Store

    params = copy_demo(tmp_path / "org")
    store = Store.open(load_params(params).store_location)
    try:
        for revision, text in enumerate(["First words.", "Colleague's words."]):
            store.save_narrative(cadence="weekly", label="2026-11-20", key="summary",
                                 kpi_id=None, text=text, basis={}, expected_revision=revision,
                                 by="colleague", source="markdown narrative.md")
        with store.transaction() as tx:
            tx.keep_narrative_not_chosen(
                cadence="weekly", label="2026-11-20", key="summary", text="Analyst's\nwords.",
                basis={}, revision=2, by="analyst",
                source="notebook pack.ipynb; not chosen (--prefer store)")
    finally:
        store.dispose()
    code, out, err = run_cli_in_process(["narrative", "history", "weekly", "--params",
                                         str(params), "--period", "2026-11-20", "summary"])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "weekly pack 2026-11-20, narrative cell 'summary':"
    assert out.index("First words.") < out.index("Colleague's words.")
    assert "revision 1" in out and "revision 2" in out and "colleague" in out
    not_chosen = out.index("not chosen")
    assert out.index("Colleague's words.") < not_chosen < out.index("Analyst's")
    assert "    Analyst's\n    words." in out
    assert "analyst" in out[not_chosen:] and "notebook pack.ipynb" in out[not_chosen:]
