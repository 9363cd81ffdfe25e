"""retention_sweep: retention and delivery retries, for Cloud Scheduler only."""

import flask
import functions_framework
from factoryops import edge, sweep

ENDPOINT = edge.ready(sweep.ENDPOINT)


@functions_framework.http
def retention_sweep(request: flask.Request) -> flask.Response:
    return edge.serve(request, ENDPOINT)
