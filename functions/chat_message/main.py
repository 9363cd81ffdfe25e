"""chat_message: the site's chat with the team."""

import flask
import functions_framework
from factoryops import edge
from factoryops.chat import endpoint

ENDPOINT = edge.ready(endpoint.ENDPOINT)


@functions_framework.http
def chat_message(request: flask.Request) -> flask.Response:
    return edge.serve(request, ENDPOINT)
