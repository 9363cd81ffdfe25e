"""chat_message: the site's chat with the team."""

import flask
import functions_framework
from factoryops import chat, edge


@functions_framework.http
def chat_message(request: flask.Request) -> flask.Response:
    return edge.serve(request, chat.ENDPOINT)
