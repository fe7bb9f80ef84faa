from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from streams.api import streams_with_live_state


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"streams": streams_with_live_state()})
