"""What a learner reads when a name is mistyped (`dojo.names`) or a kata cannot load (`dojo.problems`).

Each is judged on its own here; the command-line and harness tests judge them through a grading.
"""

from pathlib import Path

import pytest

from dojo import names, problems


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("katas/n_plus_one/", "n_plus_one"),
        ("./n-plus-one", "n_plus_one"),
        ("N_Plus_One", "n_plus_one"),
        ("solutions/webhook_idempotency/services.py", "webhook_idempotency"),
        ("  graders/type_hints ", "type_hints"),
    ],
)
def test_a_typed_name_is_read_as_the_slug_meant(typed: str, meant: str) -> None:
    assert names.normalize(typed) == meant


def test_close_names_are_suggested_and_far_ones_are_not() -> None:
    assert names.suggest("n_plus_on")[0] == "n_plus_one"
    assert "schema_n_plus_one" in names.suggest("plus_one")  # contains it
    assert names.suggest("zzzz_qqqq") == []
    assert len(names.suggest("n")) <= 3
    assert names.did_you_mean("zzzz_qqqq") == ""
    assert names.did_you_mean("webhook_idempotncy") == " Did you mean: webhook_idempotency?"


def test_an_unknown_kata_is_named_with_the_closest_and_the_list_command() -> None:
    message = names.unknown_kata("katas/Webhook-Idempotncy")
    assert message.startswith("There is no kata named 'katas/Webhook-Idempotncy'.")
    assert "Did you mean: webhook_idempotency?" in message
    assert message.endswith("`uv run dojo list` shows them all.")


def kata_with(tmp_path: Path, source: str) -> tuple[Path, Path]:
    kata = tmp_path / "some_kata"
    kata.mkdir()
    module = kata / "services.py"
    module.write_text(source, encoding="utf-8")
    return kata, module


def load_error(module: Path) -> BaseException:
    namespace: dict[str, object] = {}
    try:
        exec(compile(module.read_text(encoding="utf-8"), str(module), "exec"), namespace)  # noqa: S102 - the test's own file
    except BaseException as error:
        return error
    raise AssertionError("loading did not fail")


def test_a_syntax_error_is_shown_with_its_file_line_and_caret(tmp_path: Path) -> None:
    kata, module = kata_with(tmp_path, "def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    message = problems.describe_error(load_error(module), kata)
    assert f"{module}, line 4" in message
    assert "    def broken(:" in message
    assert message.splitlines()[2].endswith("^")
    assert "`uv run dojo reset some_kata`" in message


def test_an_error_at_import_names_the_line_of_the_learners_file(tmp_path: Path) -> None:
    kata, module = kata_with(tmp_path, "RATE = 1\nTOTAL = RATE / 0\n")
    message = problems.describe_error(load_error(module), kata)
    assert message.startswith(f"Loading {module} failed at line 2: ZeroDivisionError: division by zero")
    assert "    TOTAL = RATE / 0" in message


def test_an_exit_at_import_says_where_and_that_the_kata_cannot_be_graded(tmp_path: Path) -> None:
    kata, module = kata_with(tmp_path, "import sys\n\nsys.exit(3)\n")
    message = problems.describe_error(load_error(module), kata)
    assert message.startswith(f"{module} calls sys.exit(3) at line 3 while it is loaded")
    assert "    sys.exit(3)" in message


def test_an_error_outside_the_kata_is_said_without_a_line(tmp_path: Path) -> None:
    kata = tmp_path / "some_kata"
    kata.mkdir()
    message = problems.describe_error(KeyError("x"), kata)
    assert message.startswith("Loading the kata failed: KeyError: 'x'")


def test_exit_stuck_vanished_and_missing_each_say_what_happened(tmp_path: Path) -> None:
    _kata, module = kata_with(tmp_path, "import os\nwhile True:\n    pass\n")
    assert problems.describe_exit("some_kata", 0, str(module), 1).startswith(f"{module} calls os._exit(0) at line 1")
    assert "    import os" in problems.describe_exit("some_kata", 0, str(module), 1)
    assert problems.describe_exit("some_kata", 2, None, None).startswith("The code of some_kata calls os._exit(2)")
    stuck = problems.describe_stuck("some_kata", 20, str(module), 2)
    assert "did not finish within 20 s" in stuck
    assert f"stuck in {module} at line 2:\n    while True:" in stuck
    vanished = problems.describe_vanished("some_kata", "signal 9", "while running test_x", "boom\n")
    assert "ended unexpectedly (signal 9) while running test_x" in vanished
    assert "It printed:\nboom" in vanished
    assert "has no __init__.py" in problems.describe_missing(tmp_path / "gone")


def test_an_unreadable_migration_is_found_and_a_readable_one_is_not(tmp_path: Path) -> None:
    kata = tmp_path / "some_kata"
    (kata / "migrations").mkdir(parents=True)
    (kata / "migrations" / "0001_initial.py").write_text("operations = []\n", encoding="utf-8")
    assert problems.unreadable_migration(kata) is None
    (kata / "migrations" / "0002_index.py").write_text("operations = [\n", encoding="utf-8")
    found = problems.unreadable_migration(kata)
    assert found is not None
    assert "0002_index.py, line 1" in found
