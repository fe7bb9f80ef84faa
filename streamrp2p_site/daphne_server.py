"""daphne with an access log that never prints the hook secret: ``python -m streamrp2p_site.daphne_server``
takes daphne's own arguments (``manage.py serve`` and ``manage.py web --server daphne`` run it).

daphne writes its access log (on by default, to stdout) straight to a stream, not through logging,
with each request's full target: ``POST /hooks/srs?secret=…`` on every SRS callback. Its command
line builds the log writer from the name ``AccessLogGenerator`` in ``daphne.cli``; this launcher puts
a redacting one under that name, then runs daphne's command line unchanged.
"""

from __future__ import annotations

from typing import Any

import daphne.cli
from daphne.access import AccessLogGenerator

from streamrp2p_site.redaction import redact_target


class RedactingAccessLog(AccessLogGenerator):
    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        cleaned = {name: redact_target(value) if isinstance(value, str) else value for name, value in details.items()}
        super().__call__(protocol, action, cleaned)


def main() -> None:
    daphne.cli.AccessLogGenerator = RedactingAccessLog
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
