"""Before entries become unique regardless of case (0014): where an account has several entries whose words
differ only in case, keep the one the matcher applied and delete the others.

textnorm.pronunciation orders entries of one length by (case-sensitive first, whole-word first, word, replacement)
and applies the first that matches, so the kept entry is the first in that order: for the texts it matched,
what is spoken does not change. Each deletion is logged (warning) for the operator to tell the customer."""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)


def _matcher_order(entry):
    return (-len(entry.word), not entry.case_sensitive, not entry.whole_word, entry.word, entry.replacement)


def drop_case_duplicates(apps, schema_editor):
    Pronunciation = apps.get_model("synthesis", "Pronunciation")
    groups = {}
    for entry in Pronunciation.objects.only("id", "user_id", "word", "replacement", "case_sensitive", "whole_word"):
        groups.setdefault((entry.user_id, entry.word.lower()), []).append(entry)
    dropped = []
    for entries in groups.values():
        if len(entries) > 1:
            kept, *others = sorted(entries, key=_matcher_order)
            dropped += [(other.user_id, other.word, kept.word) for other in others]
            Pronunciation.objects.filter(pk__in=[other.pk for other in others]).delete()
    for user_id, word, kept in dropped:
        logger.warning("pronunciation %r of user %s deleted: %r is the same word in another case", word, user_id, kept)


class Migration(migrations.Migration):
    dependencies = [("synthesis", "0012_idempotency_key")]

    operations = [migrations.RunPython(drop_case_duplicates, migrations.RunPython.noop)]
