"""The local stack's OpenID Connect provider (deploy/local/oidc, started by stack.sh): one
version pinned in one place the stack checks, the port the tests look for by default, and
the interactive login the single sign-on tests drive."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from agencyos.testing.oidc import DEFAULT_OIDC_URL

REPO = Path(__file__).resolve().parents[2]
STACK = (REPO / "deploy/local/stack.sh").read_text()
POM = ET.parse(REPO / "deploy/local/oidc/pom.xml").getroot()
NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _stack_value(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)", STACK, re.M)
    assert match, f"stack.sh sets no {name}"
    return match.group(1)


def test_the_pom_resolves_mock_oauth2_server_at_the_version_stack_sh_checks() -> None:
    (dependency,) = POM.findall("m:dependencies/m:dependency", NS)
    assert dependency.findtext("m:groupId", namespaces=NS) == "no.nav.security"
    assert dependency.findtext("m:artifactId", namespaces=NS) == "mock-oauth2-server"
    version = POM.findtext("m:properties/m:mock-oauth2-server.version", namespaces=NS)
    assert version == _stack_value("OIDC_VERSION")


def test_the_default_port_is_the_one_the_tests_look_for() -> None:
    assert "${AGENCYOS_OIDC_PORT:-18080}" in STACK
    assert DEFAULT_OIDC_URL == "http://127.0.0.1:18080"


def test_it_listens_on_loopback_and_is_ready_when_discovery_answers() -> None:
    assert 'SERVER_HOSTNAME="$HOST"' in STACK
    assert "/.well-known/openid-configuration" in STACK


def test_its_login_page_takes_the_user_and_claims_a_test_chooses() -> None:
    config = json.loads((REPO / "deploy/local/oidc/config.json").read_text())
    assert config["interactiveLogin"] is True


def test_it_is_started_and_stopped_with_the_rest_of_the_stack() -> None:
    up = STACK[STACK.index("cmd_up() {") :]
    down = STACK[STACK.index("cmd_down() {") :]
    assert "oidc_start" in up[: up.index("\n}\n")]
    assert "oidc_stop" in down[: down.index("\n}\n")]
