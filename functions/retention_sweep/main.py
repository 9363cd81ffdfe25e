"""retention_sweep: retention and delivery retries for Cloud Scheduler."""

import flask
import functions_framework
from factoryops import sweep

# Refuse to start, rather than serve unauthenticated, when the caller check is
# misconfigured (SWEEP_AUTH=off outside the emulator, or no audience or invoker).
sweep.check_startup()


@functions_framework.http
def retention_sweep(request: flask.Request) -> flask.Response:
    return sweep.serve(request)
