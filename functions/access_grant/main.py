"""access_grant: redeem a per-lead access link."""

import flask
import functions_framework
from factoryops import edge, grants

ENDPOINT = edge.ready(grants.ENDPOINT)


@functions_framework.http
def access_grant(request: flask.Request) -> flask.Response:
    return edge.serve(request, ENDPOINT)
