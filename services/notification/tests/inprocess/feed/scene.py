"""One agency's feed with something for every kind of reader: two clients' projects, tasks
seen by the client or not, invoices, a member's own time and notice; and another agency's
project and task."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from agencyos.common.events import CloudEvent
from agencyos.notification.feed.recorder import Consumed, FeedRecorder
from agencyos.notification.feed.visibility import FeedEntry
from agencyos.testing.inprocess import Agency, Caller

from .events import (
    entry_logged,
    invoice_sent,
    notice_created,
    project_created,
    project_of,
    task_created,
    timesheet_submitted,
)


@dataclass
class Scene:
    agency: Agency
    other: Agency
    manager: Caller
    member_on: Caller  # on project A
    member_off: Caller  # on no project
    client_a: Caller
    client_b: Caller
    project_a: CloudEvent
    task_visible: CloudEvent
    task_internal: CloudEvent
    project_b: CloudEvent
    task_b: CloudEvent
    invoice_a: CloudEvent
    invoice_b: CloudEvent
    notice_on: CloudEvent
    entry_off: CloudEvent  # member_off's time on project A
    timesheet_on: CloudEvent
    other_project: CloudEvent
    other_task: CloudEvent
    entries: list[FeedEntry]

    @property
    def ordered(self) -> list[CloudEvent]:
        """This agency's events in the order recorded."""
        return [
            self.project_a,
            self.task_visible,
            self.task_internal,
            self.project_b,
            self.task_b,
            self.invoice_a,
            self.invoice_b,
            self.notice_on,
            self.entry_off,
            self.timesheet_on,
        ]


async def build_scene(recorder: FeedRecorder, agency: Agency, other: Agency) -> Scene:
    manager, member_on, member_off = (
        agency.caller("manager"),
        agency.caller("member"),
        agency.caller("member"),
    )
    client_a, client_b = agency.caller("client"), agency.caller("client")
    assert client_a.client_id is not None
    assert client_b.client_id is not None
    project_a = project_created(agency, member_on, client_id=client_a.client_id)
    project_b = project_created(agency, client_id=client_b.client_id)
    other_project = project_created(other, client_id=uuid.uuid4())
    scene = Scene(
        agency=agency,
        other=other,
        manager=manager,
        member_on=member_on,
        member_off=member_off,
        client_a=client_a,
        client_b=client_b,
        project_a=project_a,
        task_visible=task_created(agency, project_of(project_a), title="Visible"),
        task_internal=task_created(
            agency, project_of(project_a), title="Internal", visible_to_client=False
        ),
        project_b=project_b,
        task_b=task_created(agency, project_of(project_b), title="Client B's"),
        invoice_a=invoice_sent(agency, client_a.client_id),
        invoice_b=invoice_sent(agency, client_b.client_id),
        notice_on=notice_created(agency, member_on),
        entry_off=entry_logged(agency, member_off, project_of(project_a), client_a.client_id),
        timesheet_on=timesheet_submitted(agency, member_on),
        other_project=other_project,
        other_task=task_created(other, project_of(other_project)),
        entries=[],
    )
    recorded = await recorder.record(
        [Consumed(e) for e in [*scene.ordered, scene.other_project, scene.other_task]]
    )
    assert recorded is not None
    scene.entries = recorded
    return scene
