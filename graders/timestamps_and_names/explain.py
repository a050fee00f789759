"""Failures of the kata's migrations, told as sentences that say what Django expected."""

SLUG = "timestamps_and_names"


def migration_failure(error: BaseException) -> str:
    """A failure of the kata's migrations as a sentence: what Django expected, and what to check."""
    text = str(error)
    if isinstance(error, KeyError) and SLUG in text:
        model = text.split(",")[-1].strip(" ')")
        return (
            f"an operation names the model '{model}', which does not exist at that point of the migrations "
            f"(Django raised KeyError {text}). Operations run in order and see the models as the operations "
            'before them left them: after `RenameModel(old_name="Organizations", new_name="Organization")` '
            'the model is `organization`, so an AddField after it names `model_name="organization"`; before '
            "it, `organizations`."
        )
    if isinstance(error, LookupError | ValueError) and "related model" in text.lower():
        return (
            f"a relation points at a model that does not exist at that point ({type(error).__name__}: {text}). "
            "Check that every model an operation refers to has that name after the operations before it."
        )
    return (
        f"{type(error).__name__}: {text}. The migrations must run, in order, on the database 0001_initial "
        "made: each operation names the models and fields as the operations before it left them."
    )
