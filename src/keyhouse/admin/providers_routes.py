"""``/api/v1/providers``: the provider catalog, as the UI's forms need it."""

from __future__ import annotations

from fastapi import APIRouter

from keyhouse.admin.deps import AdminDep
from keyhouse.admin.schemas import AuthMethodView, FieldView, ProviderList, ProviderView
from keyhouse.providers.catalog import PROVIDERS, FieldSpec

router = APIRouter(prefix="/api/v1")


def _field(f: FieldSpec) -> FieldView:
    return FieldView(
        name=f.name,
        label=f.label,
        required=f.required,
        secret=f.secret,
        kind=f.kind,
        placeholder=f.placeholder,
        help=f.help,
        default=f.default,
    )


@router.get("/providers", response_model=ProviderList, tags=["providers"])
def list_providers(admin: AdminDep) -> ProviderList:
    return ProviderList(
        providers=[
            ProviderView(
                id=p.id,
                display_name=p.display_name,
                chat=p.chat,
                embeddings=p.embeddings,
                default_base_url=p.default_base_url,
                auth_methods=[
                    AuthMethodView(
                        id=m.id,
                        label=m.label,
                        ambient=m.ambient,
                        notice=m.notice,
                        secret_fields=[_field(f) for f in m.secret_fields],
                        config_fields=[_field(f) for f in m.config_fields],
                    )
                    for m in p.auth_methods
                ],
            )
            for p in PROVIDERS
        ]
    )
