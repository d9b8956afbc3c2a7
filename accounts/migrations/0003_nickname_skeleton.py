"""Member.nickname_skeleton: the TR39 skeleton of the nickname key.

Existing members get theirs here; 0004 makes the column unique (PostgreSQL
refuses to alter a table with pending trigger events from the same
transaction's updates). Two existing members whose nicknames already
look alike cannot both hold the same skeleton: the earlier one keeps it, each
later one gets it suffixed with a separator no nickname can contain and its own
id (still unique, and matching no new nickname), and the migration names them
so that an administrator can decide what to do.
"""

from django.db import migrations, models

# A unit separator: nicknames refuse control characters, so no skeleton of a
# real nickname contains one.
SEPARATOR = "\x1f"


def fill_skeletons(apps, schema_editor):
    from accounts.nicknames import nickname_skeleton

    Member = apps.get_model("accounts", "Member")
    seen = {}
    for member in Member.objects.order_by("pk").only("pk", "nickname"):
        skeleton = nickname_skeleton(member.nickname)
        if skeleton in seen:
            print(
                f"\n  Member {member.pk} ({member.nickname!r}) looks like member "
                f"{seen[skeleton]}: kept, with a skeleton of its own."
            )
            skeleton = f"{skeleton}{SEPARATOR}{member.pk}"
        else:
            seen[skeleton] = member.pk
        Member.objects.filter(pk=member.pk).update(nickname_skeleton=skeleton)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_block"),
    ]

    operations = [
        migrations.AddField(
            model_name="member",
            name="nickname_skeleton",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.RunPython(fill_skeletons, migrations.RunPython.noop),
    ]
