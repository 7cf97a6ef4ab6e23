from django import forms


class SignupForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)
