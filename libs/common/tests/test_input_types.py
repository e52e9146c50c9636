"""The shared input types (agencyos.common.types) and the NUL guard every service app has:
hostile strings, integers and dates are a 422 naming the field, never a 500."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel, StringConstraints, ValidationError

from agencyos.common.types import (
    INT32_MAX,
    Cents,
    IsoDate,
    Name,
    Position,
    SafeStr,
    SignedCents,
    SingleLine,
    Text,
    Timestamp,
)
from agencyos.common.wording import with_article


class Sample(BaseModel):
    name: Name | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10), SingleLine] = ""
    text: Text | None = None
    secret: SafeStr | None = None
    cents: Cents | None = None
    credit: SignedCents | None = None
    position: Position | None = None
    day: IsoDate | None = None
    at: Timestamp | None = None


def error_types(**fields: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate_json(json.dumps(fields))
    return {".".join(map(str, e["loc"])): e["type"] for e in caught.value.errors()}


class TestStrings:
    @pytest.mark.parametrize("field", ["name", "title", "text", "secret"])
    def test_a_nul_is_refused_by_every_string_type(self, field: str) -> None:
        assert error_types(**{field: "a\x00b"}) == {field: "nul_character"}

    @pytest.mark.parametrize("value", ["a\tb", "a\nb", "a\rb", "a\x1bb", "a\x7fb"])
    def test_a_name_is_one_line_without_control_characters(self, value: str) -> None:
        assert error_types(name=value) == {"name": "control_character"}

    def test_text_keeps_tabs_and_line_breaks_but_no_other_controls(self) -> None:
        kept = Sample.model_validate_json(json.dumps({"text": "a\r\n\tb"}))

        assert kept.text == "a\r\n\tb"
        assert error_types(text="a\x1bb") == {"text": "control_character"}

    def test_whitespace_is_stripped_before_a_one_line_check(self) -> None:
        assert Sample.model_validate_json(json.dumps({"title": " Acme \n"})).title == "Acme"


class TestIntegers:
    @pytest.mark.parametrize("value", ["12", True, 12.0, 2**64, -1])
    def test_cents_are_strict_non_negative_integers_within_a_bigint(self, value: Any) -> None:
        assert set(error_types(cents=value)) == {"cents"}

    def test_signed_cents_take_credits(self) -> None:
        assert Sample.model_validate_json('{"credit": -2500}').credit == -2500

    def test_a_position_fits_an_int4(self) -> None:
        assert Sample.model_validate_json(f'{{"position": {INT32_MAX}}}').position == INT32_MAX
        assert set(error_types(position=INT32_MAX + 1)) == {"position"}


class TestDates:
    @pytest.mark.parametrize("value", ["0", 0, "2026-1-5", "20260105", "2026-01-05T00:00:00Z"])
    def test_a_date_is_an_iso_date_only(self, value: Any) -> None:
        assert set(error_types(day=value)) == {"day"}

    @pytest.mark.parametrize("value", ["0", 0, "2026-01-05T10:00:00", "2026-01-05"])
    def test_a_timestamp_is_rfc_3339_with_an_offset(self, value: Any) -> None:
        assert set(error_types(at=value)) == {"at"}

    def test_valid_dates_and_times_are_taken(self) -> None:
        parsed = Sample.model_validate_json(
            '{"day": "2026-01-05", "at": "2026-01-05T10:00:00.5+02:00"}'
        )

        assert parsed.day == date(2026, 1, 5)
        assert parsed.at is not None
        assert parsed.at.utcoffset() is not None


class TestWording:
    @pytest.mark.parametrize(
        ("word", "phrase"),
        [("admin", "an admin"), ("owner", "an owner"), ("member", "a member"), ("", "a ")],
    )
    def test_the_article_follows_the_first_letter(self, word: str, phrase: str) -> None:
        assert with_article(word) == phrase


class TestNulGuard:
    async def test_a_nul_in_an_untyped_body_string_is_422_naming_it_not_a_500(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets",
            content=json.dumps({"name": "a\x00b"}).encode(),
            headers={**bearer(tenant, uuid.uuid4()), "content-type": "application/json"},
        )

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["name"]

    async def test_a_nul_in_any_query_parameter_is_422_naming_it(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.get(
            f"/widgets/{uuid.uuid4()}", params={"q": "x\x00"}, headers=bearer(tenant, uuid.uuid4())
        )

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["query.q"]

    async def test_an_escaped_backslash_before_u0000_is_no_nul(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets",
            content=b'{"name": "a\\\\u0000b"}',
            headers={**bearer(tenant, uuid.uuid4()), "content-type": "application/json"},
        )

        assert response.status_code == 201, response.text
        assert response.json()["name"] == "a\\u0000b"

    async def test_an_idempotency_key_with_a_space_is_422(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets",
            json={"name": "keyed"},
            headers={**bearer(tenant, uuid.uuid4()), "Idempotency-Key": "two words"},
        )

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key"]
