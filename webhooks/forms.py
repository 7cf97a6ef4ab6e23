from django import forms

from .models import EventType


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(max_length=2000, widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks"}))
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=EventType.choices, widget=forms.CheckboxSelectMultiple, initial=list(EventType.values)
    )
