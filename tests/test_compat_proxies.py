"""Host objects in custom_tools: proxies in out-of-process environments, the object itself
in `local`. Run against the real sandbox worker."""

from __future__ import annotations

import pytest

from conftest import repl
from rlm import RLM
from rlm.environments.proxies import expose
from rlm.environments.sandbox import SandboxREPL


class Row:
    def __init__(self, i: int):
        self.i = i

    def as_dict(self) -> dict:
        return {"id": self.i}


class DB:
    secret = "s3cret"

    def get_row(self, i: int) -> dict:
        return {"id": i, "name": f"row{i}"}

    def row_obj(self, i: int) -> Row:
        return Row(i)

    def ids(self, rows: list) -> list[int]:
        return [r.i for r in rows]

    def _private(self) -> str:
        return "hidden"


@pytest.fixture(scope="module")
def sandbox():
    env = SandboxREPL(custom_tools={"db": DB(), "ro": expose(DB(), "get_row"),
                                    "make_row": Row})  # fmt: skip
    yield env
    env.close()


def run(env, code: str) -> tuple[str, str]:
    result = env.execute_code(code)
    return result.stdout.strip(), result.stderr.strip()


def test_public_method_runs_on_the_host_and_returns_json(sandbox):
    assert run(sandbox, "print(db.get_row(3)['name'])") == ("row3", "")


def test_object_results_become_further_proxies_and_can_be_passed_back(sandbox):
    out, err = run(sandbox, "r = db.row_obj(4)\nprint(r.as_dict(), db.ids([r, db.row_obj(7)]))")
    assert err == "" and out == "{'id': 4} [4, 7]"


@pytest.mark.parametrize(
    "code",
    ["db._private()", "db.__dict__", "db.secret", "db.__getattr__('_private')", "ro.row_obj(1)"],
)
def test_private_dunder_data_and_unlisted_names_are_refused(sandbox, code):
    out, err = run(sandbox, code)
    assert "AttributeError" in err and "hidden" not in out and "s3cret" not in out


def test_proxies_are_read_only(sandbox):
    assert "read-only" in run(sandbox, "db.x = 1")[1]


def test_a_callable_tool_returning_an_object_gives_a_proxy(sandbox):
    assert run(sandbox, "print(make_row(5).as_dict())") == ("{'id': 5}", "")


@pytest.mark.parametrize("environment", ["local", "sandbox"])
def test_rlm_with_a_host_object_tool_returns_the_row(environment):
    rlm = RLM(
        backend="scripted",
        backend_kwargs={"responses": [repl("FINAL(db.get_row(2)['name'])")]},
        environment=environment,
        custom_tools={"db": DB()},
    )
    assert rlm.completion("ctx").response == "row2"
