"""Use cases for reading service packages (reference data of a region)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import selectinload

from server.common.paging import Page, PageRequest, paginate
from server.extensions import db
from server.identity.roles import MANAGING_ROLES, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.packages.models import PackageVersion, ServicePackage


@dataclass(frozen=True)
class PackageView:
    id: int
    code: str
    name: str
    description: str
    versions: list[PackageVersion]


def _with_versions(packages: list[ServicePackage], actor: Actor) -> list[PackageView]:
    versions = db.session.scalars(
        scoped_select(PackageVersion, actor)
        .where(PackageVersion.package_id.in_([p.id for p in packages]))
        .options(selectinload(PackageVersion.items))
        .order_by(PackageVersion.version)).all()
    by_package: dict[int, list[PackageVersion]] = {}
    for version in versions:
        by_package.setdefault(version.package_id, []).append(version)
    return [PackageView(p.id, p.code, p.name, p.description, by_package.get(p.id, [])) for p in packages]


@allowed(*MANAGING_ROLES, Role.RESIDENT)
def list_packages(actor: Actor, page: PageRequest) -> Page[PackageView]:
    result = paginate(scoped_select(ServicePackage, actor).order_by(ServicePackage.id), page)
    return Page(_with_versions(result.items, actor), result.total, result.page, result.per_page)


@allowed(*MANAGING_ROLES)
def get_package(actor: Actor, package_id: int) -> PackageView:
    return _with_versions([get_visible(ServicePackage, package_id, actor)], actor)[0]
