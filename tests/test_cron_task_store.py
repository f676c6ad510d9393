from __future__ import annotations

import json
import multiprocessing
import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.cron.store import (
    MAX_TASKS,
    FileTaskStore,
    SessionTaskStore,
    TaskFileError,
    TaskLimitError,
)
from agent.cron.task import CronTask, new_task_id

EMPTY_FILE = '{\n  "tasks": []\n}\n'


def make_task(task_id: str = "0a1b2c3d", **fields: object) -> CronTask:
    values: dict = {"id": task_id, "cron": "*/5 * * * *", "prompt": "check", "createdAt": 1_700_000_000_000}
    values.update(fields)
    return CronTask(**values)


def write_json(store: FileTaskStore, data: object) -> bytes:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    raw = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    store.path.write_bytes(raw)
    return raw


# --- CronTask --------------------------------------------------------------------------------------


def test_new_task_id_is_eight_lowercase_hex_characters() -> None:
    ids = {new_task_id() for _ in range(50)}
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids) and len(ids) > 45


@pytest.mark.parametrize("bad_id", ["ABCDEF12", "abc", "abcdef123", "ghijklmn", "", "0a1b2c3 "])
def test_task_id_must_be_eight_lowercase_hex(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        make_task(bad_id)


def test_optional_fields_are_written_only_when_set() -> None:
    assert list(make_task().to_json_dict()) == ["id", "cron", "prompt", "createdAt"]
    full = make_task(recurring=True, permanent=True, lastFiredAt=5).to_json_dict()
    assert full["recurring"] is True and full["permanent"] is True and full["lastFiredAt"] == 5


def test_durable_flag_is_never_written() -> None:
    assert "durable" not in make_task(durable=True).to_json_dict()


def test_task_read_from_disk_keeps_key_order_unknown_fields_and_explicit_defaults() -> None:
    raw = {"prompt": "p", "x-extra": {"a": [1]}, "recurring": False}
    raw |= {"id": "0a1b2c3d", "createdAt": 1, "cron": "0 * * * *"}
    task = CronTask.from_json_dict(raw)
    assert task.to_json_dict() == raw and list(task.to_json_dict()) == list(raw)
    fired = task.with_last_fired(99).to_json_dict()
    assert list(fired) == [*raw, "lastFiredAt"] and fired["lastFiredAt"] == 99


@pytest.mark.parametrize(
    "field_value", [("recurring", "true"), ("createdAt", 1.5), ("createdAt", True), ("prompt", 5)]
)
def test_task_fields_are_strictly_typed(field_value: tuple[str, object]) -> None:
    name, value = field_value
    with pytest.raises(ValidationError):
        make_task(**{name: value})


# --- FileTaskStore: basics -------------------------------------------------------------------------


def test_missing_file_means_no_tasks_and_no_problems(tmp_path: Path) -> None:
    loaded = FileTaskStore(tmp_path).load()
    assert loaded.tasks == [] and loaded.problems == []
    assert not (tmp_path / ".claude").exists()


def test_add_creates_the_folder_and_writes_claude_code_layout(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task(prompt="vérifier ✓", recurring=True))
    text = store.path.read_text(encoding="utf-8")
    assert store.path == tmp_path / ".claude" / "scheduled_tasks.json"
    assert text.endswith("}\n") and '\n  "tasks": [\n    {\n      "id": "0a1b2c3d",' in text
    assert "vérifier ✓" in text  # UTF-8, not \u escapes
    assert [t.prompt for t in store.load().tasks] == ["vérifier ✓"]


def test_tasks_file_lock_is_a_sibling_not_the_scheduler_lock(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task())
    assert store.lock_path == tmp_path / ".claude" / "scheduled_tasks.json.lock"
    assert not (tmp_path / ".claude" / "scheduled_tasks.lock").exists()


def test_removing_the_last_task_leaves_an_empty_task_list(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task("0000000a"))
    store.add(make_task("0000000b"))
    assert store.remove(["0000000b", "0000000a", "ffffffff"]) == ["0000000a", "0000000b"]
    assert store.path.read_text() == EMPTY_FILE


def test_remove_of_unknown_ids_does_not_rewrite_the_file(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task())
    before = os.stat(store.path)
    assert store.remove(["ffffffff"]) == []
    assert store.mark_fired(["ffffffff"], 5) == []
    after = os.stat(store.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_changes_without_a_file_do_not_create_one(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    assert store.remove(["0a1b2c3d"]) == [] and store.mark_fired(["0a1b2c3d"], 1) == []
    assert not (tmp_path / ".claude").exists()


def test_mark_fired_sets_last_fired_at_on_the_named_tasks_only(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task("0000000a", recurring=True))
    store.add(make_task("0000000b", recurring=True))
    assert store.mark_fired(["0000000b"], 1_234) == ["0000000b"]
    fired = {t.id: t.lastFiredAt for t in store.load().tasks}
    assert fired == {"0000000a": None, "0000000b": 1_234}


def test_file_store_refuses_more_than_its_limit(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    for n in range(MAX_TASKS):
        store.add(make_task(f"{n:08x}"))
    with pytest.raises(TaskLimitError, match=r"^Too many scheduled jobs \(max 50\)\. Cancel one first\.$"):
        store.add(make_task("ffffffff"))
    with pytest.raises(TaskLimitError):
        FileTaskStore(tmp_path).add(make_task("fffffffe"), max_tasks=10)
    assert len(store.load().tasks) == MAX_TASKS


def test_adding_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task())
    with pytest.raises(ValueError, match="already exists"):
        store.add(make_task(prompt="other"))


# --- round trip with files written by others ---------------------------------------------------------

CLAUDE_CODE_FILE = """{
  "tasks": [
    {
      "id": "1f2e3d4c",
      "cron": "30 14 * * *",
      "prompt": "Remind me: stand-up notes ✓",
      "createdAt": 1772461234567,
      "recurring": false,
      "origin": {"kind": "cli", "version": "2.1.0"}
    },
    {
      "createdAt": 1772461234000,
      "prompt": "check ```the``` build",
      "cron": "*/15 * * * *",
      "id": "aa00bb11",
      "recurring": true,
      "lastFiredAt": 1772461300000,
      "label": null
    }
  ],
  "version": 3
}
"""


def _reformatted(text: str) -> str:
    return json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_claude_code_file_round_trips_byte_for_byte_through_add_and_remove(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    original = _reformatted(CLAUDE_CODE_FILE)
    store.path.parent.mkdir()
    store.path.write_text(original, encoding="utf-8")
    store.add(make_task("99999999"))
    store.remove(["99999999"])
    assert store.path.read_text(encoding="utf-8") == original


def test_mark_fired_keeps_unknown_fields_key_order_and_top_level_keys(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.path.parent.mkdir()
    store.path.write_text(CLAUDE_CODE_FILE, encoding="utf-8")
    store.mark_fired(["aa00bb11"], 1772461999999)
    data = json.loads(store.path.read_text(encoding="utf-8"))
    assert data["version"] == 3
    second = data["tasks"][1]
    assert list(second) == ["createdAt", "prompt", "cron", "id", "recurring", "lastFiredAt", "label"]
    assert second["lastFiredAt"] == 1772461999999 and second["label"] is None
    assert data["tasks"][0]["origin"] == {"kind": "cli", "version": "2.1.0"}
    assert data["tasks"][0]["recurring"] is False


# --- malformed entries ---------------------------------------------------------------------------------

MALFORMED = [
    "just a string",
    {"id": "ZZZZZZZZ", "cron": "* * * * *", "prompt": "bad id", "createdAt": 1},
    {"id": "0000000c", "cron": "61 * * * *", "prompt": "bad cron", "createdAt": 1},
    {"id": "0000000d", "prompt": "no cron", "createdAt": 1},
    {"id": "0000000e", "cron": "* * * * *", "prompt": "typed", "createdAt": "yesterday"},
    {"id": "0000000a", "cron": "* * * * *", "prompt": "duplicate", "createdAt": 1},
    17,
]


def test_malformed_entries_are_skipped_with_problems_naming_them(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    good = make_task("0000000a").to_json_dict()
    write_json(store, {"tasks": [good, *MALFORMED]})
    loaded = store.load()
    assert [t.id for t in loaded.tasks] == ["0000000a"]
    problems = loaded.problems
    assert len(problems) == len(MALFORMED)
    assert problems[0].startswith("tasks[1]: not an object but str")
    assert problems[1].startswith("tasks[2] (id 'ZZZZZZZZ'): id:")
    assert "tasks[3] (id '0000000c'): bad cron '61 * * * *'" in problems[2] and "minute" in problems[2]
    assert problems[3].startswith("tasks[4] (id '0000000d'): cron: Field required")
    assert problems[4].startswith("tasks[5] (id '0000000e'): createdAt:")
    assert problems[5].startswith("tasks[6] (id '0000000a'): duplicate id")
    assert problems[6].startswith("tasks[7]: not an object but int")
    assert all(p.endswith("skipped and left in the file unchanged") for p in problems)


def test_malformed_entries_stay_on_disk_in_place_through_changes(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    write_json(store, {"tasks": [MALFORMED[0], make_task("0000000a").to_json_dict(), *MALFORMED[1:]]})
    store.add(make_task("0000000b"))
    store.mark_fired(["0000000a"], 7)
    store.remove(["0000000b"])
    entries = json.loads(store.path.read_text(encoding="utf-8"))["tasks"]
    assert entries[0] == MALFORMED[0] and entries[2:] == MALFORMED[1:]
    assert entries[1]["lastFiredAt"] == 7
    store.remove(["0000000a"])
    assert json.loads(store.path.read_text(encoding="utf-8"))["tasks"] == MALFORMED


# --- unreadable files ----------------------------------------------------------------------------------

UNREADABLE = {
    "not json": (b'{"tasks": [', "not valid JSON"),
    "empty": (b"", "empty"),
    "top-level list": (b"[]\n", "the top level is list, not an object"),
    "tasks not a list": (b'{"tasks": {"id": "0000000a"}}\n', '"tasks" is not a list'),
    "not utf-8": (b'{"tasks": [], "x": "\xff\xfe"}\n', "not UTF-8"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_file_is_never_overwritten(tmp_path: Path, case: str) -> None:
    content, reason = UNREADABLE[case]
    store = FileTaskStore(tmp_path)
    store.path.parent.mkdir()
    store.path.write_bytes(content)
    operations = [
        store.load,
        lambda: store.add(make_task()),
        lambda: store.remove(["0000000a"]),
        lambda: store.mark_fired(["0000000a"], 1),
    ]
    for operation in operations:
        with pytest.raises(TaskFileError) as info:
            operation()
        message = str(info.value)
        assert str(store.path) in message and "could not be read as a list of tasks" in message
        assert "left unchanged" in message and reason in message
    assert store.path.read_bytes() == content


def test_file_without_tasks_key_is_an_empty_list_and_keeps_its_keys(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    write_json(store, {"owner": "me"})
    assert store.load().tasks == []
    store.add(make_task())
    data = json.loads(store.path.read_text())
    assert data["owner"] == "me" and [t["id"] for t in data["tasks"]] == ["0a1b2c3d"]


# --- atomic writes -------------------------------------------------------------------------------------


def test_leftover_temp_file_from_a_killed_writer_does_not_break_load_and_the_next_write_removes_it(
    tmp_path: Path,
) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task())
    leftover = store.path.with_name(".scheduled_tasks.json.k1ll3d.tmp")
    leftover.write_text('{"tasks": [{"id": "0000', encoding="utf-8")
    unrelated = store.path.with_name(".settings.json.k1ll3d.tmp")
    unrelated.write_text("not ours")
    assert [t.id for t in store.load().tasks] == ["0a1b2c3d"]
    store.add(make_task("0000000b"))
    assert len(store.load().tasks) == 2
    assert not leftover.exists() and unrelated.exists()


def test_failed_replace_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task())
    before = store.path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(TaskFileError, match="could not be written and was left unchanged: disk on fire"):
        store.add(make_task("0000000b"))
    assert store.path.read_bytes() == before
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_rewrite_keeps_the_file_permissions(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(make_task())
    store.path.chmod(0o640)
    store.add(make_task("0000000b"))
    assert store.path.stat().st_mode & 0o777 == 0o640


def _add_six(project: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    store = FileTaskStore(project)
    start.wait()
    for n in range(6):
        store.add(make_task(f"{worker:04x}{n:04x}", prompt=f"worker {worker} task {n}"))


def test_eight_processes_adding_at_once_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    workers = [ctx.Process(target=_add_six, args=(str(tmp_path), w, start)) for w in range(8)]
    for proc in workers:
        proc.start()
    start.set()
    for proc in workers:
        proc.join(timeout=30)
    assert [proc.exitcode for proc in workers] == [0] * 8
    loaded = FileTaskStore(tmp_path).load()
    assert loaded.problems == []
    assert sorted(t.id for t in loaded.tasks) == sorted(f"{w:04x}{n:04x}" for w in range(8) for n in range(6))


# --- SessionTaskStore -----------------------------------------------------------------------------------


def test_session_store_adds_lists_marks_and_removes() -> None:
    store = SessionTaskStore()
    store.add(make_task("0000000a", recurring=True))
    store.add(make_task("0000000b"))
    assert store.mark_fired(["0000000a", "ffffffff"], 42) == ["0000000a"]
    assert {t.id: t.lastFiredAt for t in store.load().tasks} == {"0000000a": 42, "0000000b": None}
    assert store.remove(["0000000b", "ffffffff"]) == ["0000000b"]
    loaded = store.load()
    assert [t.id for t in loaded.tasks] == ["0000000a"] and loaded.problems == []


def test_session_store_enforces_limit_and_unique_ids() -> None:
    store = SessionTaskStore()
    store.add(make_task("0000000a"))
    with pytest.raises(ValueError, match="already exists"):
        store.add(make_task("0000000a"))
    with pytest.raises(TaskLimitError, match=r"max 50"):
        store.add(make_task("0000000b"), max_tasks=1)


def test_tasks_with_equal_data_are_equal_whatever_their_source_key_order() -> None:
    created = make_task(recurring=True)
    read = CronTask.from_json_dict(dict(reversed(list(created.to_json_dict().items()))))
    assert read == created and hash(read) == hash(created)
    assert read != created.with_last_fired(1)
