"""chat_message: the site's chat with the team."""

import flask
import functions_framework
from factoryops import chat, edge

ENDPOINT = edge.ready(chat.ENDPOINT)


@functions_framework.http
def chat_message(request: flask.Request) -> flask.Response:
    return edge.serve(request, ENDPOINT)
