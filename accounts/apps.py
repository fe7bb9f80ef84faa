from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and invites"

    def ready(self) -> None:
        from accounts import login_throttle  # noqa: F401  (connects the failed/succeeded login receivers)
