"""manage.py create_api_token --shop <code> --name <name> --scopes read,write: the token on the last line."""

from django.core.management.base import BaseCommand, CommandError

from api import tokens
from shop.errors import DomainError
from shop.models import Shop


class Command(BaseCommand):
    help = "Create an API token for a shop. The token is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="the shop's code")
        parser.add_argument("--name", required=True, help="what the token is for, e.g. the ERP's name")
        parser.add_argument("--scopes", default="read", help="read, or read,write")

    def handle(self, *args, shop, name, scopes, **options):
        found = Shop.objects.filter(code=shop).first()
        if found is None:
            raise CommandError(f"No shop with the code {shop!r}.")
        try:
            token, secret = tokens.create_api_token(shop=found, name=name, scopes=scopes)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Token {token.name!r} for {found.code} ({token.scopes}), shown only now:")
        self.stdout.write(secret)
