"""A contract's status and history change through one door: `server/contracts/transitions.py`.

A scan reads the source of every module the application runs, with `ast`, and fails if any
other module writes a contract's status (an assignment, an ORM or Core UPDATE, raw SQL) or
its history. The tests after it show the door keeping to the state table and writing history,
with who acted, for the set-based expiry and for a payment's activation.
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from server.common.timeutil import local_today, utcnow
from server.contracts import services, transitions
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ALLOWED_TRANSITIONS, LIVE_STATES, ContractStatus, can_transition
from server.demo import seed
from server.extensions import db
from server.payments import services as payments
from server.payments.models import OrderStatus, PaymentOrder
from tests import factories

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "admin", "miniprogram_api")
DOOR = "server/contracts/transitions.py"
# The door's one in-memory step: the state table's check, setting the fields the door records.
MODEL_STEP = ("server/contracts/models.py", "Contract.transition")
# Modules that may write contract states or history without the door, and why.
EXEMPT = {
    "server/demo/seed.py": "the demo writes a made-up past at the moments it happened, thousands of contracts in "
                           "one INSERT per table, where the door writes the present; "
                           "test_the_demo_history_is_one_the_door_could_have_written holds it to the state table",
}

_STATUS_SQL = re.compile(r"\bupdate\s+[\"`]?contract[\"`]?\s[\s\S]*\bstatus\b", re.IGNORECASE)
_HISTORY_SQL = re.compile(r"\binsert\s+into\s+[\"`]?contract_event\b", re.IGNORECASE)


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    where: str  # the enclosing class and function, dotted; "" at module level
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.where or 'module'}): {self.kind}"


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _mentions(node: ast.AST | None, name: str) -> bool:
    return node is not None and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _names_contract_table(node: ast.AST) -> bool:
    """`Contract`, `Contract.__table__` or a `table("contract")` somewhere inside `node`."""
    return any((isinstance(n, ast.Name) and n.id == "Contract")
               or (isinstance(n, ast.Constant) and n.value == "contract") for n in ast.walk(node))


def _sets_status(node: ast.AST) -> bool:
    """`status=`, `{"status": …}` or `{Contract.status: …}` somewhere inside `node`."""
    for n in ast.walk(node):
        if isinstance(n, ast.keyword) and n.arg == "status":
            return True
        if isinstance(n, ast.Dict) and any((isinstance(k, ast.Constant) and k.value == "status")
                                           or (isinstance(k, ast.Attribute) and k.attr == "status") for k in n.keys):
            return True
    return False


class _Scanner(ast.NodeVisitor):
    """Collects every write of a contract's status or history in one module."""

    def __init__(self, path: str) -> None:
        self.path, self.scope, self.statement = path, [], None
        self.found: list[Write] = []

    def _add(self, node: ast.AST, kind: str) -> None:
        self.found.append(Write(self.path, node.lineno, ".".join(self.scope), kind))

    def _scoped(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _scoped

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            outer, self.statement = self.statement, node
            super().visit(node)
            self.statement = outer
        else:
            super().visit(node)

    def _about_contract(self, obj: ast.expr, value: ast.expr | None) -> bool:
        return (_mentions(value, "ContractStatus") or "contract" in ast.unparse(obj).lower()
                or (isinstance(obj, ast.Name) and obj.id == "self" and "Contract" in self.scope))

    def _assigned(self, target: ast.expr, value: ast.expr | None, node: ast.stmt) -> None:
        targets = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
        for one in targets:
            if isinstance(one, ast.Attribute) and one.attr == "status" and self._about_contract(one.value, value):
                self._add(node, "status assigned")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._assigned(target, node.value, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign | ast.AnnAssign) -> None:
        self._assigned(node.target, node.value, node)
        self.generic_visit(node)

    visit_AnnAssign = visit_AugAssign

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if (name == "setattr" and len(node.args) == 3 and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "status" and self._about_contract(node.args[0], node.args[2])):
            self._add(node, "status assigned")
        elif name == "transition" and receiver is not None and (
                "contract" in ast.unparse(receiver).lower() or any(_mentions(a, "ContractStatus") for a in node.args)):
            self._add(node, "transition called")
        elif name in ("update", "bulk_update_mappings") and (
                any(_names_contract_table(a) for a in node.args) or (receiver and _names_contract_table(receiver))):
            if _sets_status(self.statement):
                self._add(node, "status updated")
        elif name == "ContractEvent" or ("insert" in name.lower() and any(
                _mentions(a, "ContractEvent") or (isinstance(a, ast.Constant) and a.value == "contract_event")
                for a in node.args)):
            self._add(node, "history written")
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):  # a docstring
            self.generic_visit(node)

    def _sql(self, node: ast.AST, text: str) -> None:
        if _STATUS_SQL.search(text):
            self._add(node, "status updated in SQL")
        if _HISTORY_SQL.search(text):
            self._add(node, "history written in SQL")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._sql(node, node.value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._sql(node, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.visit(value.value)


def scan(source: str, path: str = "snippet.py") -> list[Write]:
    scanner = _Scanner(path)
    scanner.visit(ast.parse(source))
    return scanner.found


def scan_application() -> list[Write]:
    found = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            found += scan(file.read_text(encoding="utf-8"), file.relative_to(ROOT).as_posix())
    return found


def _through_the_door(write: Write) -> bool:
    return write.path == DOOR or (write.path, write.where) == MODEL_STEP


@pytest.mark.no_db
def test_no_module_but_the_door_writes_a_contract_status_or_history():
    outside = [str(w) for w in scan_application() if not _through_the_door(w) and w.path not in EXEMPT]
    assert outside == [], "contract status and history change only in " + DOOR


@pytest.mark.no_db
def test_the_door_and_the_exemptions_are_where_the_writes_are():
    """The scan finds the door's own writes (so it reads real code) and each exemption is still needed."""
    found = scan_application()
    kinds = {w.kind for w in found if w.path == DOOR}
    assert {"status updated", "history written", "transition called"} <= kinds
    assert {w.kind for w in found if (w.path, w.where) == MODEL_STEP} == {"status assigned", "history written"}
    assert all(any(w.path == path for w in found) for path in EXEMPT)


@pytest.mark.no_db
@pytest.mark.parametrize("source, kind", [
    ("contract.status = ContractStatus.EXPIRED", "status assigned"),
    ("row.status = ContractStatus.CANCELLED if paid else ContractStatus.ACTIVE", "status assigned"),
    ("current.status, x = target, 1\nnew_contract.status += ''", "status assigned"),
    ("class Contract:\n    def end(self):\n        self.status = 'expired'", "status assigned"),
    ("setattr(contract, 'status', target)", "status assigned"),
    ("db.session.add(contract.transition(ContractStatus.ACTIVE, reason='x'))", "transition called"),
    ("db.session.execute(sa.update(Contract).where(Contract.id == 1).values(status=ContractStatus.EXPIRED))",
     "status updated"),
    ("db.session.query(Contract).filter_by(id=1).update({'status': 'expired'})", "status updated"),
    ("count = db.session.execute(update(Contract.__table__).values({Contract.status: 'expired'})).rowcount",
     "status updated"),
    ("db.session.execute(sa.table('contract', sa.column('status')).update().values(status='expired'))",
     "status updated"),
    ("db.session.execute(sa.update(Contract), [{'id': 1, 'status': 'expired'}])", "status updated"),
    ("db.session.execute(sa.text('UPDATE contract SET status = :s WHERE id = :i'), {})", "status updated in SQL"),
    ("db.session.execute(sa.text(f'update \"contract\" set ended_at = now(), status = {s!r}'))",
     "status updated in SQL"),
    ("db.session.add(ContractEvent(contract_id=1, to_status=ContractStatus.ACTIVE))", "history written"),
    ("db.session.execute(sa.insert(ContractEvent).values(contract_id=1))", "history written"),
    ("_insert(ContractEvent, rows)", "history written"),
    ("db.session.execute(sa.text('INSERT INTO contract_event (contract_id) VALUES (1)'))", "history written in SQL"),
])
def test_the_scan_sees_each_way_of_writing(source, kind):
    found = scan(source)
    assert found and {w.kind for w in found} == {kind}


@pytest.mark.no_db
@pytest.mark.parametrize("source", [
    "order.status = OrderStatus.PAID",
    "agreement.status = target",
    "db.session.execute(sa.update(PaymentOrder).values(status=OrderStatus.CLOSED))",
    "details.update(status='x')",
    "contract = Contract(status=ContractStatus.ACTIVE, period_year=2026)",
    "db.session.execute(sa.update(Contract).values(doctor_staff_id=2))",
    "db.session.execute(sa.text('UPDATE contract_event SET reason = :r'))",
    "db.session.scalars(sa.select(Contract).where(Contract.status == ContractStatus.ACTIVE))",
    'def f():\n    """UPDATE contract SET status: said in a docstring, done nowhere."""',
])
def test_the_scan_lets_other_writes_and_reads_be(source):
    assert scan(source) == []


# --- The door at work -----------------------------------------------------------------------------

def _contract_for_a_newcomer(world, name: str, status: ContractStatus) -> Contract:
    resident = factories.make_resident(world.regions["A"], name)
    return factories.make_contract(resident, world.teams["T1"], world.doctors["T1"], world.packages["A"], status=status)


def _fresh(contract_id: int) -> Contract:
    return db.session.get(Contract, contract_id, populate_existing=True)


def _history(contract_id: int) -> list[ContractEvent]:
    return db.session.scalars(sa.select(ContractEvent).where(ContractEvent.contract_id == contract_id)
                              .order_by(ContractEvent.id)).all()


def test_expiry_writes_one_history_row_per_contract_by_the_system(world):
    ended = [contract.id for contract in world.contracts.values()]
    next_year = date(local_today().year + 1, 1, 1)

    assert services.expire_ended_contracts(next_year) == len(ended)

    for contract in map(_fresh, ended):
        expiries = [e for e in _history(contract.id) if e.to_status is ContractStatus.EXPIRED]
        assert [(e.from_status, e.reason, e.account_id, e.wechat_account_id) for e in expiries] == [
            (ContractStatus.ACTIVE, services.EXPIRY_REASON, None, None)]
        assert contract.status is ContractStatus.EXPIRED and contract.ended_at == expiries[0].at


def test_expiry_leaves_alone_the_states_the_table_does_not_let_expire(world):
    cancelled = _contract_for_a_newcomer(world, "林淑珍", ContractStatus.CANCELLED)
    waiting = _contract_for_a_newcomer(world, "郑美玲", ContractStatus.PENDING_PAYMENT)
    history = {c.id: len(_history(c.id)) for c in (cancelled, waiting)}

    assert services.expire_ended_contracts(date(local_today().year + 1, 1, 1)) == len(world.contracts)

    for contract_id, status in ((cancelled.id, ContractStatus.CANCELLED), (waiting.id, ContractStatus.PENDING_PAYMENT)):
        assert _fresh(contract_id).status is status and len(_history(contract_id)) == history[contract_id]


def test_expiry_follows_the_table_not_a_list_of_its_own(world, monkeypatch):
    waiting = _contract_for_a_newcomer(world, "郑美玲", ContractStatus.PENDING_PAYMENT)
    monkeypatch.setitem(ALLOWED_TRANSITIONS, ContractStatus.PENDING_PAYMENT,
                        ALLOWED_TRANSITIONS[ContractStatus.PENDING_PAYMENT] | {ContractStatus.EXPIRED})

    assert services.expire_ended_contracts(date(local_today().year + 1, 1, 1)) == len(world.contracts) + 1

    last = _history(waiting.id)[-1]
    assert _fresh(waiting.id).status is ContractStatus.EXPIRED
    assert (last.from_status, last.to_status) == (ContractStatus.PENDING_PAYMENT, ContractStatus.EXPIRED)


def test_a_payment_activates_its_contract_through_the_door_as_the_system(world, monkeypatch):
    contract = _contract_for_a_newcomer(world, "林淑珍", ContractStatus.PENDING_PAYMENT)
    order = factories.add(PaymentOrder(contract_id=contract.id, out_trade_no="JY20260615100000AB12CD34EF56",
                                       status=OrderStatus.CREATED, amount_fen=2000, payer_openid="o-payer",
                                       expires_at=utcnow() + timedelta(minutes=30)))
    wechatpay = SimpleNamespace(mchid="1900000001", appid="wx0000000000000000")
    through_door = []
    door = transitions.move_by_system
    monkeypatch.setattr(transitions, "move_by_system", lambda *args: through_door.append(args) or door(*args))

    payments.record_payment(wechatpay, payments.Paid(order.out_trade_no, "4200000000202606150000000001", 2000,
                                                     wechatpay.appid, wechatpay.mchid, "o-payer", None))

    assert through_door == [(contract.id, ContractStatus.ACTIVE, "个人缴费已到账")]
    contract = _fresh(contract.id)
    last = _history(contract.id)[-1]
    assert contract.status is ContractStatus.ACTIVE and contract.activated_at == last.at
    assert (last.from_status, last.to_status, last.account_id, last.wechat_account_id) == (
        ContractStatus.PENDING_PAYMENT, ContractStatus.ACTIVE, None, None)


def test_the_demo_history_is_one_the_door_could_have_written(app):
    seed.seed_demo()
    statuses = dict(db.session.execute(sa.select(Contract.id, Contract.status)).all())
    chains = defaultdict(list)
    for event in db.session.scalars(sa.select(ContractEvent).order_by(ContractEvent.contract_id, ContractEvent.id)):
        chains[event.contract_id].append(event)

    assert statuses and set(chains) == set(statuses)
    for contract_id, chain in chains.items():
        assert chain[0].from_status is None and chain[0].to_status in LIVE_STATES
        assert all(later.from_status is earlier.to_status and can_transition(later.from_status, later.to_status)
                   for earlier, later in zip(chain, chain[1:]))
        assert chain[-1].to_status is statuses[contract_id]
        # Expiry is the system's: no account, as the door records it.
        assert all(e.account_id is None and e.wechat_account_id is None
                   for e in chain if e.to_status is ContractStatus.EXPIRED)
