"""Switches, their history, the IP blocklist and abuse flags move here from `ops`, keeping their tables: a state-only
migration (the database is not touched), paired with `ops.0006`."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("ops", "0005_abuse_blocklist_and_flags"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Switch",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("name", models.SlugField(max_length=64, unique=True)),
                        ("enabled", models.BooleanField(default=True)),
                        ("reason", models.TextField(blank=True, help_text="Why it is in its current state.")),
                        (
                            "changed_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ops_switch",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="SwitchChange",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("enabled", models.BooleanField()),
                        ("reason", models.TextField()),
                        (
                            "actor",
                            models.CharField(help_text="The operator's email, or the automatic actor.", max_length=100),
                        ),
                        ("changed_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "changed_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "switch",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="changes",
                                to="controls.switch",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ops_switchchange",
                        "ordering": ["-changed_at"],
                    },
                ),
                migrations.CreateModel(
                    name="AbuseFlag",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("rate_spike", "Request rate spike"),
                                    ("storage_spike", "Storage growth spike"),
                                    ("consent_attempts", "Many consent challenges from one address"),
                                    ("profiles_per_ip", "Many voice profiles from one address"),
                                ],
                                max_length=32,
                            ),
                        ),
                        (
                            "subject_type",
                            models.CharField(
                                choices=[("api_key", "API key"), ("user", "User"), ("ip", "IP address")], max_length=16
                            ),
                        ),
                        (
                            "subject_id",
                            models.CharField(help_text="API key prefix, user public id, or IP address.", max_length=64),
                        ),
                        ("evidence", models.JSONField(default=dict)),
                        ("dedupe_key", models.CharField(max_length=200, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[("open", "Open"), ("dismissed", "Dismissed"), ("actioned", "Actioned")],
                                default="open",
                                max_length=16,
                            ),
                        ),
                        ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                        ("review_note", models.TextField(blank=True)),
                        (
                            "reviewed_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ops_abuseflag",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(fields=["status", "-created_at"], name="abuseflag_status_created"),
                            models.Index(fields=["subject_type", "subject_id"], name="abuseflag_subject"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="IpBlock",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "network",
                            models.CharField(
                                help_text="One address (203.0.113.7, 2001:db8::1) or a CIDR range (203.0.113.0/24, 2001:db8::/48).",
                                max_length=64,
                                unique=True,
                            ),
                        ),
                        ("reason", models.TextField()),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("expires_at", models.DateTimeField(blank=True, help_text="Empty: permanent.", null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "IP block",
                        "db_table": "ops_ipblock",
                        "ordering": ["-created_at"],
                        "indexes": [models.Index(fields=["expires_at"], name="ipblock_expires")],
                    },
                ),
            ],
        ),
    ]
