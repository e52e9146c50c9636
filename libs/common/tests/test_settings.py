"""Settings: `AGENCYOS_<SERVICE>_<NAME>` beats `AGENCYOS_<NAME>`; defaults work locally."""

from __future__ import annotations

import os

import pytest

from agencyos.common.settings import (
    DevelopmentDefaultInProduction,
    ServiceSettings,
    refuse_development_defaults,
    service_config,
)


class BillingSettings(ServiceSettings):
    service_name = "billing"
    model_config = service_config("billing")


class WidgetsSettings(ServiceSettings):
    service_name = "widgets"
    model_config = service_config("widgets")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No AGENCYOS_ variable of the surrounding shell leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("AGENCYOS_") or name.upper() in {
            "DATABASE_URL",
            "MIGRATION_DATABASE_URL",
        }:
            monkeypatch.delenv(name)
    return monkeypatch


class TestEnvironmentPrecedence:
    def test_the_shared_variable_applies_when_the_service_sets_none(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_KAFKA_BOOTSTRAP", "shared-broker:9092")

        assert BillingSettings().kafka_bootstrap == "shared-broker:9092"

    def test_the_service_specific_variable_beats_the_shared_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_KAFKA_BOOTSTRAP", "shared-broker:9092")
        monkeypatch.setenv("AGENCYOS_BILLING_KAFKA_BOOTSTRAP", "billing-broker:9092")

        assert BillingSettings().kafka_bootstrap == "billing-broker:9092"

    def test_another_service_specific_variable_does_not_apply(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_CRM_LOG_LEVEL", "DEBUG")

        assert BillingSettings().log_level == "INFO"

    def test_values_are_parsed_to_the_field_type(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AGENCYOS_BILLING_DATABASE_POOL_SIZE", "3")

        assert BillingSettings().database_pool_size == 3


class TestDefaults:
    def test_a_known_service_gets_its_ports_from_the_service_map(self) -> None:
        settings = BillingSettings()

        assert (settings.http_port, settings.grpc_port) == (8105, 9105)

    def test_the_database_is_named_after_the_service(self) -> None:
        assert WidgetsSettings().database_name == "agencyos_widgets"

    def test_the_app_dsn_uses_the_role_that_owns_nothing(self) -> None:
        assert WidgetsSettings().database_url == (
            "postgresql+asyncpg://agencyos_app:agencyos_app@127.0.0.1:55432/agencyos_widgets"
        )

    def test_the_migration_dsn_uses_the_owner_role(self) -> None:
        assert WidgetsSettings().migration_database_url == (
            "postgresql+asyncpg://agencyos_owner:agencyos_owner@127.0.0.1:55432/agencyos_widgets"
        )

    def test_the_dsns_follow_the_postgres_host_port_and_database_name(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_POSTGRES_HOST", "db.internal")
        monkeypatch.setenv("AGENCYOS_POSTGRES_PORT", "6543")
        monkeypatch.setenv("AGENCYOS_WIDGETS_DATABASE_NAME", "widgets_eu")

        assert WidgetsSettings().database_url == (
            "postgresql+asyncpg://agencyos_app:agencyos_app@db.internal:6543/widgets_eu"
        )


class TestDatabaseUrlOverride:
    def test_the_service_database_url_variable_wins_over_the_built_dsn(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_WIDGETS_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/from_env")

        assert WidgetsSettings().database_url == "postgresql+asyncpg://u:p@h:1/from_env"

    def test_the_service_migration_database_url_variable_wins_over_the_built_dsn(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "AGENCYOS_WIDGETS_MIGRATION_DATABASE_URL", "postgresql+asyncpg://o:p@h:1/from_env"
        )

        assert WidgetsSettings().migration_database_url == "postgresql+asyncpg://o:p@h:1/from_env"

    def test_an_unprefixed_database_url_variable_is_not_read(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A generic DATABASE_URL belongs to whatever else runs in the container, not to us.
        monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@elsewhere:1/not_ours")

        assert "elsewhere" not in WidgetsSettings().database_url

    def test_an_explicit_database_url_wins_over_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_WIDGETS_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/from_env")

        settings = WidgetsSettings(database_url="postgresql+asyncpg://u:p@h:1/explicit")

        assert settings.database_url == "postgresql+asyncpg://u:p@h:1/explicit"

    def test_the_override_leaves_the_migration_dsn_built(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_WIDGETS_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/from_env")

        assert WidgetsSettings().migration_database_url.startswith(
            "postgresql+asyncpg://agencyos_owner:"
        )


class _WithSecret(ServiceSettings):
    service_name = "example"
    development_secrets = ("signing_key",)
    model_config = service_config("example")
    signing_key: str = "development-only"


class TestDevelopmentDefaultsInProduction:
    def test_a_production_start_with_a_development_secret_fails_naming_its_variable(
        self,
    ) -> None:
        settings = _WithSecret(environment="production")

        with pytest.raises(DevelopmentDefaultInProduction, match="AGENCYOS_EXAMPLE_SIGNING_KEY"):
            refuse_development_defaults(settings)

    def test_a_production_start_with_the_secret_set_goes_ahead(self) -> None:
        refuse_development_defaults(_WithSecret(environment="production", signing_key="s3cret"))

    def test_development_keeps_its_defaults(self) -> None:
        refuse_development_defaults(_WithSecret())
