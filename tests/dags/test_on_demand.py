"""``leads_mass_update_on_demand``: the trigger form's schema, and runs with its values."""

from __future__ import annotations

import copy

import pytest

from airflow_crm_provider.testing.emulator import SEED_IDS
from tests.dags.conftest import states, xcom

OK_1, OK_2 = SEED_IDS


@pytest.fixture
def dag(request):
    import importlib.util

    from tests.dags.conftest import DAGS

    spec = importlib.util.spec_from_file_location("on_demand_under_test", DAGS / "leads_on_demand.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.on_demand_dag


def validated(dag, **conf):
    """Validate a trigger's conf against the DAG's Params, as creating a run does."""
    params = copy.deepcopy(dag.params)
    params.update(conf)
    return params.validate()


def test_the_form_is_a_textarea_whose_default_survives(dag):
    schema = dag.params.get_param("ids").schema
    assert (schema["type"], schema["format"]) == ("string", "multiline")  # the UI renders a textarea
    assert validated(dag) == {
        "ids": f"{OK_1}\n{OK_2}",
        "field": "City",
        "value": "Lisbon",
        "over_write": False,
        "dry_run": False,
    }


@pytest.mark.parametrize("ids", [f"{OK_1}, {OK_2}", f" {OK_1}\r\n\r\n{OK_2}\n", OK_1, "1" * 19])
def test_the_form_takes_ids_by_line_or_comma(dag, ids):
    assert validated(dag, ids=ids)["ids"] == ids


BAD = {
    "glued ids": {"ids": OK_1 + OK_2},  # 36 digits: what a single-line field made of the default
    "letters": {"ids": f"{OK_1}\nabc"},
    "empty ids": {"ids": ""},
    "only commas": {"ids": ",,"},
    "a list": {"ids": [OK_1]},
    "unknown field": {"field": "Email"},
    "empty value": {"value": ""},
    "not a boolean": {"dry_run": "yes"},
}


@pytest.mark.parametrize("conf", BAD.values(), ids=BAD.keys())
def test_the_form_refuses_bad_input(dag, conf):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        validated(dag, **conf)


@pytest.mark.integration
@pytest.mark.parametrize("conf", [BAD["letters"], BAD["unknown field"]], ids=["letters", "unknown field"])
def test_bad_input_creates_no_run(load_dags, zoho_emulator, conf):
    from airflow.sdk.definitions.param import ParamValidationError

    dag = load_dags("leads_on_demand.py")["leads_mass_update_on_demand"]
    with pytest.raises(ParamValidationError):
        dag.test(run_conf=conf)
    assert zoho_emulator.client.log() == []


@pytest.mark.integration
def test_defaults_set_the_city(load_dags, zoho_emulator, staging):
    dag_run = load_dags("leads_on_demand.py")["leads_mass_update_on_demand"].test()

    assert (dag_run.state, states(dag_run)) == ("success", {"update_leads": "success", "report": "success"})
    client = zoho_emulator.client
    assert [client.record("Leads", i)["City"] for i in (OK_1, OK_2)] == ["Lisbon", "Lisbon"]
    (post,) = [e for e in client.log() if e["method"] == "POST" and "mass_update" in e["path"]]
    assert post["body"]["ids"] == [OK_1, OK_2]
    assert post["body"].get("over_write", False) is False
    assert xcom(dag_run, "report") == {"by_code": {"SUCCESS": 2}, "by_outcome": {"updated": 2}, "issues": 0}


@pytest.mark.integration
def test_dry_run_writes_nothing(load_dags, zoho_emulator, staging):
    client = zoho_emulator.client
    before = client.records("Leads")
    conf = {"ids": f"{OK_1},{OK_2}", "field": "Rating", "value": "Active", "dry_run": True}

    dag_run = load_dags("leads_on_demand.py")["leads_mass_update_on_demand"].test(run_conf=conf)

    assert dag_run.state == "success"
    assert client.records("Leads") == before
    assert client.counters()["mass_update_posts"] == 0
    assert {r["outcome"] for r in xcom(dag_run, "update_leads", "records")} == {"would_update"}


@pytest.mark.integration
def test_over_write_reaches_zoho(load_dags, zoho_emulator, staging):
    conf = {"ids": OK_1, "field": "Country", "value": "Portugal", "over_write": True}
    dag_run = load_dags("leads_on_demand.py")["leads_mass_update_on_demand"].test(run_conf=conf)

    assert dag_run.state == "success"
    client = zoho_emulator.client
    (post,) = [e for e in client.log() if e["method"] == "POST" and "mass_update" in e["path"]]
    assert post["body"]["over_write"] is True
    assert client.record("Leads", OK_1)["Country"] == "Portugal"
