"""The one visibility rule, twice: in SQL (`store.read_after`, the feed) and in Python
(`visibility.sees`, the stream). Over every kind of reader and every kind of entry, both
answer the same set, so the feed and the stream never disagree."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from agencyos.common.db import Database
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.feed.recorder import FeedRecorder
from agencyos.notification.feed.store import read_after
from agencyos.notification.feed.types import TypeFilter
from agencyos.notification.feed.visibility import Viewer, sees
from agencyos.testing.inprocess import Agency, Caller

from .events import project_of
from .scene import Scene, build_scene


def staff(
    who: Caller, projects: set[uuid.UUID] | None, extra: frozenset[str] = frozenset()
) -> Viewer:
    role = Role(who.role)
    return Viewer(
        who.agency_id,
        who.user_id,
        role,
        DEFAULT_ROLE_PERMISSIONS[role] | extra,
        None,
        None if projects is None else frozenset(projects),
    )


def client(who: Caller, client_id: uuid.UUID | None) -> Viewer:
    return Viewer(
        who.agency_id,
        who.user_id,
        Role.CLIENT,
        DEFAULT_ROLE_PERMISSIONS[Role.CLIENT],
        client_id,
        frozenset(),
    )


VIEWERS: dict[str, Callable[[Scene], Viewer]] = {
    "owner": lambda s: staff(s.agency.owner, None),
    "manager": lambda s: staff(s.manager, None),
    "member on project A": lambda s: staff(s.member_on, {project_of(s.project_a)}),
    "member on no project": lambda s: staff(s.member_off, set()),
    "member on both projects": lambda s: staff(
        s.member_off, {project_of(s.project_a), project_of(s.project_b)}
    ),
    "member who approves timesheets": lambda s: staff(
        s.member_on, {project_of(s.project_a)}, frozenset({"timesheets.approve"})
    ),
    "member who reads every project": lambda s: staff(
        s.member_off, None, frozenset({"projects.read_all"})
    ),
    "client user of client A": lambda s: client(s.client_a, s.client_a.client_id),
    "client user of client B": lambda s: client(s.client_b, s.client_b.client_id),
    "client user without a client": lambda s: client(s.client_a, None),
    "API key with the manager role": lambda s: Viewer(
        s.agency.id,
        uuid.UUID(int=7),
        Role.MANAGER,
        DEFAULT_ROLE_PERMISSIONS[Role.MANAGER],
    ),
    "another agency's owner": lambda s: staff(s.other.owner, None),
}


@pytest.mark.parametrize("name", sorted(VIEWERS))
async def test_the_feed_and_the_stream_agree_on_what_a_reader_sees(
    name: str, feed_db: Database, recorder: FeedRecorder, tenant: Agency, other_tenant: Agency
) -> None:
    scene = await build_scene(recorder, tenant, other_tenant)
    viewer = VIEWERS[name](scene)

    async with feed_db.transaction(viewer.tenant_id) as session:
        page = await read_after(session, viewer, None, limit=500)
        # the same, a page of 2 at a time
        paged, after = [], None
        while True:
            step = await read_after(session, viewer, after, limit=2)
            paged.extend(step.entries)
            after = step.through_seq
            if not step.more:
                break

    in_python = {(e.tenant_id, e.seq) for e in scene.entries if sees(viewer, e)}
    assert {(e.tenant_id, e.seq) for e in page.entries} == in_python
    assert [e.seq for e in paged] == [e.seq for e in page.entries]


async def test_the_matrix_is_not_trivial(
    feed_db: Database, recorder: FeedRecorder, tenant: Agency, other_tenant: Agency
) -> None:
    """What the rules mean for a few readers (so the agreement above is about something)."""
    scene = await build_scene(recorder, tenant, other_tenant)

    def seen(name: str) -> set[uuid.UUID]:
        viewer = VIEWERS[name](scene)
        return {e.event_id for e in scene.entries if sees(viewer, e)}

    mine = {e.id for e in scene.ordered}
    assert seen("owner") == mine - {scene.notice_on.id}
    assert seen("member on project A") == {
        scene.project_a.id,
        scene.task_visible.id,
        scene.task_internal.id,
        scene.notice_on.id,
        scene.timesheet_on.id,  # their own, without timesheets.approve
    }
    assert seen("member on no project") == {scene.entry_off.id}
    assert seen("client user of client A") == {
        scene.project_a.id,
        scene.task_visible.id,
        scene.invoice_a.id,
    }
    assert seen("client user of client B") == {
        scene.project_b.id,
        scene.task_b.id,
        scene.invoice_b.id,
    }
    assert seen("client user without a client") == set()
    assert seen("another agency's owner") == {scene.other_project.id, scene.other_task.id}


async def test_a_types_filter_reads_the_same_in_sql_and_in_python(
    feed_db: Database, recorder: FeedRecorder, tenant: Agency, other_tenant: Agency
) -> None:
    scene = await build_scene(recorder, tenant, other_tenant)
    viewer = VIEWERS["owner"](scene)
    wanted = TypeFilter.parse("work.task.*,billing.invoice.sent")

    async with feed_db.transaction(viewer.tenant_id) as session:
        page = await read_after(session, viewer, None, types=wanted, limit=500)

    assert [e.seq for e in page.entries] == [
        e.seq for e in scene.entries if sees(viewer, e) and wanted.matches(e.type)
    ]
    assert {e.type for e in page.entries} == {"work.task.created", "billing.invoice.sent"}
