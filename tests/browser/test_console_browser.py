"""The console in a real browser (Debian's Chromium), as the people in the chain use it: one call
from a grid worker's phone to the 回访 and 销号, a department kept out of another's queue, and a
form filled without signal sent when the network returns. Every page passes axe-core's serious
and critical rules; screenshots are kept under tests/browser/artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .harness import DESK, MONDAY_MORNING, PHONE, Console, eventually, photo_jpeg

GRID, COMMUNITY, STREET = "LW-LN-01-G01", "LW-LN-01", "LW-LN"
TITLE = "十三行路巷口垃圾堆积"


def act(page: Page, legend: str, fields: dict[str, str], button: str) -> None:
    """Fills the form of one move on the call page and sends it."""
    form = page.locator("form.move").filter(has=page.locator("legend", has_text=legend))
    for label, value in fields.items():
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r"done="))


def rate(page: Page, legend: str, choice: str, button: str) -> None:
    """Rates through one of the call page's 一呼一评 forms."""
    form = page.locator("form.move").filter(has=page.locator("legend", has_text=legend))
    form.get_by_label(choice, exact=True).check()
    form.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r"done=rate-"))


def open_call(page: Page, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    page.wait_for_url(re.compile(r"/console/calls/"))


def test_one_call_from_a_phone_to_follow_up_and_the_overview_counts_it(console: Console) -> None:
    # 群众有呼: a grid worker on a phone picks the item by name, takes a photo, shares location.
    phone = console.context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": 23.1176, "longitude": 113.2524},
        permissions=["geolocation"],
    )
    page = console.sign_in(phone, "grid_worker", GRID)
    expect(page).to_have_url(re.compile("/console/raise"))
    page.get_by_label("事项 Item").fill("垃圾堆积")
    page.locator("#item_code").select_option("C01-01")
    page.get_by_label("标题 Title").fill(TITLE)
    page.get_by_label("描述 Description").fill("巷口生活垃圾三天未清运，有异味")
    page.get_by_label("随手拍 Photo").set_input_files(
        {"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}
    )
    page.get_by_role("button", name="使用当前位置 Use my location").click()
    expect(page.locator("#locate-status")).to_contain_text("23.1176")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scroll"
    console.look(page, "01-raise-phone")
    page.get_by_role("button", name="提交 Submit").click()
    page.wait_for_url(re.compile(r"/console/calls/.+done=raise"))
    call_url = page.url.split("?")[0]
    call_id = call_url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.get_by_role("img", name="现场照片 1 Photo 1")).to_be_visible()
    console.look(page, "02-raised")
    page.goto("/console/mine")
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    phone.close()

    # 社区必应: the community finds it awaiting its response, and calls up to the street.
    with console.api("community", COMMUNITY) as api:
        eventually(
            lambda: any(c["id"] == call_id for c in api.get("/calls").json()["data"]), "the call is listed"
        )
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "community", COMMUNITY)
    console.look(page, "03-community-worklist")
    open_call(page, TITLE)
    act(page, "上呼", {"理由 Reason": "清运需城管协调"}, "上呼 Escalate")
    expect(page.locator(".state")).to_contain_text("街道")
    desk.close()

    # 街道必应: the street responds and dispatches to 城管 (CG).
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "street", STREET)
    open_call(page, TITLE)
    act(page, "响应", {}, "响应 Acknowledge")
    form = page.locator("form.move").filter(has=page.locator("legend", has_text="派单"))
    form.get_by_label("牵头部门 Lead department").select_option("CG")
    form.get_by_label("派单要求 Instructions").fill("三日内清运并设置分类收集点")
    console.look(page, "04-street-dispatch")
    form.get_by_role("button", name="派单 Dispatch").click()
    page.wait_for_url(re.compile("done=dispatch"))
    desk.close()

    # 部门必应: the department signs from its queue and completes.
    with console.api("department", "CG") as api:
        eventually(lambda: bool(api.get("/departments/CG/work-orders").json()["data"]), "the order is queued")
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "department", "CG")
    console.look(page, "05-department-queue")
    page.get_by_role("button", name="签收 Sign").first.click()
    page.wait_for_url(re.compile("done=sign"))
    act(page, "部门办结", {"办理结果 Result": "已清运，设置临时收集点"}, "部门办结 Complete")
    desk.close()

    # The street resolves; the community records the 回访 and strikes it off (销号).
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "street", STREET)
    page.goto(call_url)
    act(page, "办结", {"办结情况 Summary": "城管已清运"}, "办结 Resolve")
    rate(page, "街道评部门", "基本满意", "街道评部门 Rate the department's work")  # 一呼一评
    expect(page.locator(".rating")).to_contain_text("街道评价 Street's rating: 基本满意")
    desk.close()
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "community", COMMUNITY)
    page.goto(call_url)
    form = page.locator("form.move").filter(has=page.locator("legend", has_text="回访"))
    form.get_by_label("已解决 yes").check()
    form.get_by_label("满意度 Satisfaction").select_option("satisfied")
    form.get_by_role("button", name="回访 Record follow-up").click()
    page.wait_for_url(re.compile("done=evaluate"))
    act(page, "销号", {}, "销号 Close")
    expect(page.locator(".state")).to_contain_text("已销号")
    rate(page, "社区评街道", "满意", "社区评街道 Rate the street's response")  # closed, still rated once
    expect(page.get_by_role("button")).to_have_count(
        1
    )  # 退出 Sign out only: no move is left on a closed call
    console.look(page, "06-closed-call")
    desk.close()

    # 督办: the supervisor's overview of the street shows this call, as the API counts it.
    with console.api("supervisor", "LW") as api:
        eventually(
            lambda: api.get("/ledger", params={"unit": STREET}).json()["summary"]["open"] == 0, "struck off"
        )
        board = api.get("/dashboards/sla", params={"unit": STREET}).json()
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "supervisor", "LW")
    page.goto(f"/console/overview?unit={STREET}")
    console.look(page, "07-overview")
    shown = {
        row.get_attribute("data-level"): {
            cell.get_attribute("data-figure"): cell.inner_text()
            for cell in row.locator("td[data-figure]").all()
        }
        for row in page.locator("#backlog tbody tr").all()
    }
    for series in board["series"]:
        level = shown[series["level"]]
        assert level["received"] == "1" == str(series["totals"]["received"])
        assert level["open"] == "0" == str(series["backlog"]["open"])
        assert level["overdue"] == "0"
    assert shown["street"]["acknowledged_on_time"] == "1 / 1"
    expect(page.locator(f'#scores-street tr[data-unit="{STREET}"] td[data-figure="evaluated"]')).to_have_text(
        "1"
    )
    desk.close()


def test_a_department_cannot_open_another_departments_queue(console: Console) -> None:
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "department", "CG")
    expect(page).to_have_url(re.compile("/console/queue/CG"))
    answer = page.goto("/console/queue/SW")
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_contain_text("无法办理")
    expect(page.locator("table")).to_have_count(0)
    console.look(page, "08-other-queue-refused")
    desk.close()


def test_a_form_filled_without_signal_is_sent_when_the_network_returns(console: Console) -> None:
    grid = "LW-DB-01-G01"
    with console.api("grid_worker", grid) as api:  # an open call of the same item in the same grid
        earlier = api.post(
            "/calls",
            json={
                "item_code": "C01-02",
                "grid_code": grid,
                "channel": "grid_worker",
                "title": "多宝路井边垃圾",
                "description": "已两天",
            },
        )
        assert earlier.status_code == 201, earlier.text
    phone = console.context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.clock.set_system_time(MONDAY_MORNING)  # the phone's clock agrees with huying's (a fake one here)
    page = console.sign_in(phone, "grid_worker", grid)
    page.locator("#item_code").select_option("C01-02")
    expect(page.locator("#duplicates")).to_contain_text("多宝路井边垃圾")  # shown before submitting
    phone.set_offline(True)
    page.get_by_label("标题 Title").fill("多宝路三巷积水")
    page.get_by_label("描述 Description").fill("没有信号时填写")
    page.get_by_role("button", name="提交 Submit").click()
    expect(page.locator("#offline-status")).to_contain_text("已保存在本机")
    expect(page.locator("#offline-list li")).to_have_count(1)
    console.look(page, "09-offline-kept")
    phone.set_offline(False)
    page.wait_for_function(
        "() => JSON.parse(localStorage.getItem('huying.offline.raise') || '[]').length === 0"
    )
    with console.api("grid_worker", grid) as api:

        def sent() -> bool:
            return len(api.get("/calls", params={"q": "多宝路三巷积水"}).json()["data"]) == 1

        eventually(sent, "the call kept on the phone arrives, once")
    phone.close()


def test_the_other_pages_pass_the_accessibility_check_too(console: Console) -> None:
    """The pages the scenario above does not pass through, each as the role that uses it."""
    desk = console.context(viewport=DESK)
    page = desk.new_page()
    page.goto("/console/login")
    console.look(page, "10-sign-in")
    for role, unit, path, name in (
        ("street", STREET, "/console/work", "11-street-worklist"),
        ("auditor", "LW", "/console/audit?check=true", "12-audit"),
        ("admin", "LW", "/console/admin", "13-admin"),
        ("grid_worker", GRID, "/console/mine", "14-my-calls"),
        ("supervisor", "LW", "/console/assessment", "15-assessment"),
        ("supervisor", "LW", "/console/publications", "16-publications"),
        ("admin", "LW", "/console/admin/catalog/C11-01", "17-catalog-item"),
        ("admin", "LW", "/console/admin/catalog/new", "18-catalog-new"),
        ("supervisor", "LW", "/console/assessment?period=abc", "19-invalid-query"),
    ):
        page = console.sign_in(desk, role, unit)
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        console.look(page, name)
        page.get_by_role("button", name="退出 Sign out").click()
        page.wait_for_url(re.compile("/console/login"))
    desk.close()


def test_a_directive_from_issue_to_acceptance_and_a_joint_meeting_to_its_decision(console: Console) -> None:
    """令行禁止: the district issues, the street (on a phone) receives and reports, the district
    accepts. 联席会议: the street convenes its 大工委, takes the minutes and records a decision,
    whose task the board links. Each new page passes the accessibility check."""
    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "supervisor", "LW")
    page.goto("/console/directives/new")
    page.get_by_label("标题 Title").fill("背街小巷环境整治")
    page.get_by_label("接收单位 Targets").select_option([STREET])
    page.get_by_label("完成时限（工作日）Working days").fill("10")
    console.look(page, "15-directive-new")
    page.get_by_role("button", name="下达 Issue").click()
    page.wait_for_url(re.compile(r"/console/directives/.+done=issue"))
    directive_url = page.url.split("?")[0]
    desk.close()

    phone = console.context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = console.sign_in(phone, "street", STREET)
    page.goto("/console/directives")
    expect(page.get_by_role("table", name=re.compile("待签收")).get_by_role("link")).to_have_text(
        "背街小巷环境整治"
    )
    console.look(page, "16-my-directives-phone")
    page.goto(directive_url)
    act(page, "签收", {}, "签收 Receive")
    act(page, "办结反馈", {"办理结果 Result": "已整治 12 条街巷"}, "办结反馈 Report done")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scroll"
    console.look(page, "17-directive-reported-phone")
    phone.close()

    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "supervisor", "LW")
    page.goto(directive_url)
    act(page, "验收", {"意见（选填）Note": "合格"}, "验收 Accept")
    expect(page.locator("#h-targets + table, section[aria-labelledby=h-targets] table")).to_contain_text(
        "已验收"
    )
    console.look(page, "18-directive-accepted")
    desk.close()

    desk = console.context(viewport=DESK)
    page = console.sign_in(desk, "street", STREET)
    page.goto("/console/meetings")
    page.get_by_label("会议名称 Title").fill("岭南街道大工委联席会议")
    page.get_by_label("时间 When").fill("2026-11-25T14:30")
    page.get_by_label("邀请单位 Invited").select_option(["CG", COMMUNITY])
    console.look(page, "19-meetings")
    page.get_by_role("button", name="召集 Convene").click()
    page.wait_for_url(re.compile(r"/console/meetings/.+done=convene"))
    act(page, "提出议题", {"议题 Title": "十三行路口垃圾清运"}, "提出议题 Propose an item")
    act(page, "记录会议纪要", {"讨论情况 Discussion": "城管牵头，社区配合"}, "记录会议纪要 Record minutes")
    form = page.locator("form.move").filter(has=page.locator("legend", has_text="记录议定事项"))
    form.get_by_label("议定事项 Title").fill("十三行路口垃圾清运由城管牵头")
    form.get_by_label("牵头单位 Lead unit").select_option("CG")
    form.get_by_label("责任人 Responsible").fill("王五")
    form.get_by_label("职务 Post").fill("城管执法队队长")
    form.get_by_label("完成时限 Deadline").fill("2026-12-18T18:00")
    form.get_by_role("button", name="记录议定事项 Record a decision").click()
    page.wait_for_url(re.compile("done=decide"))
    expect(page.get_by_role("link", name="任务看板 Task")).to_be_visible()
    console.look(page, "20-meeting-decided")
    page.goto("/console/search?q=垃圾")
    console.look(page, "21-search")
    desk.close()
