"""contact_submit: the site's contact form."""

import flask
import functions_framework
from factoryops import contact, edge

ENDPOINT = edge.ready(contact.ENDPOINT)


@functions_framework.http
def contact_submit(request: flask.Request) -> flask.Response:
    return edge.serve(request, ENDPOINT)
