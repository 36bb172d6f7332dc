from django.db import migrations

# shop.permissions.TOKEN_SETS, as it was when this migration was written.
TOKEN_SETS = {"read": [], "read,write": ["aftersales_handling", "shop_admin"]}


def give_token_users_their_sets(apps, schema_editor):
    # Tokens made before the permission sets existed act as they did: a write token decides and
    # manages its webhook endpoints through the services, which now check those sets.
    ApiToken = apps.get_model("api", "ApiToken")
    Group = apps.get_model("auth", "Group")
    for token in ApiToken.objects.select_related("user"):
        token.user.groups.add(*Group.objects.filter(name__in=TOKEN_SETS.get(token.scopes, [])))


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0004_backfill_change_feed"),
        ("shop", "0005_staff_permission_sets"),
    ]

    operations = [migrations.RunPython(give_token_users_their_sets, migrations.RunPython.noop)]
