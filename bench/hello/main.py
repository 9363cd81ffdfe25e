"""Baselines for cold start and memory: the smallest functions-framework functions."""

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> str:
    return "Hello, World!"


@functions_framework.http
def hello_firestore(request: flask.Request) -> str:
    """Hello-world that also writes one Firestore document: about the least that any of
    the functions does, to show how much of a cold start is the client library."""
    from google.cloud import firestore

    firestore.Client().collection("hello").document("world").set({"hello": "world"})
    return "Hello, Firestore!"
