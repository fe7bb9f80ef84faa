from django.urls import path

from accounts import views

urlpatterns = [
    path("accounts/invite/<str:token>", views.accept_invite, name="accept-invite"),
]
