"""The baseline for cold start and memory: the smallest functions-framework function."""

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> str:
    return "Hello, World!"
