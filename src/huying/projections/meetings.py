"""联席会议 — a meeting's rows: the meeting, the units in it, and its decisions (议定事项). Pure
functions of the meeting as of its last event; how far each decision's task has come is read
from the directives' rows by the queries (``huying.queries.meetings``)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table

from huying.domain.meeting import Meeting
from huying.domain.meeting_states import Source
from huying.projections.meeting_tables import rm_decisions, rm_meeting_units, rm_meetings
from huying.projections.rows import Row


class MeetingRecord:
    kind = Meeting
    key = "meeting_id"
    tables: tuple[Table, ...] = (rm_meetings, rm_meeting_units, rm_decisions)

    def rows(self, meeting: Meeting, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        meeting_id, seq = str(meeting.id), positions[1]
        return {
            rm_meetings: [
                {
                    "meeting_id": meeting_id,
                    "seq": seq,
                    "position": positions[meeting.version],
                    "version": meeting.version,
                    "convener": meeting.convener,
                    "kind": meeting.kind.value,
                    "title": meeting.title[:200],
                    "scheduled_for": meeting.scheduled_for,
                    "stage": meeting.stage.value,
                    "invited": " ".join(meeting.invited),
                    "agenda_items": len(meeting.agenda),
                    "calls_tabled": sum(i.source is Source.CALL for i in meeting.agenda),
                    "decisions": len(meeting.decisions),
                }
            ],
            rm_meeting_units: [
                {
                    "meeting_id": meeting_id,
                    "unit": unit,
                    "seq": seq,
                    "convener": meeting.convener,
                    "scheduled_for": meeting.scheduled_for,
                    "convening": unit == meeting.convener,
                    "attended": unit in meeting.minutes.attended if meeting.minutes else None,
                }
                for unit in meeting.participants
            ],
            rm_decisions: [
                {
                    "meeting_id": meeting_id,
                    "decision_id": d.id,
                    "seq": seq,
                    "convener": meeting.convener,
                    "title": d.title[:200],
                    "lead_unit": d.lead_unit,
                    "assisting_units": " ".join(d.assisting_units),
                    "responsible_name": d.responsible.name,
                    "responsible_post": d.responsible.post,
                    "deadline": d.deadline,
                    "decided_at": d.decided_at,
                    "task_id": d.task_id,
                    "settles_call": d.settles_call,
                }
                for d in meeting.decisions
            ],
        }
