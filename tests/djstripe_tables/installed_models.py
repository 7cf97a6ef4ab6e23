"""The installed dj-stripe models' tables, created in one migration (see this package's docstring)."""

from django.apps import apps as installed
from django.conf import settings
from django.db import migrations
from django.db.migrations.state import ModelState


class CreateInstalledModels(migrations.operations.base.Operation):
    """Add the app's installed models to the migration state and create their tables (foreign keys once all
    exist: the schema editor defers them to the end of the migration)."""

    reversible = False

    def state_forwards(self, app_label, state):
        for model in installed.get_app_config(app_label).get_models():
            state.add_model(ModelState.from_model(model))

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        # The models as the migration state renders them, as dj-stripe's migrations create them (their many-to-many
        # tables' ids, say, follow DEFAULT_AUTO_FIELD there).
        for model in installed.get_app_config(app_label).get_models():
            schema_editor.create_model(to_state.apps.get_model(app_label, model._meta.model_name))

    def describe(self):
        return "Create the tables of the installed models"


class Migration(migrations.Migration):
    initial = True
    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]
    operations = [CreateInstalledModels()]
