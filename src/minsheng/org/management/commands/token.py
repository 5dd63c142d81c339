"""Manage integration tokens: ``minsheng manage token create|list|revoke``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from minsheng.org.models import ApiToken, OrgUnit
from minsheng.org.services import create_api_token, revoke_api_token


class Command(BaseCommand):
    help = "Create, list or revoke API tokens of integrations (telephony, mini-program)."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a token acting for a unit")
        create.add_argument("--unit", required=True, help="unit code, e.g. 330100")
        create.add_argument("--name", required=True, help="what uses it, e.g. 12345 话务系统")
        sub.add_parser("list", help="list tokens")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "create":
            unit = OrgUnit.objects.filter(code=options["unit"], is_active=True).first()
            if unit is None:
                raise CommandError(f"no active unit with code {options['unit']}")
            token, secret = create_api_token(name=options["name"], unit=unit, actor=None)
            self.stdout.write(f"token {token.prefix} for {unit.name}; the secret is shown once:")
            self.stdout.write(secret)
        elif action == "list":
            for token in ApiToken.objects.select_related("unit").order_by("created_at"):
                state = "revoked" if token.revoked_at else "active"
                self.stdout.write(f"{token.prefix}  {state:8}  {token.unit.code}  {token.name}")
        else:
            token = ApiToken.objects.filter(prefix=options["prefix"]).first()
            if token is None:
                raise CommandError(f"no token with prefix {options['prefix']}")
            if token.revoked_at is None:
                revoke_api_token(token=token, actor=None)
            self.stdout.write(f"revoked {token.prefix}")
