"""What people read: Chinese labels (English beside) for the codes the domain speaks, and times
in Beijing time. Display only — no rule lives here."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")

STATUS = {
    "awaiting_response": "待响应",
    "in_progress": "办理中",
    "dispatched": "已派单",
    "returned": "已退单",
    "resolved": "已办结",
    "evaluated": "已回访",
    "closed": "已销号",
    "withdrawn": "已撤回",
    "merged": "已合并",
}
ORDER_STATUS = {
    "dispatched": "待签收",
    "signed": "已签收",
    "returned": "已退单",
    "completed": "已办结",
    "cancelled": "已取消",
}
LEVEL = {"community": "社区", "street": "街道", "department": "部门"}
ROLE = {
    "grid_worker": "网格员",
    "community": "社区",
    "street": "街道",
    "department": "部门",
    "supervisor": "督办",
    "auditor": "审计",
    "admin": "管理员",
    "system": "系统",
}
CHANNEL = {
    "grid_worker": "网格员上报",
    "photo": "随手拍",
    "hotline": "热线",
    "council": "议事会",
    "walk_in": "来访",
    "open311": "市民应用",
}
URGENCY = {"normal": "一般", "urgent": "紧急", "emergency": "应急"}
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
ORDER_ROLE = {"lead": "牵头", "assist": "协办"}
PRIORITY = {"normal": "一般", "high": "较急", "urgent": "紧急"}
TIME_UNIT = {"working_hours": "工作小时", "working_days": "工作日", "minutes": "分钟（应急）"}
# 事项清单 edits: (Chinese, English) of each, as the admin page says it was done.
CATALOG_EDIT = {
    "added": ("已新增事项", "Item added"),
    "changed": ("已修改事项", "Item changed"),
    "retired": ("已停用事项", "Item retired"),
    "restored": ("已恢复事项", "Item restored"),
}
# A clock's kind (the part of its key after the colon: ``stint2:response``, ``<order>:sign``).
CLOCK = {"response": "响应时限", "resolution": "办结时限", "sign": "签收时限", "completion": "办理期限"}
OUTCOME = {"escalated": "上呼", "resolved": "办结", "withdrawn": "撤回", "merged": "合并"}

# Each action of the transition table: (Chinese, English) for its button.
ACTION = {
    "acknowledge": ("响应", "Acknowledge"),
    "escalate": ("上呼", "Escalate"),
    "dispatch": ("派单", "Dispatch"),
    "sign": ("签收", "Sign"),
    "return": ("退单", "Return"),
    "request-extension": ("申请延期", "Request extension"),
    "extension/grant": ("同意延期", "Grant extension"),
    "extension/deny": ("不同意延期", "Deny extension"),
    "progress": ("进展", "Progress note"),
    "complete": ("部门办结", "Complete"),
    "resolve": ("办结", "Resolve"),
    "evaluate": ("回访", "Record follow-up"),
    "reopen": ("重办", "Reopen"),
    "close": ("销号", "Close"),
    "withdraw": ("撤回", "Withdraw"),
    "merge": ("合并", "Merge"),
    "supervise": ("督办", "Supervise"),
    "rate-work-order": ("街道评部门", "Rate the department's work"),
    "rate-response": ("社区评街道", "Rate the street's response"),
    "put-on-agenda": ("提交联席会议", "Put on a joint meeting's agenda"),
}
# Each event type, as the timeline names it.
EVENT = {
    "Raised": "呼叫",
    "Acknowledged": "响应",
    "Escalated": "上呼",
    "Dispatched": "派单",
    "WorkOrderSigned": "签收",
    "WorkOrderReturned": "退单",
    "ExtensionRequested": "申请延期",
    "ExtensionGranted": "同意延期",
    "ExtensionDenied": "不同意延期",
    "ProgressNoted": "进展",
    "WorkOrderCompleted": "部门办结",
    "Resolved": "办结",
    "Evaluated": "回访",
    "Reopened": "重办",
    "Closed": "销号",
    "Withdrawn": "撤回",
    "MergedInto": "合并",
    "Supervised": "督办",
    "PutOnAgenda": "提交上会",
    "WorkOrderRated": "街道评部门",
    "StreetResponseRated": "社区评街道",
}


def beijing(instant: datetime | None, seconds: bool = False) -> str:
    """An instant as people here read it: Beijing time, no offset to decode."""
    if instant is None:
        return "—"
    return instant.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """A span of (working) time, short: 2天3小时, 5小时20分, 12分."""
    if seconds is None:
        return "—"
    minutes = int(abs(seconds)) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{mins}分"
    return f"{mins}分"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


# 令行禁止: a target's stage, and each action of the directive's table.
DIRECTIVE_STAGE = {
    "issued": "待签收",
    "received": "办理中",
    "reported": "待验收",
    "rework": "返工",
    "accepted": "已验收",
    "cancelled": "已撤销",
}
DIRECTIVE_ACTION = {
    "receive": ("签收", "Receive"),
    "progress": ("进展", "Progress note"),
    "report": ("办结反馈", "Report done"),
    "accept": ("验收", "Accept"),
    "send-back": ("返工", "Send back"),
    "request-extension": ("申请延期", "Request extension"),
    "extension/grant": ("同意延期", "Grant extension"),
    "extension/deny": ("不同意延期", "Deny extension"),
    "cancel": ("撤销指令", "Cancel directive"),
    "supervise": ("督办", "Supervise"),
    "issue": ("下达指令", "Issue"),
}
# 联席会议: a meeting's kind and stage, and each action of its table.
MEETING_KIND = {"working_committee": "街道大工委", "party_committee": "社区大党委", "other": "其他联席会议"}
MEETING_STAGE = {"convened": "已召集", "held": "已召开", "closed": "已结束", "cancelled": "已取消"}
MEETING_ACTION = {
    "propose": ("提出议题", "Propose an item"),
    "table-call": ("呼叫提交上会", "Put a call on the agenda"),
    "minutes": ("记录会议纪要", "Record minutes"),
    "decide": ("记录议定事项", "Record a decision"),
    "close": ("结束会议", "Close"),
    "cancel": ("取消会议", "Cancel"),
    "convene": ("召集会议", "Convene"),
}
