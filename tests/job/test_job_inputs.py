from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_crm_provider.runs.inputs import InputError
from airflow_crm_provider.runs.job_inputs import (
    JobSettings,
    ViewTarget,
    check_timing,
    check_view_target,
)

VIEW = "738964000000087501"
TERRITORY = "738964000000111111"


def target(**kwargs):
    args = {"ids": None, "cvid": None, "territory_id": None, "include_child": False, "dry_run": False}
    return check_view_target(**{**args, **kwargs})


def test_no_cvid_is_ids_mode():
    assert target(ids=["1"]) is None
    assert target(ids=None, cvid="") is None
    assert target(cvid="None") is None


def test_cvid_and_territory_become_strings():
    got = target(cvid=int(VIEW), territory_id=TERRITORY, include_child=True)
    assert got == ViewTarget(VIEW, TERRITORY, True)


def test_include_child_without_territory_is_dropped():
    assert target(cvid=VIEW, include_child=True) == ViewTarget(VIEW, None, False)


@pytest.mark.parametrize("ids", [["1"], "1,2", "['3']", [4]])
def test_ids_and_cvid_together_is_an_input_error(ids):
    with pytest.raises(InputError, match="either ids or cvid, not both"):
        target(ids=ids, cvid=VIEW)


@pytest.mark.parametrize("ids", [None, [], "", "[]"])
def test_ids_rendering_to_nothing_leaves_job_mode(ids):
    assert target(ids=ids, cvid=VIEW) == ViewTarget(VIEW)


def test_territory_without_cvid_is_an_input_error():
    with pytest.raises(InputError, match="territory_id needs cvid"):
        target(territory_id=TERRITORY)


@pytest.mark.parametrize(("name", "value"), [("cvid", "abc"), ("cvid", True), ("territory_id", "12x")])
def test_non_numeric_view_ids_are_rejected(name, value):
    kwargs = {"cvid": VIEW, name: value}
    with pytest.raises(InputError, match=f"{name} must be a numeric Zoho id"):
        target(**kwargs)


def test_dry_run_with_cvid_is_an_input_error():
    with pytest.raises(InputError, match="dry_run works in ids mode only"):
        target(cvid=VIEW, dry_run=True)


def test_timing():
    assert check_timing(5, timedelta(minutes=2)) == (5.0, 120.0)
    assert check_timing(0.5, None) == (0.5, None)
    with pytest.raises(InputError, match="poll_interval"):
        check_timing(0, None)
    with pytest.raises(InputError, match="timeout"):
        check_timing(1, -3)
    with pytest.raises(InputError, match="timeout"):
        check_timing(1, "soon")
    for bad in (float("nan"), float("inf")):  # sleep(nan) crashes; an infinite deadline is not JSON
        with pytest.raises(InputError, match="poll_interval"):
            check_timing(bad, None)
        with pytest.raises(InputError, match="timeout"):
            check_timing(1, bad)


def test_fingerprint_covers_what_the_job_writes():
    base = JobSettings(module="Leads", data={"Rating": "Hot"}, target=ViewTarget(VIEW))
    same = JobSettings(module="Leads", data={"Rating": "Hot"}, target=ViewTarget(VIEW), poll_interval=1)
    assert base.fingerprint() == same.fingerprint()
    for other in (
        JobSettings(module="Leads", data={"Rating": "Cold"}, target=ViewTarget(VIEW)),
        JobSettings(module="Contacts", data={"Rating": "Hot"}, target=ViewTarget(VIEW)),
        JobSettings(module="Leads", data={"Rating": "Hot"}, target=ViewTarget(VIEW, TERRITORY)),
        JobSettings(module="Leads", data={"Rating": "Hot"}, target=ViewTarget(VIEW), over_write=True),
    ):
        assert other.fingerprint() != base.fingerprint()
