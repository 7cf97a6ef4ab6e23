"""manage.py lifecycle_policy [--apply]: show (or, with --apply, do) what the lifecycle policy deletes."""

from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat

from ops.lifecycle import CATEGORIES, lifecycle_run


class Command(BaseCommand):
    help = (
        "Delete unused cloned voices, audio past its plan's retention, expired consent evidence and challenges, "
        "and orphaned files. A dry run (nothing changes) unless --apply. Each run is stored as a LifecycleReport."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Delete for real (default: a dry run).")

    def handle(self, *args, apply: bool, **options):
        report = lifecycle_run(apply=apply, trigger="command")
        if apply:
            self.stdout.write("Lifecycle policy applied.")
        else:
            self.stdout.write("Lifecycle policy, DRY RUN: nothing was changed. Run with --apply to delete.")
        verb = "freed" if apply else "would free"
        self.stdout.write(f"{'category':<20} {'items':>8} {verb:>12} {'kept (in use)':>14}")
        for name in CATEGORIES:
            result = report.results[name]
            self.stdout.write(
                f"{name:<20} {result['items']:>8} {filesizeformat(result['bytes']):>12} {result['kept_referenced']:>14}"
            )
        self.stdout.write(f"{'total':<20} {report.items_total:>8} {filesizeformat(report.bytes_total):>12}")
        self.stdout.write(f"Report {report.pk} stored (admin: Operations > Lifecycle reports).")
