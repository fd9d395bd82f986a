from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .forms import ApiTokenForm, SignUpForm


@login_not_required
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The user's API tokens: make one (shown once, here), see when each was last used, revoke."""
    from apps.api.models import ApiToken

    user = request.user
    assert isinstance(user, User)  # LoginRequiredMiddleware lets no one else in
    form = ApiTokenForm(request.POST or None)
    new_token = ""
    if request.method == "POST" and form.is_valid():
        _, new_token = ApiToken.issue(user, form.cleaned_data["name"])
        form = ApiTokenForm()
    rows = ApiToken.objects.filter(user=user)
    return render(request, "accounts/tokens.html", {"form": form, "tokens": rows, "new_token": new_token})


@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    from apps.api.models import ApiToken

    get_object_or_404(ApiToken, pk=token_id, user=request.user).revoke()
    messages.success(request, "The token is revoked: requests with it now get 401.")
    return redirect("api-tokens")
