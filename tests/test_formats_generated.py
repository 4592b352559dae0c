"""The shipped JSON Schemas and reference pages are what the models generate, and the
formats agree with the libraries they feed (choices, defaults)."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from zone_opt.carbon import ChpMethod
from zone_opt.carbon.park import DEFAULT_TCE, allocate_park
from zone_opt.carbon.scope2 import LOSS_POLICIES, PV_SHARING
from zone_opt.formats import FORMATS, Format, carbon_park, dispatch, facilities
from zone_opt.formats.generate import (
    SCHEMAS,
    json_schema,
    main,
    reference_markdown,
    schema_text,
)
from zone_opt.optimise.dispatch import assets
from zone_opt.optimise.facilities.sharing import ShareMethod

DOCS = Path(__file__).resolve().parent.parent / "docs" / "formats"


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_shipped_schema_is_what_the_model_generates(fmt: Format[Any]) -> None:
    shipped = SCHEMAS / f"{fmt.name}.schema.json"
    assert shipped.read_text(encoding="utf-8") == schema_text(fmt), (
        "stale: run python -m zone_opt.formats.generate"
    )
    schema = json.loads(shipped.read_text(encoding="utf-8"))
    assert schema["$schema"].endswith("2020-12/schema")


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_reference_page_is_what_the_model_generates(fmt: Format[Any]) -> None:
    page = DOCS / f"{fmt.name}.md"
    assert page.read_text(encoding="utf-8") == reference_markdown(fmt), (
        "stale: run python -m zone_opt.formats.generate"
    )


def test_generate_check_reports_a_stale_file(tmp_path: Path) -> None:
    assert main(["--check"]) == 0
    assert main(["--check", "--docs", str(tmp_path)]) == 1  # no pages there
    assert main(["--docs", str(tmp_path)]) == 0
    assert main(["--check", "--docs", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{f.name}.md" for f in FORMATS)


def test_choices_are_the_libraries() -> None:
    assert tuple(m.value for m in ShareMethod) == facilities.SHARE_METHODS
    assert get_args(get_args(facilities.ShareName)[0]) == facilities.SHARE_METHODS
    assert carbon_park.LOSS_POLICIES == LOSS_POLICIES
    assert carbon_park.PV_SHARING == PV_SHARING
    assert tuple(m.value for m in ChpMethod) == carbon_park.CHP_METHODS
    assert tuple(DEFAULT_TCE) == carbon_park.TCE_KEYS
    tables = json_schema(carbon_park.CARBON_PARK)["properties"]["tables"]
    assert tuple(tables["propertyNames"]["enum"]) == carbon_park.TABLES
    assert set(carbon_park.TABLES) <= set(inspect.signature(allocate_park).parameters)


@pytest.mark.parametrize(
    ("model", "cls"),
    [
        (dispatch.RenewableFile, assets.Renewable),
        (dispatch.BatteryFile, assets.Battery),
        (dispatch.ChpFile, assets.Chp),
        (dispatch.BoilerFile, assets.Boiler),
        (dispatch.ProcessFile, assets.ShiftableProcess),
        (dispatch.TariffFile, assets.Tariff),
        (dispatch.GridFile, assets.Grid),
        (dispatch.CarbonFile, assets.Carbon),
        (dispatch.SlackFile, assets.Slack),
        (dispatch.UnitStateFile, assets.UnitState),
    ],
)
def test_dispatch_models_have_the_dataclasses_keys_and_defaults(
    model: type[BaseModel], cls: type
) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert list(model.model_fields) == list(fields)
    for name, info in model.model_fields.items():
        field = fields[name]
        if field.default is dataclasses.MISSING:
            assert info.is_required() or field.default_factory is not dataclasses.MISSING, name
        else:
            default = info.default
            assert (tuple(default) if isinstance(default, list) else default) == field.default, name
