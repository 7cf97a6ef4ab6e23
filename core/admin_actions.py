"""An admin action that asks for a reason first (blocking is audited: who, and why)."""

from django import forms
from django.template.response import TemplateResponse


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="Recorded with who.")


def reason_or_form(modeladmin, request, queryset, *, action: str, question: str, submit_label: str):
    """The reason once the operator has given one, else the page that asks for it (a TemplateResponse)."""
    if request.POST.get("apply"):
        form = ReasonForm(request.POST)
        if form.is_valid():
            return form.cleaned_data["reason"].strip()
    else:
        form = ReasonForm()
    return TemplateResponse(
        request,
        "admin/reason_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": question,
            "question": question,
            "queryset": queryset,
            "form": form,
            "action": action,
            "submit_label": submit_label,
            "opts": modeladmin.model._meta,
        },
    )
