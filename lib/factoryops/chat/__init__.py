"""chat_message: a visitor's chat with the team.

- `thread`: sessions and their messages (ids, ordering, appending, reading);
- `forward`: the first visitor message's email and CRM row;
- `nudge`: the email that tells the team a visitor's later message waits;
- `endpoint`: the visitor's HTTP side (start, post, poll);
- `team`: the team's side (find, list, reply, close), for `siteadmin` and the console.

The session document's id is the session id, a bearer secret kept by the visitor's
browser: it is never logged, never stored in a field and never put in a URL. Log lines,
the email, the CRM row and the team's tools name a session by its random `lead_id`.

Each module is imported by name, so a caller loads only what it uses: the console's first
request needs `team`, not the visitor's endpoint.
"""
