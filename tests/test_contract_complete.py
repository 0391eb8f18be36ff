"""The data contract names every field a params file, a unit and a catalog entry may hold: a
field added to the models without a word in docs/data-contract.md fails here."""

from __future__ import annotations

import pytest
from conftest import REPO
from pydantic import BaseModel

from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.params import CurrencyParams, PackParams, UnitParams

CONTRACT = (REPO / "docs" / "data-contract.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("model", [PackParams, UnitParams, CurrencyParams, Kpi],
                         ids=lambda model: model.__name__)
def test_every_field_of_an_input_is_named_in_the_data_contract(
    model: type[BaseModel],
) -> None:
    def named(field: str) -> bool:
        # As the contract writes fields: in a table or prose as `field`, or as a YAML key.
        return f"`{field}`" in CONTRACT or f"\n{field}:" in CONTRACT or f" {field}:" in CONTRACT

    missing = [name for name, info in model.model_fields.items()
               if not named(info.alias or name)]
    assert not missing, f"{model.__name__} fields missing from docs/data-contract.md: {missing}"
