"""forward_record: a stored record's deliveries, for Eventarc's Firestore triggers only."""

import functions_framework
from cloudevents.http import CloudEvent
from factoryops import forwarding

forwarding.ready()


@functions_framework.cloud_event
def forward_record(event: CloudEvent) -> None:
    forwarding.receive(event)
