"""The checks every kata gets from the harness, and the ids that no two tables share."""

import shutil
from pathlib import Path

import pytest

from dojo import paths
from dojo.kata_apps import ID_SPACING
from dojo.runner import grade
from dojo.standard_guards import CHECKS, findings_beyond_the_reference, static_findings
from graders.service_authorization.factories import CustomerFactory, InvoiceFactory, OrganizationFactory

from .conftest import grading_env


def kata_copy(slug: str, destination: Path) -> Path:
    shutil.copytree(paths.SOLUTIONS / slug, destination / slug, ignore=shutil.ignore_patterns("__pycache__"))
    return destination / slug


@pytest.mark.django_db
def test_no_two_tables_of_a_kata_share_an_id() -> None:
    organization = OrganizationFactory.create()
    customer = CustomerFactory.create(organization=organization)
    invoice = InvoiceFactory.create(customer=customer)

    ids = [organization.pk, customer.pk, invoice.pk]
    assert len({pk // ID_SPACING for pk in ids}) == 3, f"the tables' ids start in the same range: {ids}"
    assert all(pk > ID_SPACING for pk in ids)


def test_every_reference_is_its_own_standard() -> None:
    for slug in sorted(path.name for path in paths.SOLUTIONS.iterdir() if (path / "__init__.py").is_file()):
        assert findings_beyond_the_reference(slug, paths.SOLUTIONS / slug) == []


def test_a_new_module_that_breaks_another_rule_is_found(tmp_path: Path) -> None:
    kata = kata_copy("n_plus_one", tmp_path)
    (kata / "export.py").write_text(
        "from django.db import connection\n\n\n"
        "def export(organization_id: int) -> list[tuple[object, ...]]:\n"
        "    with connection.cursor() as cursor:\n"
        "        cursor.execute(f'SELECT * FROM n_plus_one_invoice WHERE id = {organization_id}')\n"
        "        return cursor.fetchall()\n",
        encoding="utf-8",
    )

    extra = findings_beyond_the_reference("n_plus_one", kata)

    assert {finding.path for finding in extra} == {"export.py"}
    assert "DJ-4" in {finding.rule for finding in extra}
    assert len(static_findings(kata)) == len(static_findings(paths.SOLUTIONS / "n_plus_one")) + len(extra)


def test_every_kata_is_graded_on_the_whole_standard(tmp_path: Path) -> None:
    """A model index whose name Django refuses (models.E034) fails the kata, with Django's own words."""
    kata = kata_copy("missing_index", tmp_path)
    models = kata / "models.py"
    text = models.read_text(encoding="utf-8")
    named = text.replace('name="invoice_worklist_idx"', 'name="invoice_worklist_index_by_organization_status"')
    assert named != text, "the missing_index reference no longer names its index"
    models.write_text(named, encoding="utf-8")

    grading = grade(["katas/missing_index"], kata_root=tmp_path, env=grading_env())

    result = grading.katas["missing_index"]
    failed = {test.test: test.message for test in result.tests if test.outcome == "failed"}
    assert "test_django_system_checks_find_no_error" in failed, grading.output[-2000:]
    assert "models.E034" in failed["test_django_system_checks_find_no_error"]
    names = {test.test for test in result.tests}
    assert {check.__name__ for check in CHECKS} <= names
