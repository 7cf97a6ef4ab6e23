from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "odiadev.provenance"
    label = "provenance"
    verbose_name = "Provenance"
