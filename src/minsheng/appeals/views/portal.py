"""Citizen portal views (placeholder until the portal lands)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "appeals/portal/home.html")
