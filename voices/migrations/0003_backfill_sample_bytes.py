"""Record the size of each existing voice sample (it counts towards the account's storage quota)."""

from django.core.files.storage import default_storage
from django.db import migrations


def _size(name: str) -> int | None:
    try:
        return default_storage.size(name) if name else 0
    except Exception:  # a missing file stays unknown (counted as 0)
        return None


def backfill(apps, schema_editor):
    VoiceProfile = apps.get_model("voices", "VoiceProfile")
    for profile_id, name in VoiceProfile.objects.filter(sample_bytes__isnull=True).values_list("pk", "sample"):
        size = _size(name)
        if size is not None:
            VoiceProfile.objects.filter(pk=profile_id).update(sample_bytes=size)


class Migration(migrations.Migration):
    dependencies = [("voices", "0002_sample_bytes_and_consent_audio_deleted_at")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
