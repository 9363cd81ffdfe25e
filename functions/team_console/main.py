"""team_console: the team's inbox and tools, behind Google sign-in."""

import flask
import functions_framework
from factoryops import console, edge

ENDPOINT = edge.ready(console.ENDPOINT)


@functions_framework.http
def team_console(request: flask.Request) -> flask.Response:
    return edge.serve(request, ENDPOINT)
