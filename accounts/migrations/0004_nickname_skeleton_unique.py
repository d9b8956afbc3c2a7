from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_nickname_skeleton"),
    ]

    operations = [
        migrations.AlterField(
            model_name="member",
            name="nickname_skeleton",
            field=models.TextField(editable=False, unique=True),
        ),
    ]
